"""The bytes of the detailed server view, as GET /servers/detail answers
them (server_detail, then the compute app's rendering), for fixed servers
at the microversions where the view changes, for an administrator and for
a project member. The digests were taken from the code before the
listing's CPU work (commit 3d44ef8): a change that moves one byte of the
answer (a field, its order, its escaping) fails here. The failing case's
body is printed, to compare with that commit's. A listing makes one
DetailView for all its servers: its body must be each server's alone."""
from __future__ import annotations

import datetime
import hashlib

import pytest
import webob

from compute_core.api.app import ComputeApp
from compute_core.api.microversion import MAX_VERSION, APIVersion
from compute_core.api.resources import server_views

T0 = datetime.datetime(2026, 1, 2, 3, 4, 5)
T1 = datetime.datetime(2026, 1, 2, 3, 9, 7, 123456)
FLAVOR = {"flavorid": "m1.tiny", "name": "m1.tiny", "vcpus": 1, "memory_mb": 512,
          "root_gb": 1, "ephemeral_gb": 0, "swap": 0,
          "extra_specs": {"hw:cpu_policy": "dedicated", "quota:é": "1"}}
SYSMETA = {"image_properties": {"os_distro": "cirros", "hw_disk_bus": "virtio"},
           "scheduler_hints": {"group": "9d1c2e4f-0000-4000-8000-000000000001"}}
