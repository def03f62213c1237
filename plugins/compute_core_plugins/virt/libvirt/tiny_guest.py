"""A tiny bootable guest built from what the machine has: Debian's cloud
kernel from /boot and a busybox-static initramfs (a newc cpio written here),
so that a first real server needs no download.

Its /init mounts devtmpfs on /dev (without it /dev/ttyS0 is a plain file),
loads the virtio modules (so the root disk shows as /dev/vda) and the ACPI
power button (busybox acpid powers off on it, so ACPI shutdown and reboot
work), then writes :data:`MARKER` to the serial console and to the screen
(the VGA text console, what VNC and SPICE show) and answers each line typed
on the serial port with :data:`ECHO` and the line.

The driver imports it as ``tiny-busybox`` when ``[libvirt]
import_tiny_guest_image`` is set (``compute-aio --driver libvirt`` sets it);
the integration tests and bench/libvirt_boot.py use it too.
"""
from __future__ import annotations

import glob
import io
import os
import platform
import shutil
import stat
import tempfile
import threading

MARKER = "COMPUTE-CORE-TINY-GUEST-UP"
ECHO = "TINY-GUEST-ECHO: "  # what the guest answers a line typed on its serial port
IMAGE_NAME = "tiny-busybox"
BUSYBOX = "/bin/busybox"
KERNEL_GLOB = "/boot/vmlinuz-*"
MODULES = ["virtio_blk", "virtio_net", "virtio_pci", "button", "evdev"]

INIT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in $(cat /etc/modules-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
mkdir -p /var/run /var/log
acpid -c /etc/acpi -l /dev/null
sleep 0.2
disk=none
[ -b /dev/vda ] && disk=vda
echo "{MARKER} disk=$disk" > /dev/ttyS0
echo "{MARKER} disk=$disk" > /dev/tty0
while true; do
  while read -r line; do echo "{ECHO}$line"; done < /dev/ttyS0 > /dev/ttyS0
  sleep 1
done
"""

POWER_BUTTON = "#!/bin/sh\necho 'power button: powering off' > /dev/ttyS0\npoweroff -f\n"


def find_kernel() -> str | None:
    """The newest cloud (or any) kernel in /boot readable here."""
    kernels = sorted(glob.glob(KERNEL_GLOB))
    cloud = [k for k in kernels if "cloud" in k]
    for path in reversed(cloud or kernels):
        if os.access(path, os.R_OK):
            return path
    return None


def missing() -> str | None:
    """Why the guest cannot be built here, or None."""
    if platform.machine() != "x86_64":
        return "the tiny guest is built for x86_64"
    if not os.path.exists(BUSYBOX) or "static" not in _file_kind(BUSYBOX):
        return f"{BUSYBOX} (busybox-static) is not installed"
    if find_kernel() is None:
        return "no kernel in /boot (apt-get install linux-image-cloud-amd64)"
    return None


def _file_kind(path) -> str:
    # A static binary has no PT_INTERP segment: look for the loader's name.
    with open(path, "rb") as f:
        head = f.read(4096)
    return "dynamic" if b"ld-linux" in head else "static"


def _module_order(kernel_path: str) -> list[tuple[str, str]]:
    """(name, path) of MODULES and their dependencies, dependencies first."""
    release = os.path.basename(kernel_path)[len("vmlinuz-"):]
    base = f"/lib/modules/{release}"
    deps = {}
    try:
        with open(os.path.join(base, "modules.dep")) as f:
            for line in f:
                mod, _, rest = line.partition(":")
                deps[mod] = rest.split()
    except OSError:
        return []
    by_name = {os.path.basename(m).split(".ko")[0]: m for m in deps}
    order: list[str] = []

    def visit(mod):
        for dep in deps.get(mod, []):
            visit(dep)
        if mod not in order:
            order.append(mod)

    for name in MODULES:
        if name in by_name:
            visit(by_name[name])
    return [(os.path.basename(m).split(".ko")[0], os.path.join(base, m)) for m in order
            if m.endswith(".ko")]


class _Cpio:
    """A newc cpio archive, as the kernel unpacks an initramfs."""

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", nlink=1):
        header = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
        self.ino += 1
        self.out.write(header.encode() + name.encode() + b"\0")
        self._pad()
        self.out.write(data)
        self._pad()

    def _pad(self):
        self.out.write(b"\0" * (-self.out.tell() % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.out.getvalue()


def build_initramfs(kernel_path: str) -> bytes:
    cpio = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF", "lib",
              "lib/modules", "tmp"):
        cpio.dir(d)
    with open(BUSYBOX, "rb") as f:
        cpio.file("bin/busybox", f.read(), 0o755)
    cpio.file("init", INIT.encode(), 0o755)
    cpio.file("etc/acpi/PWRF/00000080", POWER_BUTTON.encode(), 0o755)
    modules = _module_order(kernel_path)
    for name, path in modules:
        with open(path, "rb") as f:
            cpio.file(f"lib/modules/{name}.ko", f.read())
    cpio.file("etc/modules-order", "\n".join(n for n, _ in modules).encode() + b"\n")
    return cpio.finish()


def build(directory: str) -> dict:
    """Write kernel, initramfs and a small raw root disk into *directory*;
    return their paths and the kernel command line."""
    os.makedirs(directory, exist_ok=True)
    kernel_src = find_kernel()
    kernel = os.path.join(directory, "vmlinuz")
    shutil.copyfile(kernel_src, kernel)
    initrd = os.path.join(directory, "initrd.cpio")
    with open(initrd, "wb") as f:
        f.write(build_initramfs(kernel_src))
    disk = os.path.join(directory, "disk.raw")
    with open(disk, "wb") as f:
        f.truncate(16 << 20)
    return {"kernel": kernel, "ramdisk": initrd, "disk": disk,
            "cmdline": "console=ttyS0 panic=-1 quiet"}


def import_images(images, directory: str, name: str = "tiny") -> dict:
    """Build the guest and store it through an image backend: the kernel
    (aki), the ramdisk (ari) and a raw root disk whose properties point at
    both and give the command line (direct kernel boot). Returns the disk
    image."""
    parts = build(directory)
    with open(parts["kernel"], "rb") as f:
        kernel = images.create(f"{name}-kernel", f, disk_format="aki",
                               container_format="aki")
    with open(parts["ramdisk"], "rb") as f:
        ramdisk = images.create(f"{name}-ramdisk", f, disk_format="ari",
                                container_format="ari")
    with open(parts["disk"], "rb") as f:
        return images.create(name, f, disk_format="raw", container_format="bare",
                             properties={"kernel_id": kernel["id"],
                                         "ramdisk_id": ramdisk["id"],
                                         "os_command_line": parts["cmdline"],
                                         "os_type": "linux"})


_IMPORT_LOCK = threading.Lock()


def ensure_image(images, name: str = IMAGE_NAME) -> dict | None:
    """The image *name* in *images*, built and imported if missing; None
    (with nothing imported) where :func:`missing` says it cannot be built."""
    with _IMPORT_LOCK:
        for image in images.list():
            if image["name"] == name and image.get("status", "active") == "active":
                return image
        if missing():
            return None
        with tempfile.TemporaryDirectory(prefix="tiny-guest-") as tmp:
            return import_images(images, tmp, name)
