"""The embedded identity endpoint (Cloud(auth="keystone")): Keystone v3's
discovery, tokens, catalog and listings, and the compute and placement APIs
validating its tokens through keystonemiddleware."""
import time

import pytest
import requests

from compute_core import Cloud, exception
from compute_core.testing import api_request, first_image_id, wait_for_server


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    state = tmp_path_factory.mktemp("identity")
    with Cloud(state_dir=str(state), auth="keystone",
               users=[("ops", "ops-pw", "system", ["admin", "reader"]),
                      "carol:carol-pw:demo:reader"]) as c:
        yield c


def _auth(cloud, user, password, scope=None, methods=None, query=""):
    identity = {"methods": methods or ["password"],
                "password": {"user": {"name": user, "domain": {"name": "Default"},
                                      "password": password}}}
    body = {"auth": {"identity": identity}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return requests.post(cloud.identity_url + "/v3/auth/tokens" + query, json=body, timeout=10)


def _project(name):
    return {"project": {"name": name, "domain": {"id": "default"}}}


def _get(cloud, path, token, **headers):
    return requests.get(cloud.identity_url + path,
                        headers={"X-Auth-Token": token, **headers}, timeout=10)


def test_version_discovery(cloud):
    resp = requests.get(cloud.identity_url + "/", timeout=10)
    assert resp.status_code == 300
    (version,) = resp.json()["versions"]["values"]
    assert version["id"].startswith("v3.") and version["status"] == "stable"
    assert version["links"][0]["href"] == cloud.identity_url + "/v3/"
    resp = requests.get(cloud.identity_url + "/v3", timeout=10)
    assert resp.status_code == 200 and resp.json()["version"]["id"] == version["id"]


def test_password_token_scoped_to_a_project_has_roles_and_catalog(cloud):
    resp = _auth(cloud, "demo", "demo", _project("demo"))
    assert resp.status_code == 201, resp.text
    assert resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "demo" and token["project"]["name"] == "demo"
    assert {r["name"] for r in token["roles"]} == {"member", "reader"}
    assert token["expires_at"] > token["issued_at"]
    services = {s["type"]: s for s in token["catalog"]}
    assert set(services) == {"compute", "placement", "identity", "image"}
    for stype, url in (("compute", cloud.compute_url), ("placement", cloud.placement_url),
                       ("identity", cloud.identity_url + "/v3"), ("image", cloud.image_url)):
        endpoints = services[stype]["endpoints"]
        assert {e["interface"] for e in endpoints} == {"public", "internal", "admin"}
        assert {e["url"] for e in endpoints} == {url}
    resp = _auth(cloud, "demo", "demo", _project("demo"), query="?nocatalog")
    assert "catalog" not in resp.json()["token"]


@pytest.mark.parametrize("user,password,scope,status", [
    ("demo", "wrong", _project("demo"), 401),
    ("nobody", "demo", _project("demo"), 401),
    ("demo", "demo", _project("admin"), 401),       # no role there
    ("demo", "demo", _project("missing"), 401),
    ("demo", "demo", {"system": {"all": True}}, 401),
    ("demo", "demo", {"system": {"all": "yes"}}, 400),
    ("demo", "demo", {"domain": {"id": "default"}}, 401),
])
def test_refused_authentications(cloud, user, password, scope, status):
    resp = _auth(cloud, user, password, scope)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == status
    assert "X-Subject-Token" not in resp.headers


@pytest.mark.parametrize("body,field", [
    ({}, "auth"),
    ({"auth": {}}, "auth.identity"),
    ({"auth": {"identity": {"methods": ["kerberos"]}}}, "auth.identity.methods"),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo"}}}}},
     "auth.identity.password.user.password"),
    ({"auth": {"identity": {"methods": ["token"], "token": {"id": 5}}}},
     "auth.identity.token.id"),
])
def test_malformed_requests_are_400_naming_the_field(cloud, body, field):
    resp = requests.post(cloud.identity_url + "/v3/auth/tokens", json=body, timeout=10)
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["error"]["message"]
    resp = requests.post(cloud.identity_url + "/v3/auth/tokens", data=b"{not json",
                         headers={"Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 400


def test_system_scope_and_token_method(cloud):
    resp = _auth(cloud, "ops", "ops-pw", {"system": {"all": True}})
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["system"] == {"all": True} and "project" not in token
    assert {r["name"] for r in token["roles"]} == {"admin", "reader"}
    # An unscoped token of demo, exchanged for one scoped to demo.
    unscoped = _auth(cloud, "carol", "carol-pw", "unscoped")
    assert unscoped.status_code == 201
    assert "roles" not in unscoped.json()["token"]
    resp = requests.post(cloud.identity_url + "/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"],
                     "token": {"id": unscoped.headers["X-Subject-Token"]}},
        "scope": _project("demo")}}, timeout=10)
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["methods"] == ["token"] and token["project"]["name"] == "demo"
    assert [r["name"] for r in token["roles"]] == ["reader"]
    assert token["expires_at"] <= unscoped.json()["token"]["expires_at"]


