"""The Compute API's policy through HTTP, behind keystonemiddleware (its
AuthTokenFixture answers token validation in-process): an admin, a member
and a reader of project A, a member of project B. B sees nothing of A's
servers (404, as Nova answers), A's reader reads but changes nothing (403),
and a policy file overrides a default. noauth2 keeps its roles (the other
functional tests run with it)."""
import pytest
from keystonemiddleware import fixture as ks_fixture

from compute_core import Cloud
from compute_core.testing import api_request, first_image_id, wait_for_server

TOKENS = {
    "admin": ("admin-u", "admin-p", ["admin", "member", "reader"]),
    "member-a": ("ua", "pa", ["member", "reader"]),
    "reader-a": ("ra", "pa", ["reader"]),
    "member-b": ("ub", "pb", ["member", "reader"]),
    "manager-a": ("ma", "pa", ["manager", "member", "reader"]),
    # The services' own placement client (noauth2's admin token)
    "admin:admin": ("admin", "admin", ["admin"]),
}


@pytest.fixture(scope="module")
def keystone():
    tokens = ks_fixture.AuthTokenFixture()
    tokens.setUp()
    for token, (user, project, roles) in TOKENS.items():
        tokens.add_token_data(token_id=token, user_id=user, project_id=project,
                              role_list=roles)
    yield tokens
    tokens.cleanUp()


@pytest.fixture(scope="module")
def cloud(keystone, tmp_path_factory):
    directory = tmp_path_factory.mktemp("policy")
    # An operator's override: any member may list the compute services.
    (directory / "policy.yaml").write_text(
        '"os_compute_api:os-services:list": "rule:project_member_or_admin"\n')
    config = directory / "compute.conf"
    config.write_text(f"[oslo_policy]\npolicy_file = {directory / 'policy.yaml'}\n")
    with Cloud(config_file=str(config), overrides={"api.auth_strategy": "keystone"}) as c:
        yield c


