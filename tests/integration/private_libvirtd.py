"""A libvirtd of one's own on this machine: a second hypervisor host for
live migration tests where the machine has one libvirtd.

A root libvirtd keeps its state in fixed places (/etc/libvirt,
/run/libvirt, /var/lib/libvirt ...). :func:`start` runs another one in a
mount namespace of its own (``unshare --mount``) where those directories are
bind mounts of a private directory, with its own ``host_uuid`` (libvirt
refuses a migration between daemons of one host UUID), no cgroups, its own
VNC and migration port ranges, and a TCP listener on 127.0.0.1 (no auth): a
client, or the other libvirtd for a peer-to-peer migration, reaches it at
``qemu+tcp://127.0.0.1:<port>/system``. The machine's own libvirtd and its
guests are not touched. Both see the same files outside those directories:
the instances' disks are shared storage.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid

BIND = {"run": "/run/libvirt", "lib": "/var/lib/libvirt", "etc": "/etc/libvirt",
        "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}


def unavailable() -> str | None:
    """Why no private libvirtd can run here, or None."""
    if os.geteuid() != 0:
        return "a private system libvirtd needs root"
    for tool in ("unshare", "libvirtd", "virtlogd"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.path.isdir("/etc/libvirt"):
        return "/etc/libvirt is missing (libvirt-daemon-system)"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no mount namespace for a second libvirtd: {probe.stderr.strip()}"
    return None


def _copy_layout(source: str, target: str) -> None:
    """The directories of *source* (owners and modes kept) without their
    files and without the machine daemon's running guests' directories."""
    for root, dirs, _ in os.walk(source):
        dirs[:] = [d for d in dirs if not d.startswith("domain-")]
        for name in dirs:
            src = os.path.join(root, name)
            dst = os.path.join(target, os.path.relpath(src, source))
            st = os.stat(src)
            os.makedirs(dst, exist_ok=True)
            os.chmod(dst, st.st_mode & 0o7777)
            os.chown(dst, st.st_uid, st.st_gid)


class PrivateLibvirtd:
    def __init__(self, base: str, port: int, index: int):
        self.base = base
        self.port = port
        self.index = index
        self.uri = f"qemu+tcp://127.0.0.1:{port}/system"
        self.host_uuid = str(uuid.uuid4())

    def _pid(self, name) -> int | None:
        try:
            with open(os.path.join(self.base, f"{name}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self, timeout=60):
        if os.path.exists(self.base):
            shutil.rmtree(self.base)
        for sub in BIND:
            os.makedirs(os.path.join(self.base, sub))
        shutil.copytree("/etc/libvirt", os.path.join(self.base, "etc"), symlinks=True,
                        dirs_exist_ok=True)
        _copy_layout("/var/lib/libvirt", os.path.join(self.base, "lib"))
        autostart = os.path.join(self.base, "etc", "qemu", "networks", "autostart")
        shutil.rmtree(autostart, ignore_errors=True)  # no second virbr0 and dnsmasq
        for defs in ("qemu", "qemu/autostart"):  # no domains defined in the machine's
            path = os.path.join(self.base, "etc", defs)
            for name in os.listdir(path) if os.path.isdir(path) else ():
                if name.endswith(".xml"):
                    os.unlink(os.path.join(path, name))
        with open(os.path.join(self.base, "etc", "libvirtd.conf"), "a") as f:
            f.write(f'\nlisten_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\n'
                    f'tcp_port = "{self.port}"\nauth_tcp = "none"\n'
                    f'host_uuid = "{self.host_uuid}"\n')
        low = 6000 + 100 * self.index
        with open(os.path.join(self.base, "etc", "qemu.conf"), "a") as f:
            f.write(f"\ncgroup_controllers = [ ]\nremote_display_port_min = {low}\n"
                    f"remote_display_port_max = {low + 99}\n"
                    f"migration_port_min = {49200 + 100 * self.index}\n"
                    f"migration_port_max = {49299 + 100 * self.index}\n")
        mounts = " && ".join(f"mount --bind {os.path.join(self.base, sub)} {target}"
                             for sub, target in BIND.items() if os.path.isdir(target))
        script = (f"{mounts} && virtlogd -d -p {self.base}/virtlogd.pid && "
                  f"libvirtd -d --listen -p {self.base}/libvirtd.pid")
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"private libvirtd did not start: {proc.stderr.strip()}")
        import libvirt

        deadline = time.monotonic() + timeout
        while True:
            try:
                libvirt.open(self.uri).close()
                return self
            except libvirt.libvirtError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"private libvirtd at {self.uri} does not answer: "
                                       f"{exc.get_error_message()}") from None
            time.sleep(0.5)

    def stop(self):
        """Destroy its guests, stop its daemons (by their pids) and remove
        its directory."""
        try:
            import libvirt

            conn = libvirt.open(self.uri)
            for dom in conn.listAllDomains(0):
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                except libvirt.libvirtError:
                    pass
            conn.close()
        except Exception:  # noqa: BLE001 - a daemon that is gone already
            pass
        for name in ("libvirtd", "virtlogd"):
            pid = self._pid(name)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        shutil.rmtree(self.base, ignore_errors=True)


def start(name: str, port: int, index: int) -> PrivateLibvirtd:
    """A started private libvirtd in /var/tmp/<name> listening on *port*;
    *index* (1, 2 ...) keeps its port ranges apart from the others'.
    One that fails to start leaves nothing behind."""
    daemon = PrivateLibvirtd(os.path.join("/var/tmp", name), port, index)
    try:
        return daemon.start()
    except BaseException:
        daemon.stop()
        raise