def test_validation_and_revocation(cloud):
    demo = _auth(cloud, "demo", "demo", _project("demo")).headers["X-Subject-Token"]
    carol = _auth(cloud, "carol", "carol-pw", _project("demo")).headers["X-Subject-Token"]
    admin = cloud.admin_token
    resp = _get(cloud, "/v3/auth/tokens", admin, **{"X-Subject-Token": demo})
    assert resp.status_code == 200 and resp.json()["token"]["user"]["name"] == "demo"
    assert resp.headers["X-Subject-Token"] == demo
    assert requests.head(cloud.identity_url + "/v3/auth/tokens", timeout=10, headers={
        "X-Auth-Token": demo, "X-Subject-Token": demo}).status_code == 200
    # Another user's token is not the member's business.
    assert _get(cloud, "/v3/auth/tokens", carol,
                **{"X-Subject-Token": demo}).status_code == 403
    assert _get(cloud, "/v3/auth/tokens", "bogus",
                **{"X-Subject-Token": demo}).status_code == 401
    assert _get(cloud, "/v3/auth/tokens", admin,
                **{"X-Subject-Token": "bogus"}).status_code == 404
    # Revoked before the compute API ever saw it: refused there too.
    resp = requests.delete(cloud.identity_url + "/v3/auth/tokens", timeout=10,
                           headers={"X-Auth-Token": demo, "X-Subject-Token": demo})
    assert resp.status_code == 204
    assert _get(cloud, "/v3/auth/tokens", admin,
                **{"X-Subject-Token": demo}).status_code == 404
    assert api_request(cloud, "GET", "/flavors", token=demo).status_code == 401
    assert api_request(cloud, "GET", "/flavors", token=carol).status_code == 200


def test_listings(cloud):
    admin = cloud.admin_token
    projects = {p["name"] for p in _get(cloud, "/v3/projects", admin).json()["projects"]}
    assert {"admin", "demo", "service"} <= projects
    users = _get(cloud, "/v3/users", admin).json()["users"]
    assert {"admin", "demo", "carol", "ops"} <= {u["name"] for u in users}
    assert [p["name"] for p in _get(cloud, "/v3/projects?name=demo",
                                    admin).json()["projects"]] == ["demo"]
    roles = {r["name"] for r in _get(cloud, "/v3/roles", cloud.member_token).json()["roles"]}
    assert {"admin", "member", "reader"} <= roles
    member = cloud.member_token
    assert _get(cloud, "/v3/projects", member).status_code == 403
    assert _get(cloud, "/v3/users", member).status_code == 403
    mine = _get(cloud, "/v3/auth/projects", member).json()["projects"]
    assert [p["name"] for p in mine] == ["demo"]
    demo_id = next(u["id"] for u in users if u["name"] == "demo")
    assert [p["name"] for p in _get(cloud, f"/v3/users/{demo_id}/projects",
                                    member).json()["projects"]] == ["demo"]
    admin_id = next(u["id"] for u in users if u["name"] == "admin")
    assert _get(cloud, f"/v3/users/{admin_id}/projects", member).status_code == 403
    assert _get(cloud, "/v3/nothing", member).status_code == 404


