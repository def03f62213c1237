"""compute_core.plugins: how a plugin is found, checked and built, and the
one line that says why one cannot be."""
import logging

import pytest
import stevedore
from oslo_config import cfg
from stevedore import exception as sv_exc

from compute_core import conf as conf_mod
from compute_core import exception, plugins
from compute_core.scheduler import BaseHostFilter
from compute_core.virt import ComputeDriver


class _Filter(BaseHostFilter):
    def host_passes(self, host_state, spec_obj):
        return True


def test_a_stale_entry_point_cache_is_bypassed(monkeypatch, caplog):
    # stevedore's cache keys on file times rounded to about two minutes: just
    # after a reinstall it may not list a plugin the metadata has.
    def no_matches(*args, **kwargs):
        raise sv_exc.NoMatches("No 'compute_core.virt_drivers' driver found")

    monkeypatch.setattr(stevedore, "DriverManager", no_matches)
    with caplog.at_level(logging.WARNING):
        cls = plugins.load_one(plugins.VIRT_DRIVERS, "fake")
    assert cls.__name__ == "FakeDriver"
    assert "entry-point cache" in caplog.text
    with pytest.raises(exception.PluginLoadError, match="'nope' .*: not installed; installed: "):
        plugins.load_one(plugins.VIRT_DRIVERS, "nope")


def test_the_names_of_a_distribution():
    in_tree = plugins.installed(plugins.WEIGHERS, plugins.IN_TREE)
    assert "RAMWeigher" in in_tree
    assert set(in_tree) <= set(plugins.installed(plugins.WEIGHERS))


@pytest.mark.parametrize("cls, args, reason", [
    (dict, (None,), "dict is not a BaseHostFilter (subclass compute_core.scheduler.filters."
                    "BaseHostFilter)"),
    (type("Half", (BaseHostFilter,), {}), (None,),
     "Half does not implement the abstract method(s) host_passes of BaseHostFilter"),
    (type("TwoArgs", (_Filter,), {"__init__": lambda self, conf, extra: None}), (None,),
     "its constructor TwoArgs(conf, extra) cannot be called as BaseHostFilter(conf): "
     "missing a required argument: 'extra'"),
])
def test_check_class_says_what_is_wrong(cls, args, reason):
    with pytest.raises(exception.PluginLoadError) as err:
        plugins.check_class(plugins.FILTERS, "X", cls, BaseHostFilter, args)
    assert str(err.value).startswith("cannot load plugin 'X' of group "
                                     "compute_core.scheduler.filters: ")
    assert reason in str(err.value)


def _as_plugin(monkeypatch, cls):
    monkeypatch.setattr(plugins, "load_one", lambda group, name: cls)


def test_a_plugin_option_with_a_bad_value(monkeypatch, tmp_path):
    class Sized(_Filter):
        def __init__(self, conf):
            super().__init__(conf)
            conf.register_opts([cfg.IntOpt("size", min=1)], group="sized")

    path = tmp_path / "c.conf"
    path.write_text("[sized]\nsize = 0\n")
    _as_plugin(monkeypatch, Sized)
    conf = conf_mod.load(config_files=[str(path)])
    with pytest.raises(exception.PluginLoadError,
                       match=r"bad value of its option \[sized\] size: .*0"):
        plugins.load_plugin(plugins.FILTERS, "Sized", BaseHostFilter, conf)


def test_overrides_wait_for_the_plugin_that_registers_them(monkeypatch):
    class Labelled(_Filter):
        def __init__(self, conf):
            super().__init__(conf)
            conf.register_opts([cfg.StrOpt("label")], group="labelled")

    _as_plugin(monkeypatch, Labelled)
    conf = conf_mod.load(overrides={"labelled.label": "rack-7"})
    plugin = plugins.load_plugin(plugins.FILTERS, "Labelled", BaseHostFilter, conf)
    assert plugin.conf.labelled.label == "rack-7"
    conf_mod.check_pending_overrides(conf)  # nothing left over

    conf = conf_mod.load(overrides={"nobody.label": "x"})
    with pytest.raises(exception.ConfigError, match=r"no option group \[nobody\]"):
        conf_mod.check_pending_overrides(conf)
    with pytest.raises(exception.ConfigError,
                       match=r"\[filter_scheduler\] has no option 'no_such_option'"):
        conf_mod.load(overrides={"filter_scheduler.no_such_option": 1})


def test_an_option_registered_twice_differently(monkeypatch):
    class First(_Filter):
        def __init__(self, conf):
            super().__init__(conf)
            conf.register_opts([cfg.StrOpt("label")], group="shared")

    class Second(_Filter):
        def __init__(self, conf):
            super().__init__(conf)
            conf.register_opts([cfg.IntOpt("label")], group="shared")

    conf = conf_mod.load()
    _as_plugin(monkeypatch, First)
    plugins.load_plugin(plugins.FILTERS, "First", BaseHostFilter, conf)
    _as_plugin(monkeypatch, Second)
    with pytest.raises(exception.PluginLoadError,
                       match=r"'Second' .* registers option 'label' differently from the one "
                             r"already registered in \[shared\]"):
        plugins.load_plugin(plugins.FILTERS, "Second", BaseHostFilter, conf)


def test_a_driver_is_built_with_conf_and_host():
    driver = plugins.load_plugin(plugins.VIRT_DRIVERS, "fake", ComputeDriver, conf_mod.load(),
                                 "hostX")
    assert driver.host == "hostX"


def test_plugins_list_marks_what_cannot_load():
    rows = plugins.describe_installed()
    assert all(row["status"] == "ok" for group in rows.values() for row in group)
