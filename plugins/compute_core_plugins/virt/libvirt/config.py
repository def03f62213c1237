"""Domain XML: a :class:`GuestSpec` (what the driver decided from the flavor,
the image properties and the options) turned into libvirt's domain XML with
``xml.etree``, and the ``<metadata>`` element read back."""
from __future__ import annotations

import dataclasses
import string
import xml.etree.ElementTree as ET

METADATA_NS = "http://compute-core.dev/xmlns/libvirt/instance/1.0"
METADATA_PREFIX = "compute"

DISK_BUSES = ("virtio", "scsi", "sata", "ide", "usb")
VIF_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet")
_DEV_PREFIX = {"virtio": "vd", "scsi": "sd", "sata": "sd", "usb": "sd", "ide": "hd"}


@dataclasses.dataclass
class Disk:
    path: str
    format: str = "qcow2"
    bus: str = "virtio"
    device: str = "disk"  # or cdrom
    readonly: bool = False
    dev: str | None = None  # target name; assigned by disk_targets when None


@dataclasses.dataclass
class Nic:
    mac: str
    model: str = "virtio"
    type: str = "user"  # user or bridge
    bridge: str | None = None


@dataclasses.dataclass
class GuestSpec:
    name: str
    uuid: str
    virt_type: str
    vcpus: int
    memory_mb: int
    metadata: dict
    disks: list[Disk] = dataclasses.field(default_factory=list)
    nics: list[Nic] = dataclasses.field(default_factory=list)
    cpu_mode: str = "none"
    cpu_model: str | None = None
    machine_type: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    firmware: str = "bios"  # or uefi
    loader: str | None = None
    nvram: str | None = None
    console_log: str | None = None
    serial_tcp: tuple[str, int] | None = None  # (host, port) of a TCP serial console
    vnc_listen: str | None = None
    spice_listen: str | None = None
    boot_dev: str | None = None  # "cdrom" puts the cdrom first


def disk_targets(disks: list[Disk]) -> None:
    """Give each disk without a target the next free name of its bus
    (vda, vdb ... for virtio, sda ... for scsi/sata/usb, hda ... for ide)."""
    used = {d.dev for d in disks if d.dev}
    for disk in disks:
        if disk.dev:
            continue
        prefix = _DEV_PREFIX.get(disk.bus, "vd")
        for letter in string.ascii_lowercase:
            if prefix + letter not in used:
                disk.dev = prefix + letter
                used.add(disk.dev)
                break


def _sub(parent, tag, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items()
                                     if v is not None})
    if text is not None:
        el.text = str(text)
    return el


def _interface(parent, nic: Nic):
    el = _sub(parent, "interface", type="bridge" if nic.type == "bridge" else "user")
    _sub(el, "mac", address=nic.mac)
    if nic.type == "bridge":
        _sub(el, "source", bridge=nic.bridge)
    _sub(el, "model", type=nic.model)
    return el


def build_domain(spec: GuestSpec) -> str:
    """The domain XML of *spec*."""
    dom = ET.Element("domain", type="kvm" if spec.virt_type == "kvm" else "qemu")
    _sub(dom, "name", spec.name)
    _sub(dom, "uuid", spec.uuid)
    meta = _sub(dom, "metadata")
    _metadata(meta, spec.metadata)
    _sub(dom, "memory", spec.memory_mb, unit="MiB")
    _sub(dom, "currentMemory", spec.memory_mb, unit="MiB")
    _sub(dom, "vcpu", spec.vcpus, placement="static")

    os_el = _sub(dom, "os", **({"firmware": "efi"} if spec.firmware == "uefi"
                               and not spec.loader else {}))
    _sub(os_el, "type", "hvm", arch="x86_64", machine=spec.machine_type)
    if spec.firmware == "uefi" and spec.loader:
        _sub(os_el, "loader", spec.loader, readonly="yes", type="pflash")
        if spec.nvram:
            _sub(os_el, "nvram", spec.nvram)
    if spec.kernel:
        _sub(os_el, "kernel", spec.kernel)
        if spec.initrd:
            _sub(os_el, "initrd", spec.initrd)
        if spec.cmdline:
            _sub(os_el, "cmdline", spec.cmdline)
    else:
        if spec.boot_dev == "cdrom":
            _sub(os_el, "boot", dev="cdrom")
        _sub(os_el, "boot", dev="hd")

    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if spec.cpu_mode == "host-model":
        _sub(dom, "cpu", mode="host-model", check="partial")
    elif spec.cpu_mode == "host-passthrough":
        _sub(dom, "cpu", mode="host-passthrough", check="none")
    elif spec.cpu_mode == "custom" and spec.cpu_model:
        cpu = _sub(dom, "cpu", mode="custom", match="exact", check="partial")
        _sub(cpu, "model", spec.cpu_model, fallback="allow")
    clock = _sub(dom, "clock", offset="utc")
    _sub(clock, "timer", name="rtc", tickpolicy="catchup")
    _sub(clock, "timer", name="pit", tickpolicy="delay")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")

    devices = _sub(dom, "devices")
    disk_targets(spec.disks)
    if any(d.bus == "scsi" for d in spec.disks):
        _sub(devices, "controller", type="scsi", index="0", model="virtio-scsi")
    for disk in spec.disks:
        el = _sub(devices, "disk", type="file", device=disk.device)
        _sub(el, "driver", name="qemu", type=disk.format, cache="none"
             if disk.device == "disk" else None)
        _sub(el, "source", file=disk.path)
        _sub(el, "target", dev=disk.dev, bus=disk.bus)
        if disk.readonly or disk.device == "cdrom":
            _sub(el, "readonly")
    for nic in spec.nics:
        _interface(devices, nic)
    _serial(devices, spec)
    if spec.vnc_listen or spec.spice_listen:
        _sub(devices, "input", type="tablet", bus="usb")
    if spec.vnc_listen:
        g = _sub(devices, "graphics", type="vnc", autoport="yes", listen=spec.vnc_listen)
        _sub(g, "listen", type="address", address=spec.vnc_listen)
    if spec.spice_listen:
        g = _sub(devices, "graphics", type="spice", autoport="yes", listen=spec.spice_listen)
        _sub(g, "listen", type="address", address=spec.spice_listen)
    if spec.vnc_listen or spec.spice_listen:
        video = _sub(devices, "video")
        _sub(video, "model", type="qxl" if spec.spice_listen else "vga")
    _sub(devices, "memballoon", model="virtio")
    ET.indent(dom)
    return ET.tostring(dom, encoding="unicode")