@pytest.fixture(scope="module")
def server(cloud):
    image = first_image_id(cloud, token="member-a")
    resp = api_request(cloud, "POST", "/servers", token="member-a", body={
        "server": {"name": "a1", "imageRef": image, "flavorRef": "1"}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    assert wait_for_server(cloud, sid, token="member-a")["status"] == "ACTIVE"
    return sid


def call(cloud, token, method, path, body=None, version=None):
    return api_request(cloud, method, path, token=token, body=body, version=version)


def test_another_project_sees_nothing_of_the_server(cloud, server):
    listed = call(cloud, "member-b", "GET", "/servers/detail").json()["servers"]
    assert server not in {s["id"] for s in listed}
    for method, path, body in (("GET", f"/servers/{server}", None),
                               ("DELETE", f"/servers/{server}", None),
                               ("POST", f"/servers/{server}/action", {"os-stop": None}),
                               ("POST", f"/servers/{server}/action",
                                {"resize": {"flavorRef": "2"}})):
        resp = call(cloud, "member-b", method, path, body)
        assert resp.status_code == 404, (method, path, resp.text)
        assert "itemNotFound" in resp.json()
    # asking for every project is an admin's right
    resp = call(cloud, "member-b", "GET", "/servers?all_tenants=1")
    assert resp.status_code == 403, resp.text
    assert "os_compute_api:servers:index:get_all_tenants" in resp.text
    everyone = call(cloud, "admin", "GET", "/servers/detail?all_tenants=1").json()["servers"]
    assert server in {s["id"] for s in everyone}


def test_a_reader_reads_and_changes_nothing(cloud, server):
    assert call(cloud, "reader-a", "GET", f"/servers/{server}").status_code == 200
    listed = call(cloud, "reader-a", "GET", "/servers").json()["servers"]
    assert server in {s["id"] for s in listed}
    assert call(cloud, "reader-a", "GET", "/flavors").status_code == 200
    assert call(cloud, "reader-a", "GET", "/limits").status_code == 200
    image = first_image_id(cloud, token="reader-a")
    for method, path, body, rule in (
            ("POST", "/servers", {"server": {"name": "r", "imageRef": image,
                                             "flavorRef": "1"}},
             "os_compute_api:servers:create"),
            ("DELETE", f"/servers/{server}", None, "os_compute_api:servers:delete"),
            ("POST", f"/servers/{server}/action", {"os-stop": None},
             "os_compute_api:servers:stop"),
            ("POST", f"/servers/{server}/action", {"reboot": {"type": "SOFT"}},
             "os_compute_api:servers:reboot"),
            ("POST", f"/servers/{server}/action", {"resize": {"flavorRef": "2"}},
             "os_compute_api:servers:resize")):
        resp = call(cloud, "reader-a", method, path, body)
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["forbidden"]["message"] == \
            f"Policy doesn't allow {rule} to be performed."
    # and nothing changed
    assert call(cloud, "member-a", "GET", f"/servers/{server}").json()["server"][
        "status"] == "ACTIVE"


def test_admin_only_resources_and_fields(cloud, server):
    for token in ("member-a", "reader-a"):
        assert call(cloud, token, "GET", "/os-hypervisors").status_code == 403
        assert call(cloud, token, "POST", "/flavors", {"flavor": {
            "name": "x", "ram": 1, "vcpus": 1, "disk": 0}}).status_code == 403
    assert call(cloud, "admin", "GET", "/os-hypervisors").status_code == 200
    mine = call(cloud, "member-a", "GET", f"/servers/{server}", version="2.16").json()["server"]
    assert "OS-EXT-SRV-ATTR:host" not in mine and "host_status" not in mine
    seen = call(cloud, "admin", "GET", f"/servers/{server}", version="2.16").json()["server"]
    assert seen["OS-EXT-SRV-ATTR:host"] and seen["host_status"] == "UP"
    # migrating is for the project's manager (and admins); to a host for admins
    resp = call(cloud, "member-a", "POST", f"/servers/{server}/action", {"migrate": None})
    assert resp.status_code == 403
    resp = call(cloud, "manager-a", "POST", f"/servers/{server}/action",
                {"migrate": {"host": "nowhere"}}, version="2.56")
    assert resp.status_code == 403
    assert "os_compute_api:os-migrate-server:migrate:host" in resp.text


def test_the_policy_file_overrides_a_default(cloud):
    # os-services:list is admin-only by default; the file lets members list
    assert call(cloud, "member-a", "GET", "/os-services").status_code == 200
    assert call(cloud, "reader-a", "GET", "/os-services").status_code == 403


def test_another_projects_limits_are_for_admins(cloud):
    mine = call(cloud, "member-b", "GET", "/limits?tenant_id=pa").json()["limits"]["absolute"]
    theirs = call(cloud, "admin", "GET", "/limits?tenant_id=pa").json()["limits"]["absolute"]
    assert mine["totalInstancesUsed"] == 0  # pb's own: tenant_id ignored
    assert theirs["totalInstancesUsed"] >= 1


def test_members_delete_their_servers(cloud, server):
    assert call(cloud, "member-a", "DELETE", f"/servers/{server}").status_code == 204
    wait_for_server(cloud, server, ("DELETED",), token="member-a")


def test_migrations_are_for_the_projects_managers(cloud):
    assert call(cloud, "member-a", "GET", "/os-migrations?project_id=pa").status_code == 403
    assert call(cloud, "manager-a", "GET", "/os-migrations?project_id=pa").status_code == 200
    # every project's (no project_id), or another's: admins only
    resp = call(cloud, "manager-a", "GET", "/os-migrations")
    assert resp.status_code == 403 and "os-migrations:index:all_projects" in resp.text
    assert call(cloud, "manager-a", "GET", "/os-migrations?project_id=pb").status_code == 403
    assert call(cloud, "admin", "GET", "/os-migrations").status_code == 200
