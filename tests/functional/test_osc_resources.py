"""OpenStackClient, unchanged, drives the everyday resources of the API
through compute-aio's identity endpoint (with only the clouds.yaml it
wrote): key pairs, server groups, aggregates, availability zones, quotas,
compute services, hypervisors, usage, flavors with properties and access.
Outputs are checked, not only exit codes."""
import json
import subprocess
import sys
import time

import pytest

from tests.functional.test_aio_clients import _clean_env

pytest.importorskip("openstackclient", reason="OpenStackClient is not installed")


@pytest.fixture(scope="module")
def clouds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("osc-resources")
    ready_file = tmp / "ready.json"
    conf = tmp / "extra.conf"  # deleted servers wait, SOFT_DELETED, for restore
    conf.write_text("[DEFAULT]\nreclaim_instance_interval = 3600\n")
    log = open(tmp / "aio.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "compute_core.cmd.aio", "--state-dir", str(tmp / "state"),
         "--port", "0", "--ready-file", str(ready_file), "--quiet", "--config-file", str(conf)],
        stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
    try:
        deadline = time.monotonic() + 120
        while not ready_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp / "aio.log").read_text()
            time.sleep(0.1)
        ready = json.loads(ready_file.read_text())
        env = {**_clean_env(), "OS_CLIENT_CONFIG_FILE": ready["clouds_yaml"]}
        yield {"member": {**env, "OS_CLOUD": ready["cloud"]},
               "admin": {**env, "OS_CLOUD": ready["admin_cloud"]}}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def osc(env, *args, parse=True):
    done = subprocess.run(["openstack", *args, *(["-f", "json"] if parse else [])], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout) if parse and done.stdout.strip() else done.stdout


def test_keypairs(clouds):
    env = clouds["member"]
    created = osc(env, "keypair", "create", "osc-key", parse=False)
    assert "BEGIN RSA PRIVATE KEY" in created or "BEGIN OPENSSH PRIVATE KEY" in created
    listed = osc(env, "keypair", "list")
    assert "osc-key" in [k["Name"] for k in listed]
    shown = osc(env, "keypair", "show", "osc-key")
    assert shown["name"] == "osc-key" and shown["fingerprint"]
    osc(env, "keypair", "delete", "osc-key", parse=False)
    assert "osc-key" not in [k["Name"] for k in osc(env, "keypair", "list")]


def test_server_groups(clouds):
    env = clouds["member"]
    group = osc(env, "server", "group", "create", "--policy", "anti-affinity", "osc-group")
    assert group["name"] == "osc-group" and "anti-affinity" in str(group["policy"])
    assert "osc-group" in [g["Name"] for g in osc(env, "server", "group", "list")]
    assert osc(env, "server", "group", "show", "osc-group")["id"] == group["id"]
    osc(env, "server", "group", "delete", "osc-group", parse=False)


def test_aggregates_and_zones(clouds):
    env = clouds["admin"]
    agg = osc(env, "aggregate", "create", "--zone", "osc-zone", "osc-agg")
    assert agg["availability_zone"] == "osc-zone"
    host = osc(env, "compute", "service", "list", "--service", "nova-compute")[0]["Host"]
    osc(env, "aggregate", "add", "host", "osc-agg", host)
    osc(env, "aggregate", "set", "--property", "ssd=true", "osc-agg", parse=False)
    shown = osc(env, "aggregate", "show", "osc-agg")
    assert host in shown["hosts"] and shown["properties"]["ssd"] == "true"
    zones = {z["Zone Name"] for z in osc(env, "availability", "zone", "list", "--compute")}
    assert "osc-zone" in zones
    osc(env, "aggregate", "remove", "host", "osc-agg", host)
    osc(env, "aggregate", "delete", "osc-agg", parse=False)
    assert "osc-agg" not in [a["Name"] for a in osc(env, "aggregate", "list")]


