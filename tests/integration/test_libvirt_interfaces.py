"""os-interface on a real QEMU guest (the libvirt driver on this machine's
libvirtd): a NIC plugged into the running guest and its definition, then
unplugged (the guest acknowledges the PCI unplug); a stopped guest gets it
in its definition. Skipped, with the reason, where libvirtd or the tiny
guest's parts are missing."""
from __future__ import annotations

import pytest

from tests.integration.test_libvirt_guests import URI, libvirt_cloud

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _macs(sid, inactive=False):
    import libvirt

    from compute_core_plugins.virt.libvirt import config

    conn = libvirt.open(URI)
    try:
        dom = conn.lookupByName(f"instance-{sid}")
        return config.domain_macs(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive
                                              else 0))
    finally:
        conn.close()


def test_attach_and_detach_a_nic(tmp_path):
    with libvirt_cloud(hosts=1) as c:
        sid = c.create("plugged")
        c.wait(sid, "ACTIVE")
        c.wait_marker(sid)
        [boot] = c.call("GET", f"/servers/{sid}/os-interface")["interfaceAttachments"]
        assert _macs(sid) == [boot["mac_addr"]]
        new = c.call("POST", f"/servers/{sid}/os-interface",
                     {"interfaceAttachment": {}})["interfaceAttachment"]
        assert _macs(sid) == [boot["mac_addr"], new["mac_addr"]]
        assert _macs(sid, inactive=True) == [boot["mac_addr"], new["mac_addr"]]
        c.call("DELETE", f"/servers/{sid}/os-interface/{new['port_id']}")
        assert _macs(sid) == [boot["mac_addr"]] == _macs(sid, inactive=True)

        # Stopped: into the definition; the guest starts with it.
        c.action(sid, {"os-stop": None})
        c.wait(sid, "SHUTOFF")
        again = c.call("POST", f"/servers/{sid}/os-interface",
                       {"interfaceAttachment": {}})["interfaceAttachment"]
        assert _macs(sid, inactive=True) == [boot["mac_addr"], again["mac_addr"]]
        c.action(sid, {"os-start": None})
        c.wait(sid, "ACTIVE")
        assert _macs(sid) == [boot["mac_addr"], again["mac_addr"]]
        c.delete(sid)
