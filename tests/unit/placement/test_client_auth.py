"""[placement]'s service user is keystoneauth1's: auth_type names a plugin
whose options are read from [placement], the session's options too."""
import pytest
from keystoneauth1 import loading as ks_loading

from compute_core import conf as conf_mod
from compute_core import exception
from compute_core.placement_client.client import PlacementClient


def _load(tmp_path, text, **overrides):
    path = tmp_path / "compute.conf"
    path.write_text(text)
    return conf_mod.load(config_files=[str(path)], overrides=overrides)


def test_password_plugin_with_our_defaults(tmp_path):
    conf = _load(tmp_path, "[placement]\nauth_strategy = keystone\nauth_url = http://k:5000/v3\n"
                           "username = nova\npassword = secret\ncafile = /etc/ca.pem\n")
    session = PlacementClient(conf)._keystone()
    auth = session.auth
    assert type(auth).__name__ == "Password"
    assert (auth.auth_url, auth._username, auth._password) == (
        "http://k:5000/v3", "nova", "secret")
    assert (auth._project_name, auth._user_domain_name, auth._project_domain_name) == (
        "service", "Default", "Default")
    assert session.verify == "/etc/ca.pem"
    assert session.timeout == 30.0  # [placement] timeout


def test_another_plugin_reads_its_own_options(tmp_path):
    conf = _load(tmp_path, "[placement]\nauth_type = v3applicationcredential\n"
                           "auth_url = http://k:5000/v3\napplication_credential_id = ac1\n"
                           "application_credential_secret = s\n")
    auth = ks_loading.load_auth_from_conf_options(conf, "placement")
    assert type(auth).__name__ == "ApplicationCredential"
    # The same from an override, as the embedded cloud's callers give them.
    conf = conf_mod.load(overrides={"placement.auth_type": "v3applicationcredential",
                                    "placement.application_credential_id": "ac2",
                                    "placement.application_credential_secret": "s",
                                    "placement.auth_url": "http://k:5000/v3"})
    assert type(ks_loading.load_auth_from_conf_options(conf, "placement")).__name__ == \
        "ApplicationCredential"


def test_unknown_plugin_is_a_configuration_error(tmp_path):
    with pytest.raises(exception.ConfigError, match="auth_type: no keystoneauth1 plugin named "
                                                    "'nope'.*password"):
        _load(tmp_path, "[placement]\nauth_type = nope\n")


def test_missing_credentials_are_named(tmp_path):
    conf = _load(tmp_path, "[placement]\nauth_strategy = keystone\nusername = nova\n")
    with pytest.raises(exception.ConfigError, match="needs auth_url in \\[placement\\]"):
        PlacementClient(conf)._keystone()


def test_noauth2_needs_no_credentials(tmp_path):
    conf = _load(tmp_path, "[placement]\nnoauth_token = admin:admin\n")
    assert PlacementClient(conf)._token() == "admin:admin"


class _Session:
    """A keystoneauth1 session's token side: "old" until invalidated."""

    def __init__(self, fail=None):
        self.token = "old"
        self.fail = fail

    def invalidate(self):
        self.token = "new"

    def get_token(self):
        if self.fail:
            raise self.fail
        return self.token


def _placement_accepting(token, seen):
    def app(environ, start_response):
        seen.append(environ.get("HTTP_X_AUTH_TOKEN"))
        ok = environ.get("HTTP_X_AUTH_TOKEN") == token
        start_response("200 OK" if ok else "401 Unauthorized",
                       [("Content-Type", "application/json")])
        return [b"{}"]

    return app


def test_a_refused_token_is_replaced_once(tmp_path):
    conf = _load(tmp_path, "[placement]\nauth_strategy = keystone\n")
    seen = []
    client = PlacementClient(conf, app=_placement_accepting("new", seen))
    client._ks_session = _Session()
    assert client.request("GET", "/resource_providers").status_code == 200
    assert seen == ["old", "new"]
    # Refused again with the new one: the 401 is the answer, not a loop.
    seen.clear()
    client = PlacementClient(conf, app=_placement_accepting("other", seen))
    client._ks_session = _Session()
    assert client.request("GET", "/resource_providers").status_code == 401
    assert seen == ["old", "new"]


def test_keystone_failure_is_a_placement_error(tmp_path):
    from keystoneauth1 import exceptions as ks_exc

    from compute_core.placement_client.client import PlacementAPIError

    conf = _load(tmp_path, "[placement]\nauth_strategy = keystone\n")
    client = PlacementClient(conf, app=_placement_accepting("new", []))
    client._ks_session = _Session(fail=ks_exc.ConnectFailure("no route to Keystone"))
    with pytest.raises(PlacementAPIError, match="service user could not authenticate: "
                                                "ConnectFailure"):
        client.request("GET", "/resource_providers")
