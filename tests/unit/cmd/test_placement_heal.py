"""compute-manage placement heal_allocations and audit against a real
embedded cloud: allocations removed (or added) behind its back are put
right, with nova-manage's exit codes."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
import requests
import sqlalchemy as sa

from compute_core import Cloud
from compute_core.cmd import manage
from compute_core.db import cell_db
from compute_core.db import cell_schema as t
from compute_core.db.cells import CELL0_UUID
from compute_core.db.engines import Database
from compute_core.placement_client import heal
from compute_core.placement_client.client import PlacementClient
from compute_core.testing import api_request, first_image_id, wait_for_server

PLACEMENT_HEADERS = {"X-Auth-Token": "admin:admin",
                     "OpenStack-API-Version": "placement 1.39",
                     "Accept": "application/json"}


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str


class Env:
    """One embedded cloud with two servers, and compute-manage run in this
    process against a configuration file written from the cloud's."""

    def __init__(self, cloud: Cloud, config: str, capsys):
        self.cloud = cloud
        self.config = config
        self.capsys = capsys
        image = first_image_id(cloud)
        self.servers = []
        for name, flavor in (("small", "1"), ("medium", "2")):
            resp = api_request(cloud, "POST", "/servers", body={"server": {
                "name": name, "imageRef": image, "flavorRef": flavor}})
            assert resp.status_code == 202, resp.text
            self.servers.append(resp.json()["server"]["id"])
        for sid in self.servers:
            assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
        # What the scheduler claimed: heal must give exactly this back.
        self.claimed = {sid: self.allocations(sid) for sid in self.servers}

    def manage(self, *argv) -> Run:
        self.capsys.readouterr()
        code = manage.main(["--config-file", self.config, "placement", *argv])
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def placement(self, method, path, body=None):
        return requests.request(method, self.cloud.placement_url + path, json=body,
                                headers=PLACEMENT_HEADERS, timeout=30)

    def allocations(self, consumer) -> dict:
        resp = self.placement("GET", f"/allocations/{consumer}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def drop(self, consumer) -> None:
        assert self.placement("DELETE", f"/allocations/{consumer}").status_code == 204

    def host_provider(self) -> str:
        providers = self.placement("GET", "/resource_providers").json()["resource_providers"]
        return next(p["uuid"] for p in providers if p["name"] == "host1")

    def put_orphan(self, consumer=None, vcpu=1) -> str:
        consumer = consumer or str(uuid.uuid4())
        resp = self.placement("PUT", f"/allocations/{consumer}", {
            "allocations": {self.host_provider(): {"resources": {"VCPU": vcpu,
                                                                 "MEMORY_MB": 64}}},
            "project_id": "ghost", "user_id": "ghost", "consumer_generation": None,
            "consumer_type": "INSTANCE"})
        assert resp.status_code == 204, resp.text
        return consumer

    def cell_db(self) -> tuple[dict, Database]:
        cells = self.cloud._api.cells
        cell = next(c for c in cells.cells() if c["uuid"] != CELL0_UUID)
        return cell, cells.get(cell["uuid"])

    def resources(self, consumer) -> dict:
        """{provider uuid: resources} of the consumer (no generations)."""
        return {rp: a["resources"]
                for rp, a in self.allocations(consumer)["allocations"].items()}

    def assert_healed(self) -> None:
        for sid, claimed in self.claimed.items():
            now = self.allocations(sid)
            assert self.resources(sid) == {rp: a["resources"] for rp, a in
                                           claimed["allocations"].items()}, sid
            assert (now["project_id"], now["user_id"]) == (
                claimed["project_id"], claimed["user_id"])


@pytest.fixture(scope="module")
def cloud():
    with Cloud(hosts=1) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def config(cloud, tmp_path_factory):
    conf = cloud.conf
    path = tmp_path_factory.mktemp("heal") / "compute.conf"
    path.write_text(
        f"[DEFAULT]\nstate_path = {conf.state_path}\ntransport_url = fake://\n\n"
        f"[api_database]\nconnection = {conf.api_database.connection}\n\n"
        f"[database]\nconnection = {conf.database.connection}\n\n"
        f"[placement_database]\nconnection = {conf.placement_database.connection}\n\n"
        f"[placement]\nendpoint_override = {cloud.placement_url}\n"
        f"auth_strategy = noauth2\nnoauth_token = admin:admin\n")
    return str(path)


@pytest.fixture
def env(cloud, config, capsys):
    env = Env(cloud, config, capsys)
    yield env
    for sid in env.servers:
        api_request(cloud, "DELETE", f"/servers/{sid}")
    for sid in env.servers:
        wait_for_server(cloud, sid, ("DELETED",))
    # leave no orphan behind for the next test
    for consumer in env.placement(
            "GET", f"/resource_providers/{env.host_provider()}/allocations"
    ).json()["allocations"]:
        env.drop(consumer)


# ------------------------------------------------------------------- heal

def test_nothing_to_heal_exits_4(env):
    result = env.manage("heal_allocations", "--verbose")
    assert result.code == 4, result
    assert "Processed 0 instances." in result.out
    env.assert_healed()


def test_heal_restores_exactly_what_was_claimed_and_is_idempotent(env):
    for sid in env.servers:
        env.drop(sid)
        assert env.allocations(sid)["allocations"] == {}
    result = env.manage("heal_allocations", "--verbose")
    assert result.code == 0, result
    for sid in env.servers:
        assert f"Successfully created allocations for instance {sid}." in result.out
    assert "Processed 2 instances." in result.out
    env.assert_healed()
    # the healed consumer's generation is a real one: the next change works
    assert env.allocations(env.servers[0])["consumer_generation"] is not None
    again = env.manage("heal_allocations")
    assert again.code == 4, again
    assert again.out == "" and again.err == ""
    env.assert_healed()


def test_heal_allocations_match_the_flavor(env):
    small = env.servers[0]
    env.drop(small)
    assert env.manage("heal_allocations").code == 0
    resources = next(iter(env.allocations(small)["allocations"].values()))["resources"]
    flavor = api_request(env.cloud, "GET", "/flavors/1").json()["flavor"]
    assert resources == {"VCPU": flavor["vcpus"], "MEMORY_MB": flavor["ram"],
                         "DISK_GB": flavor["disk"]}


def test_dry_run_changes_nothing_and_exits_4(env):
    small, medium = env.servers
    env.drop(small)
    result = env.manage("heal_allocations", "--dry-run", "--verbose")
    assert result.code == 4, result
    assert f"[dry-run] Create allocations for instance {small}" in result.out
    assert medium not in result.out.replace("Looking", "")
    assert env.allocations(small)["allocations"] == {}
    assert env.manage("heal_allocations").code == 0
    env.assert_healed()


def test_heal_one_instance(env):
    small, medium = env.servers
    env.drop(small)
    env.drop(medium)
    assert env.manage("heal_allocations", "--instance", medium).code == 0
    assert env.resources(medium) == {
        rp: a["resources"] for rp, a in env.claimed[medium]["allocations"].items()}
    assert env.allocations(small)["allocations"] == {}
    assert env.manage("heal_allocations", "--instance", medium).code == 4
    assert env.manage("heal_allocations", "--instance", small).code == 0
    env.assert_healed()


def test_max_count_heals_in_steps(env):
    for sid in env.servers:
        env.drop(sid)
    first = env.manage("heal_allocations", "--max-count", "1", "--verbose")
    assert first.code == 1, first
    assert "Max count reached. Processed 1 instances." in first.out
    healed = [sid for sid in env.servers if env.allocations(sid)["allocations"]]
    assert len(healed) == 1
    # oldest first
    assert healed == [env.servers[0]]
    assert env.manage("heal_allocations", "--max-count", "1").code == 1
    assert env.manage("heal_allocations", "--max-count", "1").code == 4
    env.assert_healed()


def test_heal_skips_instances_in_a_task_state(env):
    small = env.servers[0]
    env.drop(small)
    _cell, db = env.cell_db()
    cell_db.update_instance(db, small, {"task_state": "migrating"})
    try:
        result = env.manage("heal_allocations", "--verbose")
        assert result.code == 4, result
        assert f"Instance {small} is undergoing a task state transition: migrating" \
            in result.out
    finally:
        cell_db.update_instance(db, small, {"task_state": None})
    assert env.manage("heal_allocations").code == 0
    env.assert_healed()


def test_heal_without_a_compute_node_exits_2(env):
    small = env.servers[0]
    env.drop(small)
    _cell, db = env.cell_db()
    node = cell_db.get_instance(db, small)["node"]
    cell_db.update_instance(db, small, {"node": "nowhere"})
    try:
        result = env.manage("heal_allocations")
        assert result.code == 2, result
        assert "nowhere" in result.err and small in result.err
        assert len(result.err.strip().splitlines()) == 1
    finally:
        cell_db.update_instance(db, small, {"node": node})
    assert env.manage("heal_allocations").code == 0


@pytest.mark.parametrize("argv, fragment", [
    (["--max-count", "0"], "positive integer"),
    (["--max-count", "many"], "positive integer"),
    (["--instance", "not-a-uuid"], "--instance takes a UUID"),
    (["--instance", str(uuid.uuid4())], "Unable to find cell for instance"),
    (["--cell", str(uuid.uuid4())], "was not found"),
    (["--instance", str(uuid.uuid4()), "--cell", str(uuid.uuid4())],
     "mutually exclusive"),
])
def test_heal_invalid_input_exits_127(env, argv, fragment):
    result = env.manage("heal_allocations", *argv)
    assert result.code == 127, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and fragment in lines[0]


def test_heal_from_python(env):
    """The logic is callable without the command."""
    env.drop(env.servers[1])
    cloud = env.cloud
    placement = PlacementClient(cloud.conf)
    try:
        result = heal.heal_allocations(cloud._api.api_db, cloud._api.cells, placement)
    finally:
        placement.close()
    assert result.healed == [env.servers[1]] and result.exit_code == heal.HEALED
    env.assert_healed()


def test_heal_without_placement_endpoint_is_one_error_line(env, tmp_path):
    text = open(env.config).read().replace(
        f"endpoint_override = {env.cloud.placement_url}\n", "")
    path = tmp_path / "no-placement.conf"
    path.write_text(text)
    env.capsys.readouterr()
    code = manage.main(["--config-file", str(path), "placement", "heal_allocations"])
    err = env.capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == ["ERROR: [placement] endpoint_override is not set"]


# ------------------------------------------------------------------ audit

def test_audit_clean_cloud_exits_0(env):
    result = env.manage("audit", "--verbose")
    assert result.code == 0, result
    assert f"Checking resource provider {env.host_provider()}" in result.out


def test_audit_finds_and_deletes_an_orphan(env):
    orphan = env.put_orphan()
    result = env.manage("audit")
    assert result.code == 3, result
    lines = result.out.strip().splitlines()
    assert len(lines) == 1 and orphan in lines[0] and env.host_provider() in lines[0]
    assert "VCPU=1" in lines[0]
    # only reported: still there
    assert env.allocations(orphan)["allocations"]
    for sid in env.servers:
        assert sid not in result.out

    deleted = env.manage("audit", "--delete", "--verbose")
    assert deleted.code == 4, deleted
    assert f"Deleted allocations for consumer UUID {orphan}" in deleted.out
    assert "Processed 1 allocation." in deleted.out
    assert env.allocations(orphan)["allocations"] == {}
    env.assert_healed()
    assert env.manage("audit").code == 0


def test_audit_one_provider(env):
    orphan = env.put_orphan()
    rp = env.host_provider()
    result = env.manage("audit", "--resource_provider", rp)
    assert result.code == 3 and orphan in result.out
    missing = env.manage("audit", "--resource_provider", str(uuid.uuid4()))
    assert missing.code == 127, missing
    assert "does not exist" in missing.err
    bad = env.manage("audit", "--resource_provider", "nope")
    assert bad.code == 127 and "UUID" in bad.err


def test_audit_deleted_instance_allocations_are_orphans(env):
    """Allocations left for a server that is gone."""
    small = env.servers[0]
    api_request(env.cloud, "DELETE", f"/servers/{small}")
    wait_for_server(env.cloud, small, ("DELETED",))
    env.put_orphan(consumer=small)
    result = env.manage("audit", "--delete")
    assert result.code == 4, result
    assert small in result.out and env.servers[1] not in result.out
    assert env.allocations(small)["allocations"] == {}


def test_audit_keeps_allocations_of_active_migrations(env):
    _cell, db = env.cell_db()
    mig_uuid = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(t.migrations.insert().values(
            uuid=mig_uuid, instance_uuid=env.servers[0], source_compute="host1",
            status="migrating", migration_type="migration", deleted=0))
    try:
        env.put_orphan(consumer=mig_uuid)
        assert env.manage("audit").code == 0
        with db.begin() as conn:
            conn.execute(t.migrations.update().where(t.migrations.c.uuid == mig_uuid)
                         .values(status="confirmed"))
        result = env.manage("audit")
        assert result.code == 3 and mig_uuid in result.out
    finally:
        with db.begin() as conn:
            conn.execute(sa.delete(t.migrations).where(t.migrations.c.uuid == mig_uuid))


def test_audit_ignores_allocations_without_compute_classes(env):
    rp = env.host_provider()
    inv = env.placement("GET", f"/resource_providers/{rp}/inventories").json()
    resp = env.placement("PUT", "/resource_classes/CUSTOM_HEAL_TEST")
    assert resp.status_code in (201, 204), resp.text
    inventories = dict(inv["inventories"], CUSTOM_HEAL_TEST={"total": 5})
    resp = env.placement("PUT", f"/resource_providers/{rp}/inventories", {
        "resource_provider_generation": inv["resource_provider_generation"],
        "inventories": inventories})
    assert resp.status_code == 200, resp.text
    other = str(uuid.uuid4())
    resp = env.placement("PUT", f"/allocations/{other}", {
        "allocations": {rp: {"resources": {"CUSTOM_HEAL_TEST": 1}}},
        "project_id": "x", "user_id": "y", "consumer_generation": None,
        "consumer_type": "INSTANCE"})
    assert resp.status_code == 204, resp.text
    try:
        assert env.manage("audit").code == 0
    finally:
        env.drop(other)
        now = env.placement("GET", f"/resource_providers/{rp}/inventories").json()
        env.placement("PUT", f"/resource_providers/{rp}/inventories", {
            "resource_provider_generation": now["resource_provider_generation"],
            "inventories": inv["inventories"]})
