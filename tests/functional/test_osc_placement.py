"""osc-placement, through OpenStackClient run as a subprocess, against our
placement service: the commands operators use day to day."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import pytest

from compute_core import assembly
from tests.functional.placement.fixtures import standalone_placement

pytestmark = pytest.mark.skipif(shutil.which("openstack") is None,
                                reason="OpenStackClient (openstack) is not installed")


@pytest.fixture(scope="module")
def placement_url():
    tmp = tempfile.mkdtemp(prefix="osc-placement-")
    services, app = standalone_placement(tmp)
    server = assembly.WSGIServer(app, "127.0.0.1", 0, name="placement-osc")
    server.start()
    yield server.url
    server.stop()
    services.close()
    shutil.rmtree(tmp, ignore_errors=True)


def osc(url, *args, version="1.39", parse=True):
    cmd = ["openstack", "--os-auth-type", "admin_token", "--os-token", "admin:admin",
           "--os-endpoint", url, "--os-placement-api-version", version, *args]
    if parse:
        cmd += ["-f", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(args)} failed: {proc.stderr}"
    return json.loads(proc.stdout) if parse and proc.stdout.strip() else proc.stdout


def test_provider_inventory_traits_and_candidates(placement_url):
    created = osc(placement_url, "resource", "provider", "create", "osc-node")
    rp = created["uuid"]
    assert created["generation"] == 0

    listed = osc(placement_url, "resource", "provider", "list")
    assert [p["uuid"] for p in listed] == [rp]

    shown = osc(placement_url, "resource", "provider", "show", rp)
    assert shown["name"] == "osc-node"
    assert shown["root_provider_uuid"] == rp

    inv = osc(placement_url, "resource", "provider", "inventory", "set", rp,
              "--resource", "VCPU=8", "--resource", "MEMORY_MB=4096",
              "--resource", "VCPU:allocation_ratio=2.0")
    by_class = {row["resource_class"]: row for row in inv}
    assert by_class["VCPU"]["total"] == 8
    assert by_class["VCPU"]["allocation_ratio"] == 2.0

    listed_inv = osc(placement_url, "resource", "provider", "inventory", "list", rp)
    assert {row["resource_class"] for row in listed_inv} == {"VCPU", "MEMORY_MB"}

    traits = osc(placement_url, "resource", "provider", "trait", "set", rp,
                 "--trait", "HW_CPU_X86_AVX2", "--trait", "STORAGE_DISK_SSD")
    assert sorted(t["name"] for t in traits) == ["HW_CPU_X86_AVX2", "STORAGE_DISK_SSD"]

    candidates = osc(placement_url, "allocation", "candidate", "list",
                     "--resource", "VCPU=1")
    assert len(candidates) == 1
    assert candidates[0]["resource provider"] == rp

    none = osc(placement_url, "allocation", "candidate", "list", "--resource", "VCPU=100")
    assert none == []