def test_application_credentials(cloud):
    member = cloud.member_token
    user_id = _get(cloud, "/v3/auth/tokens", member,
                   **{"X-Subject-Token": member}).json()["token"]["user"]["id"]
    creds = f"{cloud.identity_url}/v3/users/{user_id}/application_credentials"
    resp = requests.post(creds, headers={"X-Auth-Token": member}, timeout=10, json={
        "application_credential": {"name": "ci", "roles": [{"name": "reader"}]}})
    assert resp.status_code == 201, resp.text
    cred = resp.json()["application_credential"]
    assert [r["name"] for r in cred["roles"]] == ["reader"]
    for ref in ({"id": cred["id"]},
                {"name": "ci", "user": {"name": "demo", "domain": {"name": "Default"}}}):
        resp = requests.post(cloud.identity_url + "/v3/auth/tokens", timeout=10, json={
            "auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {**ref,
                                                             "secret": cred["secret"]}}}})
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        assert token["project"]["name"] == "demo"
        assert [r["name"] for r in token["roles"]] == ["reader"]
        assert token["application_credential"]["id"] == cred["id"]
    app_token = resp.headers["X-Subject-Token"]
    assert api_request(cloud, "GET", "/flavors", token=app_token).status_code == 200
    bad = requests.post(cloud.identity_url + "/v3/auth/tokens", timeout=10, json={
        "auth": {"identity": {"methods": ["application_credential"],
                              "application_credential": {"id": cred["id"],
                                                         "secret": "wrong"}}}})
    assert bad.status_code == 401
    assert requests.post(creds, headers={"X-Auth-Token": member}, timeout=10, json={
        "application_credential": {"name": "ci"}}).status_code == 409
    listed = requests.get(creds, headers={"X-Auth-Token": member}, timeout=10).json()
    assert [c["name"] for c in listed["application_credentials"]] == ["ci"]
    assert "secret" not in listed["application_credentials"][0]
    assert requests.delete(f"{creds}/{cred['id']}", headers={"X-Auth-Token": member},
                           timeout=10).status_code == 204
    assert _get(cloud, "/v3/auth/tokens", cloud.admin_token,
                **{"X-Subject-Token": app_token}).status_code == 404


def test_boot_through_keystonemiddleware_with_sdk(cloud):
    """A member boots with an openstacksdk password session (catalog
    look-ups, keystonemiddleware in the compute API, the services' own
    keystone-authenticated placement client)."""
    conn = cloud.connection()
    image = first_image_id(cloud, token=cloud.member_token)
    server = conn.compute.create_server(name="ks", image_id=image, flavor_id="1",
                                        networks="none")
    server = conn.compute.wait_for_server(server, wait=30, interval=0.1)
    assert server.status == "ACTIVE"
    demo_project = conn.current_project_id
    assert server.project_id == demo_project
    usages = requests.get(f"{cloud.placement_url}/usages?project_id={demo_project}",
                          headers={"X-Auth-Token": cloud.admin_token,
                                   "OpenStack-API-Version": "placement 1.9"},
                          timeout=10).json()["usages"]
    assert usages["VCPU"] == 1
    assert requests.get(cloud.placement_url + "/resource_providers", timeout=10, headers={
        "X-Auth-Token": cloud.member_token}).status_code == 403
    conn.compute.delete_server(server)
    wait_for_server(cloud, server.id, ("DELETED",))


def test_tokens_outlive_a_restart_and_expire(tmp_path):
    with Cloud(state_dir=str(tmp_path), auth="keystone", hosts=0) as first:
        token = first.member_token
    with Cloud(state_dir=str(tmp_path), auth="keystone", hosts=0,
               overrides={"identity.token_expiration": 1}) as second:
        resp = _get(second, "/v3/auth/tokens", token, **{"X-Subject-Token": token})
        assert resp.status_code == 200, resp.text
        short = _auth(second, "demo", "demo", _project("demo")).headers["X-Subject-Token"]
        assert _get(second, "/v3/auth/tokens", token,
                    **{"X-Subject-Token": short}).status_code == 200
        time.sleep(1.2)
        assert _get(second, "/v3/auth/tokens", token,
                    **{"X-Subject-Token": short}).status_code == 404


def test_a_malformed_user_declaration_stops_the_start(tmp_path):
    cloud = Cloud(state_dir=str(tmp_path), auth="keystone", hosts=0, users=["alice:pw:demo"])
    with pytest.raises(exception.ConfigError, match=r"\[identity\] users: 'alice:pw:demo'"):
        cloud.start()
    assert not cloud.running
    with pytest.raises(exception.ConfigError, match="auth must be keystone or noauth2"):
        Cloud(state_dir=str(tmp_path), auth="ldap", hosts=0).start()