def _serial(devices, spec):
    if spec.serial_tcp:
        host, port = spec.serial_tcp
        serial = _sub(devices, "serial", type="tcp")
        _sub(serial, "source", mode="bind", host=host, service=port)
        _sub(serial, "protocol", type="raw")
    else:
        serial = _sub(devices, "serial", type="pty")
    if spec.console_log:
        _sub(serial, "log", file=spec.console_log, append="on")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="tcp" if spec.serial_tcp else "pty")
    _sub(console, "target", type="serial", port="0")


def _metadata(parent, values: dict):
    ET.register_namespace(METADATA_PREFIX, METADATA_NS)
    root = ET.SubElement(parent, f"{{{METADATA_NS}}}instance")
    for key, value in values.items():
        if isinstance(value, dict):
            child = ET.SubElement(root, f"{{{METADATA_NS}}}{key}")
            for k, v in value.items():
                if v is not None:
                    child.set(k, str(v))
        elif value is not None:
            ET.SubElement(root, f"{{{METADATA_NS}}}{key}").text = str(value)


def read_metadata(xml: str) -> dict:
    """The ``<metadata>`` values :func:`build_domain` wrote ({} for a
    domain that is not ours)."""
    root = ET.fromstring(xml)
    inst = root.find(f"metadata/{{{METADATA_NS}}}instance")
    if inst is None:
        return {}
    out = {}
    for child in inst:
        key = child.tag.split("}", 1)[1]
        out[key] = dict(child.attrib) if child.attrib else (child.text or "")
    return out


def domain_disks(xml: str) -> list[dict]:
    """{"path", "dev", "device"} of the file disks of a domain."""
    root = ET.fromstring(xml)
    out = []
    for disk in root.findall("devices/disk"):
        source = disk.find("source")
        target = disk.find("target")
        out.append({"path": source.get("file") if source is not None else None,
                    "dev": target.get("dev") if target is not None else None,
                    "device": disk.get("device")})
    return out


def nic_xml(nic: Nic) -> str:
    """One ``<interface>`` element, as the domain's are built, for
    plugging a NIC in (os-interface)."""
    return ET.tostring(_interface(ET.Element("devices"), nic), encoding="unicode")


def domain_macs(xml: str) -> list[str]:
    """The MAC addresses of a domain's NICs, in order."""
    return [mac.get("address") for mac in ET.fromstring(xml).findall("devices/interface/mac")]


def graphics_port(xml: str, kind: str) -> tuple[str, int] | None:
    """(listen address, port) of the running domain's vnc/spice server."""
    root = ET.fromstring(xml)
    g = root.find(f"devices/graphics[@type='{kind}']")
    if g is None or g.get("port") in (None, "-1"):
        return None
    return g.get("listen") or "127.0.0.1", int(g.get("port"))


def serial_tcp(xml: str) -> tuple[str, int] | None:
    root = ET.fromstring(xml)
    source = root.find("devices/serial[@type='tcp']/source")
    if source is None:
        return None
    return source.get("host"), int(source.get("service"))


def disk_xml(disk: Disk) -> str:
    """One ``<disk>`` element, for attaching a volume."""
    el = ET.Element("disk", type="file", device=disk.device)
    _sub(el, "driver", name="qemu", type=disk.format)
    _sub(el, "source", file=disk.path)
    _sub(el, "target", dev=disk.dev, bus=disk.bus)
    return ET.tostring(el, encoding="unicode")


def retarget(xml: str, host: str, old_path: str, new_path: str) -> str:
    """The domain XML *xml* for another compute host: its ``<metadata>``
    names *host*, and the files under *old_path* (the source's
    instances_path) are taken under *new_path* (the destination's)."""
    ET.register_namespace(METADATA_PREFIX, METADATA_NS)
    root = ET.fromstring(xml)
    found = root.find(f"metadata/{{{METADATA_NS}}}instance/{{{METADATA_NS}}}host")
    if found is not None:
        found.text = host
    if old_path != new_path:
        prefix = old_path.rstrip("/") + "/"

        def moved(value):
            if value and value.startswith(prefix):
                return new_path.rstrip("/") + "/" + value[len(prefix):]
            return value

        for el in root.iter():
            for key, value in el.attrib.items():
                el.set(key, moved(value))
            if el.text and el.text.strip():
                el.text = moved(el.text)
    return ET.tostring(root, encoding="unicode")


def writable_disk_targets(xml: str) -> list[str]:
    """Targets (vda ...) of the domain's writable file disks: what a block
    migration copies (the read-only config drive is made again)."""
    root = ET.fromstring(xml)
    return [d.find("target").get("dev") for d in root.findall("devices/disk")
            if d.get("device", "disk") == "disk" and d.find("readonly") is None
            and d.find("target") is not None]
