"""The bytes of the detailed server view, as GET /servers/detail answers
them (server_detail, then the compute app's rendering), for fixed servers
at the microversions where the view changes, for an administrator and for
a project member. The digests were taken from the code before the
listing's CPU work (commit 3d44ef8): a change that moves one byte of the
answer (a field, its order, its escaping) fails here. The failing case's
body is printed, to compare with that commit's."""
from __future__ import annotations

import datetime
import hashlib

import pytest
import webob

from compute_core.api.app import ComputeApp
from compute_core.api.microversion import MAX_VERSION, APIVersion
from compute_core.api.resources.server_views import Viewer, server_detail

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
]
UP = {"host1": True, "host2": False, "host3": None}
VERSIONS = ["2.1", "2.3", "2.9", "2.16", "2.19", "2.26", "2.46", "2.47", "2.63", "2.73",
            "2.90", "2.96", "2.98", "2.100", MAX_VERSION]
VIEWERS = {"admin": Viewer(True, True, True), "member": Viewer(False, False, False)}

# sha256 of the body of each case, from commit 3d44ef8's code.
DIGESTS = {
    "2.1 admin": "40c21e3d34344353a2f4a80e2a5ca6f568c593a54113dc74e766820b96e30b06",
    "2.3 admin": "114af3daab3e750ddf1b5167f390c588db3ee91534bdc0e5a0f26deffe84d9de",
    "2.9 admin": "f7dba57afcc0a3aee54a476a2d31f36c151a83a9002e3edf0decd92d13d0a250",
    "2.16 admin": "f7dba57afcc0a3aee54a476a2d31f36c151a83a9002e3edf0decd92d13d0a250",
    "2.19 admin": "8c5dbdc3b962d78d6ed5be9dfbbb77d4c18876d7416e76c82ab3cbe34b85cb08",
    "2.26 admin": "5acfb814fc970fd04d00122dd13d970a3305f5b9180d00bf2f81d047ec9ac79d",
    "2.46 admin": "5acfb814fc970fd04d00122dd13d970a3305f5b9180d00bf2f81d047ec9ac79d",
    "2.47 admin": "b6725a03f477f881ade94769db0a422f139779f7c0cbdb23d2e5efb352f3dd8d",
    "2.63 admin": "1b742f3bcda3892f83dde52a61ea6d88faf1deacbd4fa71014f71a19fad813c6",
    "2.73 admin": "022681f9066cacfd98e24edb97d65589e2f80a19591502e988fd47bd9977ffea",
    "2.90 admin": "022681f9066cacfd98e24edb97d65589e2f80a19591502e988fd47bd9977ffea",
    "2.96 admin": "8de5d31abaac3962e099d30bde24020661f98f6c7430b56b01cfc29bf774a85f",
    "2.98 admin": "8a3458009d613e38a78d6cc9b75ff4d6f5a947916c562e4317723a92ed23806d",
    "2.100 admin": "95ff5dc6993d377413449c0af8db4de420a2eddeb41676643312ad7134112c32",
    "2.104 admin": "95ff5dc6993d377413449c0af8db4de420a2eddeb41676643312ad7134112c32",
    "2.1 member": "1e4a529f92da111d724ab2e8a321e223ef9d9ff028cdbbad69875fa35914bef8",
    "2.3 member": "1e4a529f92da111d724ab2e8a321e223ef9d9ff028cdbbad69875fa35914bef8",
    "2.9 member": "474f64664a82dd5d3031f8ddd079566ae97340878418172050ed1fcdaa2b94d3",
    "2.16 member": "474f64664a82dd5d3031f8ddd079566ae97340878418172050ed1fcdaa2b94d3",
    "2.19 member": "4ab828f0bf0271eaa6935805ef55c084ba16c07ed77fb91b31d16d249f30532e",
    "2.26 member": "1aa5080f40f41814cc12cdfda99ead61d74653175daed8f7b8a791149dfe3430",
    "2.46 member": "1aa5080f40f41814cc12cdfda99ead61d74653175daed8f7b8a791149dfe3430",
    "2.47 member": "dd59ecc8689c9cac054f4b7796f514fc230a22e877fa4250383cd089498dcb47",
    "2.63 member": "c5d4023818b7d6ebc918859ed2a22a8cb9e42bac9d8bacf2c8c8faf3a647db61",
    "2.73 member": "1bd7f910e4cc73e25d0c316d48378de9cc112a561ad44f0924fa057b745c08dd",
    "2.90 member": "4b922909a4a5b2e2297c4a6c6b5b9221c4f3f1a48026b368e618d32c4854b5e0",
    "2.96 member": "9c18ce3b7fb2601093c091b4810ff75e0234a2bbe0e23a637375584c12c4b598",
    "2.98 member": "8a61b48966753da4e3f4e8e96c8f7859eb8e482e7a66bdf2a0be406e2132c19b",
    "2.100 member": "eadbed27a20982fbceeb9fc8836c8b3665551168ce36829a77b43748b98e5477",
    "2.104 member": "eadbed27a20982fbceeb9fc8836c8b3665551168ce36829a77b43748b98e5477",
}


def _body(version, viewer) -> bytes:
    req = webob.Request.blank("/v2.1/servers/detail", base_url="http://cloud.test:8774/v2.1")
    req.environ["compute_core.default_az"] = "nova"
    req.environ["compute_core.zone_of_host"] = {"host1": "az1", "host2": "nova",
                                                "host3": "az3"}.get
    v = APIVersion(version)
    body = {"servers": [server_detail(req, v, viewer, inst, UP.get(inst["host"]))
                        for inst in SERVERS]}
    return ComputeApp._render((200, body)).body


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("who", sorted(VIEWERS))
def test_detail_bytes_unchanged(version, who):
    body = _body(version, VIEWERS[who])
    digest = hashlib.sha256(body).hexdigest()
    assert digest == DIGESTS[f"{version} {who}"], body.decode()
