"""The libvirt driver's domain XML, checked against libvirt's own RelaxNG
schema with ``virt-xml-validate`` (libvirt-clients)."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from compute_core_plugins.virt.libvirt import config

VALIDATOR = shutil.which("virt-xml-validate")


def _valid(tmp_path, xml):
    if VALIDATOR is None:
        pytest.skip("virt-xml-validate is not installed (apt-get install libvirt-clients)")
    path = tmp_path / "domain.xml"
    path.write_text(xml)
    proc = subprocess.run([VALIDATOR, str(path), "domain"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout + "\n" + xml


def _metadata():
    return {"uuid": "0f0c6f4e-3a55-4c5e-9d7e-6c2f1b1a0d01", "name": "web-1", "host": "host1",
            "project": {"uuid": "demo"}, "user": {"uuid": "alice"},
            "flavor": {"name": "m1.tiny", "vcpus": 1, "memory_mb": 256, "root_gb": 1,
                       "ephemeral_gb": 0, "swap": 0}}


def _spec(**changes):
    spec = config.GuestSpec(
        name="instance-0f0c6f4e-3a55-4c5e-9d7e-6c2f1b1a0d01",
        uuid="0f0c6f4e-3a55-4c5e-9d7e-6c2f1b1a0d01", virt_type="qemu", vcpus=2,
        memory_mb=256, metadata=_metadata(),
        disks=[config.Disk("/var/lib/x/disk"), config.Disk("/var/lib/x/disk.eph0")],
        nics=[config.Nic(mac="fa:16:3e:00:00:01")], console_log="/var/lib/x/console.log",
        vnc_listen="127.0.0.1")
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


def test_direct_kernel_boot_is_valid(tmp_path):
    xml = config.build_domain(_spec(kernel="/b/vmlinuz", initrd="/b/initrd",
                                    cmdline="console=ttyS0"))
    _valid(tmp_path, xml)
    assert "<kernel>/b/vmlinuz</kernel>" in xml and "<cmdline>console=ttyS0</cmdline>" in xml
    assert "<boot " not in xml  # the kernel boots, not a disk
    assert ET.fromstring(xml).get("type") == "qemu"
    assert '<log file="/var/lib/x/console.log" append="on" />' in xml
    assert 'dev="vda"' in xml and 'dev="vdb"' in xml
    assert '<graphics type="vnc" autoport="yes" listen="127.0.0.1">' in xml


def test_every_option_together_is_valid(tmp_path):
    spec = _spec(virt_type="kvm", cpu_mode="custom", cpu_model="Haswell",
                 machine_type="q35", firmware="uefi", loader="/usr/share/OVMF/CODE.fd",
                 nvram="/var/lib/x/nvram.fd", spice_listen="0.0.0.0",
                 serial_tcp=("127.0.0.1", 10001),
                 disks=[config.Disk("/x/disk", bus="scsi"),
                        config.Disk("/x/disk.swap", bus="scsi"),
                        config.Disk("/x/config.iso", format="raw", device="cdrom", bus="sata")],
                 nics=[config.Nic(mac="fa:16:3e:00:00:02", model="e1000", type="bridge",
                                  bridge="br0")])
    xml = config.build_domain(spec)
    _valid(tmp_path, xml)
    assert ET.fromstring(xml).get("type") == "kvm"
    assert 'model="virtio-scsi"' in xml  # the controller scsi disks need
    assert 'dev="sda"' in xml and 'dev="sdb"' in xml and 'dev="sdc"' in xml
    assert '<source bridge="br0" />' in xml and '<model type="e1000" />' in xml
    assert '<graphics type="spice"' in xml and '<protocol type="raw" />' in xml
    assert config.serial_tcp(xml) == ("127.0.0.1", 10001)
    assert 'machine="q35"' in xml and "<loader readonly=\"yes\" type=\"pflash\">" in xml


@pytest.mark.parametrize("mode", ["none", "host-model", "host-passthrough"])
def test_cpu_modes_are_valid(tmp_path, mode):
    xml = config.build_domain(_spec(cpu_mode=mode, nics=[], vnc_listen=None))
    _valid(tmp_path, xml)
    assert ("<cpu " in xml) == (mode != "none")
    assert "<graphics" not in xml and "<interface" not in xml


def test_metadata_names_instance_project_and_flavor():
    xml = config.build_domain(_spec())
    meta = config.read_metadata(xml)
    assert meta["uuid"] == "0f0c6f4e-3a55-4c5e-9d7e-6c2f1b1a0d01"
    assert meta["host"] == "host1" and meta["name"] == "web-1"
    assert meta["project"] == {"uuid": "demo"}
    assert meta["flavor"]["name"] == "m1.tiny" and meta["flavor"]["memory_mb"] == "256"
    assert config.read_metadata("<domain type='qemu'><name>x</name></domain>") == {}


def test_disk_targets_per_bus():
    disks = [config.Disk("a", bus="virtio", dev="vda"), config.Disk("b"),
             config.Disk("c", bus="ide"), config.Disk("d", bus="sata")]
    config.disk_targets(disks)
    assert [d.dev for d in disks] == ["vda", "vdb", "hda", "sda"]


def test_domain_disks_and_graphics_read_back():
    xml = config.build_domain(_spec()).replace('autoport="yes"', 'autoport="yes" port="5901"')
    assert [d["dev"] for d in config.domain_disks(xml)] == ["vda", "vdb"]
    assert config.graphics_port(xml, "vnc") == ("127.0.0.1", 5901)
    assert config.graphics_port(xml, "spice") is None


def test_retargeted_for_the_destination_stays_valid(tmp_path):
    xml = config.build_domain(_spec(
        kernel="/var/lib/x/_base/k", initrd="/var/lib/x/_base/r", cmdline="console=ttyS0",
        disks=[config.Disk("/var/lib/x/u/disk"),
               config.Disk("/var/lib/x/u/disk.config", format="raw", device="cdrom",
                           bus="ide"),
               config.Disk("/elsewhere/disk.eph0")]))
    moved = config.retarget(xml, "host2", "/var/lib/x", "/srv/y")
    _valid(tmp_path, moved)
    assert config.read_metadata(moved)["host"] == "host2"
    assert config.read_metadata(moved)["project"] == {"uuid": "demo"}
    assert [d["path"] for d in config.domain_disks(moved)] == [
        "/srv/y/u/disk", "/srv/y/u/disk.config", "/elsewhere/disk.eph0"]
    assert "<kernel>/srv/y/_base/k</kernel>" in moved and "/var/lib/x" not in moved
    # the same place on shared storage: only the host changes
    same = config.retarget(xml, "host2", "/var/lib/x", "/var/lib/x")
    assert [d["path"] for d in config.domain_disks(same)] == [
        d["path"] for d in config.domain_disks(xml)]
    # a block migration copies the writable disks, not the config drive
    assert config.writable_disk_targets(moved) == ["vda", "vdb"]


def test_a_plugged_nic_is_the_element_the_domain_has():
    nic = config.Nic(mac="fa:16:3e:00:00:02", model="e1000", type="bridge", bridge="br0")
    xml = config.build_domain(_spec(nics=[config.Nic(mac="fa:16:3e:00:00:01"), nic]))
    element = ET.fromstring(xml).findall("devices/interface")[1]
    assert ET.canonicalize(config.nic_xml(nic), strip_text=True) == \
        ET.canonicalize(ET.tostring(element, encoding="unicode"), strip_text=True)
    assert 'source bridge="br0"' in config.nic_xml(nic)
    assert config.domain_macs(xml) == ["fa:16:3e:00:00:01", "fa:16:3e:00:00:02"]
