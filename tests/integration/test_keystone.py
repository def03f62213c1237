"""compute_core behind a real Keystone (issue 19 item 3).

Keystone 30 from PyPI under gunicorn (tests/integration/keystone.py), with
admin, member and reader users in projects A and B and compute and
placement in its catalog; compute_core's APIs validate its tokens through
keystonemiddleware (memcached as the token cache), and its services call
placement as their own service user. The clients are the real ones, unchanged:
the ``openstack`` CLI (with osc-placement), ``nova`` and openstacksdk, each
given only a clouds.yaml or OS_* variables. Keystone starts once per session.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import openstack
import openstack.config
import openstack.connection
import pytest
import requests

from compute_core.testing import api_request, wait_for_server

pytestmark = pytest.mark.integration


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _script(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else name


class Clients:
    """The CLIs, each run as one of the deployment's users."""

    def __init__(self, ks, clouds_yaml):
        self.ks = ks
        self.clouds_yaml = clouds_yaml

    def run(self, user, *args, expect_ok=True, timeout=120):
        env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": self.clouds_yaml, "OS_CLOUD": user}
        done = subprocess.run([_script("openstack"), *args], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if expect_ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        else:
            assert done.returncode != 0, (args, done.stdout, done.stderr)
        return done

    def json(self, user, *args):
        return json.loads(self.run(user, *args, "-f", "json").stdout)

    def nova(self, user, *args, expect_ok=True):
        account = self.ks.users[user]
        env = {**_clean_env(), "OS_AUTH_URL": self.ks.auth_url, "OS_USERNAME": user,
               "OS_PASSWORD": account["password"], "OS_PROJECT_NAME": account["project"],
               "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
               "OS_REGION_NAME": "RegionOne", "OS_IDENTITY_API_VERSION": "3"}
        done = subprocess.run([_script("nova"), *args], env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert (done.returncode == 0) == expect_ok, (args, done.stdout, done.stderr)
        return done

    def sdk(self, user):
        config = openstack.config.OpenStackConfig(config_files=[self.clouds_yaml],
                                                  load_envvars=False, load_yaml_config=True)
        return openstack.connection.Connection(config=config.get_one(cloud=user))


@pytest.fixture(scope="module")
def ks(keystone_cloud):
    return keystone_cloud


@pytest.fixture(scope="module")
def clients(ks, tmp_path_factory):
    path = tmp_path_factory.mktemp("clients") / "clouds.yaml"
    return Clients(ks, ks.clouds_yaml(path))


@pytest.fixture(scope="module")
def image_id(ks):
    resp = api_request(ks.cloud, "GET", "/images", token=ks.token("member-a"))
    assert resp.status_code == 200, resp.text
    return resp.json()["images"][0]["id"]


def _table(text: str) -> dict[str, str]:
    """A novaclient property table as {property: value}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_tokens_of_the_real_keystone_and_nothing_else(ks):
    cloud = ks.cloud
    member = ks.token("member-a")
    assert api_request(cloud, "GET", "/flavors", token=member).status_code == 200
    # noauth2's tokens mean nothing here, in either API.
    assert api_request(cloud, "GET", "/flavors", token="admin:admin").status_code == 401
    resp = requests.get(cloud.placement_url + "/resource_providers", timeout=30,
                        headers={"X-Auth-Token": "admin:admin"})
    assert resp.status_code == 401, resp.text
    resp = requests.get(cloud.compute_url + "/flavors", timeout=30)
    assert resp.status_code == 401
    assert ks.auth_url in resp.headers["WWW-Authenticate"]
    # keystonemiddleware keeps validated tokens in memcached.
    stats = ks.memcached.stats()
    assert stats["cmd_set"] > 0 and stats["curr_items"] > 0, stats
    hits = stats["get_hits"]
    assert api_request(cloud, "GET", "/flavors", token=member).status_code == 200
    assert ks.memcached.stats()["get_hits"] > hits


def test_openstack_cli_as_admin(ks, clients):
    catalog = {entry["Type"] for entry in clients.json("admin", "catalog", "list")}
    assert {"identity", "compute", "placement"} <= catalog, catalog
    flavors = {f["Name"]: f for f in clients.json("admin", "flavor", "list")}
    assert flavors["m1.tiny"]["RAM"] == 512 and flavors["m1.tiny"]["VCPUs"] == 1, flavors
    hypervisors = clients.json("admin", "hypervisor", "list")
    assert [h["Hypervisor Hostname"] for h in hypervisors] == ["host1"], hypervisors
    services = clients.json("admin", "compute", "service", "list")
    up = {(s["Binary"], s["Host"]) for s in services
          if s["State"] == "up" and s["Status"] == "enabled"}
    assert {("nova-conductor", "controller"), ("nova-scheduler", "controller"),
            ("nova-compute", "host1")} <= up, services
    providers = clients.json("admin", "resource", "provider", "list")
    assert [p["name"] for p in providers] == ["host1"], providers
    # The same for a member is the admin's only: a 403 from each API.
    done = clients.run("member-a", "hypervisor", "list", expect_ok=False)
    assert "403" in done.stderr, done.stderr
    done = clients.run("member-a", "resource", "provider", "list", expect_ok=False)
    assert "403" in done.stderr, done.stderr


def test_server_lifecycle_and_project_isolation(ks, clients, image_id):
    member_a = ks.users["member-a"]
    conn = clients.sdk("member-a")
    server = conn.compute.create_server(name="ks-a1", image_id=image_id, flavor_id="1",
                                        networks="auto")
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=90)
    server_id = server.id

    listed = clients.json("member-a", "server", "list")
    assert [(s["ID"], s["Name"], s["Status"]) for s in listed] == [
        (server_id, "ks-a1", "ACTIVE")], listed
    shown = clients.json("member-a", "server", "show", "ks-a1")
    assert (shown["id"], shown["status"], shown["project_id"], shown["user_id"]) == (
        server_id, "ACTIVE", member_a["project_id"], member_a["user_id"]), shown
    assert "m1.tiny" in str(shown["flavor"]), shown
    # The reader of project A reads it too.
    assert [s["ID"] for s in clients.json("reader-a", "server", "list")] == [server_id]

    # Project B sees nothing of project A: not in its list, 404 by id.
    assert clients.json("member-b", "server", "list") == []
    assert clients.json("admin-b", "server", "list") == []
    done = clients.run("member-b", "server", "show", server_id, expect_ok=False)
    assert "No Server found" in done.stderr or "404" in done.stderr, done.stderr
    resp = api_request(ks.cloud, "GET", f"/servers/{server_id}", token=ks.token("member-b"))
    assert resp.status_code == 404, resp.text
    resp = api_request(ks.cloud, "DELETE", f"/servers/{server_id}",
                       token=ks.token("member-b"))
    assert resp.status_code == 404, resp.text
    # Keystone's admin sees every project's with --all-projects.
    every = clients.json("admin", "server", "list", "--all-projects")
    assert server_id in {s["ID"] for s in every}, every

    # Placement holds the server's allocation, claimed by the scheduler as
    # the service user, through placement's keystonemiddleware.
    providers = clients.json("admin", "resource", "provider", "list", "--os-placement-api-"
                             "version", "1.39")
    allocations = clients.json("admin", "resource", "provider", "allocation", "show",
                               server_id)
    assert [a["resource_provider"] for a in allocations] == [providers[0]["uuid"]]
    assert allocations[0]["resources"]["VCPU"] == 1, allocations

    clients.run("member-a", "server", "delete", "--wait", server_id)
    assert clients.json("member-a", "server", "list") == []
    assert clients.json("admin", "resource", "provider", "allocation", "show",
                        server_id) == []


def test_services_call_placement_as_their_service_user(ks, clients, image_id):
    """Every placement request of the compute services came through
    keystonemiddleware with the service user's token: the request log names
    the caller of each one."""
    nova = ks.users["nova"]
    member_a = ks.users["member-a"]
    conn = clients.sdk("member-a")
    server = conn.compute.create_server(name="ks-a2", image_id=image_id, flavor_id="1",
                                        networks="auto")
    conn.compute.wait_for_server(server, status="ACTIVE", wait=90)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=60)

    service = f" user {nova['user_id']} project {nova['project_id']}"
    claims = [line for line in ks.request_log
              if line.startswith(f"PUT /allocations/{server.id} ")]
    assert claims and all(line.endswith(service) for line in claims), claims
    inventories = [line for line in ks.request_log
                   if re.match(r"PUT /resource_providers/[0-9a-f-]+/inventories 200", line)]
    assert inventories and all(line.endswith(service) for line in inventories), inventories
    # The server's own request came from its user.
    creates = [line for line in ks.request_log if line.startswith("POST /v2.1/servers 202")]
    assert any(line.endswith(f" user {member_a['user_id']} project "
                             f"{member_a['project_id']}") for line in creates), creates


def test_a_reader_cannot_create(ks, clients, image_id):
    """Nova's default policy (oslo.policy): a project reader reads, and
    changes nothing."""
    resp = api_request(ks.cloud, "POST", "/servers", token=ks.token("reader-a"), body={
        "server": {"name": "ks-reader", "imageRef": image_id, "flavorRef": "1"}})
    if resp.status_code == 202:  # leave nothing behind
        sid = resp.json()["server"]["id"]
        admin = ks.token("admin")
        wait_for_server(ks.cloud, sid, token=admin, timeout=60)
        api_request(ks.cloud, "DELETE", f"/servers/{sid}", token=admin)
        wait_for_server(ks.cloud, sid, ("DELETED",), token=admin, timeout=60)
    assert resp.status_code == 403, resp.text
    assert "os_compute_api:servers:create" in resp.json()["forbidden"]["message"], resp.text
    # Nor a server of its project that a member made, which it does see.
    conn = clients.sdk("member-a")
    server = conn.compute.create_server(name="ks-a3", image_id=image_id, flavor_id="1",
                                        networks="auto")
    conn.compute.wait_for_server(server, status="ACTIVE", wait=90)
    try:
        assert clients.json("reader-a", "server", "show", server.id)["status"] == "ACTIVE"
        for action in (["server", "stop"], ["server", "delete"]):
            done = clients.run("reader-a", *action, server.id, expect_ok=False)
            assert "403" in done.stderr or "Policy doesn't allow" in done.stderr, done.stderr
        assert clients.json("member-a", "server", "show", server.id)["status"] == "ACTIVE"
    finally:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=60)


def test_openstack_server_create_with_flavor_and_image(ks, clients, image_id):
    if "image" not in {e["Type"] for e in clients.json("admin", "catalog", "list")}:
        pytest.xfail("this compute_core serves no image API (Glance v2) for the catalog: "
                     "`openstack server create --image` looks the image up there")
    created = clients.json("member-a", "server", "create", "--flavor", "m1.tiny",
                           "--image", image_id, "--nic", "auto", "--wait", "ks-cli")
    try:
        assert created["status"] == "ACTIVE", created
    finally:
        clients.run("member-a", "server", "delete", "--wait", created["id"])


def test_novaclient_list_boot_show(ks, clients, image_id):
    member_b = ks.users["member-b"]
    assert "ks-nova" not in clients.nova("member-b", "list").stdout
    # --block-device instead of --image: novaclient looks --image up in
    # the image service (Glance), which compute_core does not serve yet.
    done = clients.nova("member-b", "boot", "--flavor", "m1.tiny", "--nic", "none",
                        "--block-device", f"source=image,id={image_id},dest=local,bootindex=0",
                        "--poll", "ks-nova")
    booted = _table(done.stdout)
    assert booted["name"] == "ks-nova" and booted["flavor:original_name"] == "m1.tiny", \
        done.stdout
    server_id = booted["id"]
    shown = _table(clients.nova("member-b", "show", server_id).stdout)
    assert (shown["status"], shown["tenant_id"], shown["user_id"]) == (
        "ACTIVE", member_b["project_id"], member_b["user_id"]), shown
    listed = clients.nova("member-b", "list").stdout
    assert re.search(rf"\| {server_id} \| ks-nova +\| ACTIVE ", listed), listed
    # Project A's member does not see it.
    assert server_id not in clients.nova("member-a", "list").stdout
    clients.nova("member-a", "show", server_id, expect_ok=False)
    clients.nova("member-b", "delete", server_id)
    wait_for_server(ks.cloud, server_id, ("DELETED",), token=ks.token("member-b"),
                    timeout=60)