def test_quotas_services_hypervisors_usage(clouds):
    env = clouds["admin"]
    project = osc(clouds["member"], "token", "issue")["project_id"]
    osc(env, "quota", "set", "--instances", "7", "--key-pairs", "9", project, parse=False)
    shown = osc(env, "quota", "show", project)
    values = {q["Resource"]: q["Limit"] for q in shown} if isinstance(shown, list) else shown
    assert values.get("instances") == 7 and values.get("key-pairs", values.get("key_pairs")) == 9
    services = osc(env, "compute", "service", "list")
    assert "nova-compute" in {s["Binary"] for s in services}
    hypervisors = osc(env, "hypervisor", "list")
    assert hypervisors and hypervisors[0]["Hypervisor Type"] == "fake"
    usage = osc(env, "usage", "list")
    assert isinstance(usage, list)


def test_flavor_properties_and_access(clouds):
    env = clouds["admin"]
    project = osc(clouds["member"], "token", "issue")["project_id"]
    flavor = osc(env, "flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1",
                 "--private", "--project", project, "--property", "hw:cpu_policy=shared",
                 "osc-flavor")
    assert flavor["os-flavor-access:is_public"] is False
    shown = osc(env, "flavor", "show", "osc-flavor")
    assert shown["properties"]["hw:cpu_policy"] == "shared"
    assert "osc-flavor" in [f["Name"] for f in osc(clouds["member"], "flavor", "list", "--all")]
    osc(env, "flavor", "unset", "--project", project, "osc-flavor", parse=False)
    assert "osc-flavor" not in [f["Name"] for f in osc(clouds["member"], "flavor", "list",
                                                         "--all")]
    osc(env, "flavor", "delete", "osc-flavor", parse=False)


def test_soft_delete_list_and_restore(clouds):
    """With reclaim configured, a deleted server leaves the listing (as
    Nova's), shows among the deleted ones to an admin, and comes back."""
    env, admin = clouds["member"], clouds["admin"]
    image = osc(env, "image", "list")[0]["ID"]
    server = osc(env, "server", "create", "--image", image, "--flavor", "m1.tiny", "--wait",
                 "osc-soft")
    assert server["status"] == "ACTIVE"
    sid = server["id"]
    osc(env, "server", "delete", sid, parse=False)
    deadline = time.monotonic() + 60
    while osc(env, "server", "show", sid)["status"] != "SOFT_DELETED":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert sid not in [s["ID"] for s in osc(env, "server", "list")]
    assert sid not in [s["ID"] for s in osc(admin, "server", "list", "--all-projects")]
    deleted = {s["ID"]: s["Status"] for s in osc(admin, "server", "list", "--all-projects",
                                                  "--deleted")}
    assert deleted.get(sid) == "SOFT_DELETED"
    osc(env, "server", "restore", sid, parse=False)
    deadline = time.monotonic() + 60
    while osc(env, "server", "show", sid)["status"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert {s["ID"]: s["Status"] for s in osc(env, "server", "list")}[sid] == "ACTIVE"
    assert sid not in [s["ID"] for s in osc(admin, "server", "list", "--all-projects",
                                             "--deleted")]
    osc(admin, "server", "delete", "--force", sid, parse=False)


def test_server_add_remove_security_group(clouds):
    """Without a network service OSC finds the group through the compute
    API's proxy (GET /os-security-groups at 2.1), then adds or removes it;
    a server whose last group is removed shows none."""
    env = clouds["member"]
    image = osc(env, "image", "list")[0]["ID"]
    sid = osc(env, "server", "create", "--image", image, "--flavor", "m1.tiny", "--wait",
              "osc-secgroups")["id"]
    assert osc(env, "server", "show", sid)["security_groups"] == [{"name": "default"}]
    osc(env, "server", "remove", "security", "group", sid, "default", parse=False)
    assert "security_groups" not in osc(env, "server", "show", sid)
    again = subprocess.run(["openstack", "server", "remove", "security", "group", sid,
                            "default"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "not associated" in again.stderr
    osc(env, "server", "add", "security", "group", sid, "default", parse=False)
    assert osc(env, "server", "show", sid)["security_groups"] == [{"name": "default"}]
    missing = subprocess.run(["openstack", "server", "add", "security", "group", sid,
                              "no-such-group"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 1 and "no-such-group" in missing.stderr
    osc(env, "server", "delete", "--force", sid, parse=False)