ADDRESSES = {"private": [{"version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed",
                          "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"},
                         {"version": 6, "addr": "fd00::5", "OS-EXT-IPS:type": "fixed",
                          "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}]}


def _server(n, **values):
    inst = {"id": n, "uuid": f"00000000-0000-4000-8000-{n:012d}", "display_name": f"vm-{n}",
            "display_description": None, "hostname": f"vm-{n}", "project_id": "p1",
            "user_id": "u1", "image_ref": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
            "flavor": FLAVOR, "host": "host1", "node": "node1",
            "availability_zone": None, "vm_state": "active", "task_state": None,
            "power_state": 1, "launched_at": T1, "terminated_at": None, "key_name": None,
            "user_data": None, "config_drive": "", "access_ip_v4": None,
            "access_ip_v6": None, "locked": False, "launch_index": 0,
            "reservation_id": "r-0001", "progress": None, "network_info": {},
            "security_groups": None, "system_metadata": {}, "tags": [],
            "created_at": T0, "updated_at": T1, "metadata": {}, "fault": None}
    inst.update(values)
    return inst


SERVERS = [
    _server(1, metadata={"role": "web", "ünï": "<b>&\u2028"}, tags=["a", "b"],
            network_info=ADDRESSES, security_groups=["default", "web"],
            system_metadata=SYSMETA, key_name="k1", config_drive="True",
            access_ip_v4="192.0.2.1", access_ip_v6="2001:DB8:0:0::1",
            display_description="naïve \"quoted\" \\ text", user_data="IyEvYmluL3No"),
    _server(2, vm_state="error", power_state=0, host=None, node=None,
            fault={"code": 500, "created_at": T1, "message": "boom",
                   "details": "Traceback ..."}),
    _server(3, vm_state="error", power_state=0, availability_zone="az2",
            fault={"code": 400, "created_at": T1, "message": "no valid host",
                   "details": None}),
    _server(4, vm_state="stopped", power_state=4, locked=True, host="host2",
            system_metadata={"locked_reason": "maintenance"}, security_groups=[]),
    _server(5, vm_state="deleted", power_state=0, terminated_at=T1, deleted=5,
            fault={"code": 500, "created_at": T1, "message": "gone", "details": "x"}),
    _server(6, vm_state="building", task_state="scheduling", power_state=0, host=None,
            node=None, image_ref="", launched_at=None, created_at="2026-01-02T03:04:05",
            updated_at=None, flavor={**FLAVOR, "extra_specs": None}, progress=None),
    _server(7, task_state="rebooting", progress=40, host="host3", display_name=None),
    _server(8, project_id="p2", user_id="u2", tags=["c"], metadata={"k": "v"}),
]
UP = {"host1": True, "host2": False, "host3": None}
VERSIONS = ["2.1", "2.3", "2.9", "2.16", "2.19", "2.26", "2.46", "2.47", "2.63", "2.73",
            "2.90", "2.96", "2.98", "2.100", MAX_VERSION]
VIEWERS = {"admin": server_views.Viewer(True, True, True),
           "member": server_views.Viewer(False, False, False)}

# sha256 of the body of each case, from commit 3d44ef8's code.
DIGESTS = {
    "2.1 admin": "12821b93660ecf4cc702f1d0e51fb6e387e068d83e4cb46de00a65016ebd1d06",
    "2.3 admin": "8ebb8ba1ab864b14d2bd1eb9b459d709d6762057e62e7aef2257b474a7c87523",
    "2.9 admin": "fee82ea8c0f75b912a7e163600e517cfdfb9a7f18c5e213790f0ce19b2ca2d70",
    "2.16 admin": "fee82ea8c0f75b912a7e163600e517cfdfb9a7f18c5e213790f0ce19b2ca2d70",
    "2.19 admin": "91e80ae868b2ca88f6690013f985a359350db4e39dc8c2f9f9672ddbf317c841",
    "2.26 admin": "fb207e40479f56885a26d914a07796f6d1cff730b738b9e3fab02d236f26657e",
    "2.46 admin": "fb207e40479f56885a26d914a07796f6d1cff730b738b9e3fab02d236f26657e",
    "2.47 admin": "f4a314c0292cca6419256ca5bfc4c2395e5e104ecaadd41d331f98b3d4c92b40",
    "2.63 admin": "694271d856bb6c08bca83353cd2043e7968c99880812b533e46d5460db72cf81",
    "2.73 admin": "9e191f52f21abdc2946cb795fe450c6c5b7f02d0080502464d0491df572dd28f",
    "2.90 admin": "9e191f52f21abdc2946cb795fe450c6c5b7f02d0080502464d0491df572dd28f",
    "2.96 admin": "f6eb865e1535338ecd80a9073c855e4b6bc33fc52392f475c247d1e1950a18d6",
    "2.98 admin": "93d3c0b733d7d8661a2478aa42efcb858315955d54d0402e095989cc72923a4f",
    "2.100 admin": "eaf45f112f2a38261e136be8e469f57534f2cc5c0c216f16c851baf667ff2488",
    "2.104 admin": "eaf45f112f2a38261e136be8e469f57534f2cc5c0c216f16c851baf667ff2488",
    "2.1 member": "5eadf88c1c9535b85c1dbbdf554558f2b326722cc0667542d46c9a3718bf1b07",
    "2.3 member": "5eadf88c1c9535b85c1dbbdf554558f2b326722cc0667542d46c9a3718bf1b07",
    "2.9 member": "61a89830f7460f3a9560b7b6d4013b0ad75742f65256c689f93cb34caaf1f7c3",
    "2.16 member": "61a89830f7460f3a9560b7b6d4013b0ad75742f65256c689f93cb34caaf1f7c3",
    "2.19 member": "614eaf50270e96477e8b2bbd49436e9ade5aa353edb1d3d51e6cf5dc96d6e3ff",
    "2.26 member": "17224217de8ee43b6fee83c7769d10913853b31d9a154d5a5bb0009e16023064",
    "2.46 member": "17224217de8ee43b6fee83c7769d10913853b31d9a154d5a5bb0009e16023064",
    "2.47 member": "56f7124ebb1f57c32b743acdc72e21a62970114a70437ffcf20847867ef61afd",
    "2.63 member": "baf45a6c03c837ae28cd1c88e9d9e92a1fcd8810efffc0a0533f9e6b82137578",
    "2.73 member": "7e3472b7e2888ac336c32b5441639e54fb9efe750234e9db907215fd03c8b9e4",
    "2.90 member": "f33602ffd25b0494f633b83827e8c64d70779e673a24160832ff1346bcbd5a1a",
    "2.96 member": "6405de087a2b309a282e2ecd67e5cf6ab973441b495d3981aa4b956ca7d2358c",
    "2.98 member": "fad3201d061668fba380e32e2e08769e6253cc266daee145ea6417cc90fb1cf6",
    "2.100 member": "8d0fe8167771724e307db82e04255cd945ed976cb3deced8855a6d6cfcaa4778",
    "2.104 member": "8d0fe8167771724e307db82e04255cd945ed976cb3deced8855a6d6cfcaa4778",
}



def _request():
    req = webob.Request.blank("/v2.1/servers/detail", base_url="http://cloud.test:8774/v2.1")
    req.environ["compute_core.default_az"] = "nova"
    req.environ["compute_core.zone_of_host"] = {"host1": "az1", "host2": "nova",
                                                "host3": "az3"}.get
    return req


def _body(version, viewer) -> bytes:
    """The body as a show of each server would build it."""
    req, v = _request(), APIVersion(version)
    body = {"servers": [server_views.server_detail(req, v, viewer, inst, UP.get(inst["host"]))
                        for inst in SERVERS]}
    return ComputeApp._render((200, body)).body


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("who", sorted(VIEWERS))
def test_detail_bytes_unchanged(version, who):
    body = _body(version, VIEWERS[who])
    digest = hashlib.sha256(body).hexdigest()
    assert digest == DIGESTS[f"{version} {who}"], body.decode()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("who", sorted(VIEWERS))
def test_listing_view_as_each_server_alone(version, who):
    """One DetailView for the whole listing (what it keeps per host and
    project between servers) answers what a view of each alone does."""
    view = server_views.DetailView(_request(), APIVersion(version), VIEWERS[who])
    body = {"servers": [view(inst, UP.get(inst["host"])) for inst in SERVERS]}
    assert ComputeApp._render((200, body)).body == _body(version, VIEWERS[who])
