"""compute_core.conf.load: a fresh ConfigOpts each time; a bad value or an
unknown option fails at load with one clear line (ConfigError)."""
from __future__ import annotations

import pytest
from oslo_config import cfg

from compute_core import conf as cc_conf
from compute_core import exception


def write(tmp_path, text, name="compute.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load_error(tmp_path, text) -> str:
    with pytest.raises(exception.ConfigError) as exc:
        cc_conf.load(config_files=[write(tmp_path, text)])
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_valid_file_loads(tmp_path):
    conf = cc_conf.load(config_files=[write(tmp_path, "[DEFAULT]\nreport_interval = 5\n"
                                                     "[api]\nauth_strategy = noauth2\n")])
    assert conf.report_interval == 5
    assert conf.api.auth_strategy == "noauth2"


def test_each_load_is_independent_of_the_global_conf(tmp_path):
    first = cc_conf.load(config_files=[write(tmp_path, "[DEFAULT]\nhost = one\n", "a.conf")])
    second = cc_conf.load(config_files=[write(tmp_path, "[DEFAULT]\nhost = two\n", "b.conf")])
    assert (first.host, second.host) == ("one", "two")
    assert first is not second
    assert "host" not in cfg.CONF


def test_not_an_integer(tmp_path):
    message = load_error(tmp_path, "[DEFAULT]\nreport_interval = abc\n")
    assert "report_interval" in message


def test_below_the_minimum(tmp_path):
    assert "report_interval" in load_error(tmp_path, "[DEFAULT]\nreport_interval = 0\n")


def test_unknown_choice(tmp_path):
    message = load_error(tmp_path, "[api]\nauth_strategy = basic\n")
    assert "auth_strategy" in message


def test_unknown_option_in_a_known_section(tmp_path):
    message = load_error(tmp_path, "[api]\nauth_stratgy = noauth2\n")
    assert message == "unknown option 'auth_stratgy' in section [api]"


def test_unknown_option_in_default(tmp_path):
    assert "repport_interval" in load_error(tmp_path, "[DEFAULT]\nrepport_interval = 5\n")


def test_sections_of_other_libraries_are_theirs_to_check(tmp_path):
    conf = cc_conf.load(config_files=[write(
        tmp_path, "[keystone_authtoken]\nwww_authenticate_uri = http://k:5000\n")])
    assert conf.report_interval == 10


def test_bad_override(tmp_path):
    with pytest.raises(exception.ConfigError, match="report_interval"):
        cc_conf.load(overrides={"report_interval": "abc"})
    with pytest.raises(exception.ConfigError, match="unknown option"):
        cc_conf.load(overrides={"api.nosuch": 1})


def test_missing_file(tmp_path):
    with pytest.raises(exception.ConfigError, match="missing.conf"):
        cc_conf.load(config_files=[str(tmp_path / "missing.conf")])


def test_compute_manage_reports_a_bad_value_in_one_line(tmp_path, capsys):
    from compute_core.cmd import manage

    path = write(tmp_path, "[api]\nauth_strategy = basic\n")
    assert manage.main(["--config-file", path, "db", "version"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "auth_strategy" in err and "Traceback" not in err
