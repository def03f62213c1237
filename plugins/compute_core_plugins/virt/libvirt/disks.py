"""Base image cache and per-instance disks.

Base images are fetched once per host through the image backend into
``instances_path/_base/<image id>`` (checksum verified; concurrent fetches
of one image done once: a lock per image in the process, and an flock on
``_base`` across processes while a file is missing). Instance disks live in
``instances_path/<uuid>/``: ``disk`` (a qcow2 overlay on its base, or a raw
copy), ``disk.eph0`` (the flavor's ephemeral disk, formatted and labelled
``ephemeral0``), ``disk.swap`` (mkswap'ed), ``console.log`` and
``disk.info``, a JSON note of the bases the instance uses, which the cache
cleanup reads. With qcow2 the ephemeral and swap disks are overlays on
bases made once per host, named as Nova names them: ``ephemeral_<GiB>_<hash
of the format>`` and ``swap_<MiB>``; with raw they are formatted in place.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import threading
import time

from compute_core import exception

LOG = logging.getLogger(__name__)

BASE_DIR = "_base"
DISK_INFO = "disk.info"
QEMU_IMG = "qemu-img"


def qemu_img(*args, timeout=600) -> str:
    try:
        proc = subprocess.run([QEMU_IMG, *args], capture_output=True, text=True,
                              timeout=timeout)
    except FileNotFoundError:
        raise exception.VirtDriverError(
            reason="qemu-img is not installed (apt-get install qemu-utils)") from None
    if proc.returncode != 0:
        raise exception.VirtDriverError(
            reason=f"qemu-img {args[0]} failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def image_info(path: str) -> dict:
    """qemu-img's view of *path* (format, virtual-size, backing file);
    -U: the file may be open by a running guest."""
    return json.loads(qemu_img("info", "-U", "--output=json", path))


class _KeyedLocks:
    """A lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._locks: dict[str, list] = {}

    @contextlib.contextmanager
    def __call__(self, key):
        with self._lock:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        entry[0].acquire()
        try:
            yield
        finally:
            entry[0].release()
            with self._lock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    def __len__(self):
        with self._lock:
            return len(self._locks)


class ImageCache:
    """Base images of one host, fetched through *images* (an ImageBackend)."""

    def __init__(self, instances_path: str, images):
        self.instances_path = instances_path
        self.base_dir = os.path.join(instances_path, BASE_DIR)
        self.images = images
        self.locks = _KeyedLocks()

    def path(self, image_id: str) -> str:
        return os.path.join(self.base_dir, image_id)

    def fetch(self, image_id: str) -> tuple[str, dict]:
        """(local path, image) of *image_id*, fetched if not cached yet."""
        image = self.images.get(image_id)
        target = self.path(image_id)
        with self.locks(image_id):
            if not os.path.exists(target):
                os.makedirs(self.base_dir, mode=0o755, exist_ok=True)
                with _flock(self.base_dir):
                    if not os.path.exists(target):
                        self._copy(image, target)
            os.utime(target)  # last used: what the cleanup's age counts from
        return target, image

    def _copy(self, image, target):
        source = self.images.path(image["id"])
        tmp = f"{target}.part{os.getpid()}.{threading.get_ident()}"
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(source, "rb") as src, open(tmp, "wb") as out:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            expected = image.get("checksum")
            if expected and digest.hexdigest() != expected:
                raise exception.VirtDriverError(
                    reason=f"image {image['id']} is corrupt: checksum {digest.hexdigest()} "
                           f"instead of {expected}")
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        LOG.info("cached image %s (%s bytes) in %s", image["id"], image.get("size"),
                 self.base_dir)

    def generate(self, name: str, size: int, make) -> str:
        """The base *name* of *size* bytes, made once per host by
        ``make(path)`` on a sparse file (a filesystem or swap signature:
        the ephemeral and swap bases); concurrent callers wait for the
        first, as for fetched images."""
        target = self.path(name)
        with self.locks(name):
            if not os.path.exists(target):
                os.makedirs(self.base_dir, mode=0o755, exist_ok=True)
                with _flock(self.base_dir):
                    if not os.path.exists(target):
                        tmp = f"{target}.part{os.getpid()}.{threading.get_ident()}"
                        try:
                            with open(tmp, "wb") as f:
                                f.truncate(size)
                            make(tmp)
                            os.chmod(tmp, 0o644)
                            os.replace(tmp, target)
                        finally:
                            if os.path.exists(tmp):
                                os.unlink(tmp)
                        LOG.info("made base %s (%d bytes) in %s", name, size, self.base_dir)
            os.utime(target)
        return target

    def bases_in_use(self) -> set[str]:
        """Image ids named by the disk.info of every instance directory."""
        used = set()
        try:
            names = os.listdir(self.instances_path)
        except FileNotFoundError:
            return used
        for name in names:
            info = os.path.join(self.instances_path, name, DISK_INFO)
            try:
                with open(info) as f:
                    used.update(json.load(f).get("bases", []))
            except (OSError, ValueError):
                continue
        return used

    def cleanup(self, min_age: int) -> list[str]:
        """Remove the bases no instance uses, unused for *min_age* seconds;
        return their image ids."""
        removed = []
        try:
            names = os.listdir(self.base_dir)
        except FileNotFoundError:
            return removed
        used = self.bases_in_use()
        now = time.time()
        for name in names:
            if name in used or ".part" in name:
                continue
            with self.locks(name):
                path = self.path(name)
                try:
                    age = now - os.stat(path).st_mtime
                except FileNotFoundError:
                    continue
                if age < min_age or name in self.bases_in_use():
                    continue
                os.unlink(path)
                removed.append(name)
                LOG.info("removed unused base image %s (unused for %d s)", name, age)
        return removed


@contextlib.contextmanager
def _flock(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def instance_dir(instances_path: str, uuid: str) -> str:
    return os.path.join(instances_path, uuid)


def create_root_disk(path: str, base: str, base_format: str, size_gb: int,
                     images_type: str) -> None:
    """The instance's root disk at *path* from *base*, grown to *size_gb*
    (0: the image's own size). A flavor disk smaller than the image is refused."""
    virtual = image_info(base)["virtual-size"]
    if size_gb and size_gb * (1 << 30) < virtual:
        raise exception.VirtDriverError(
            reason=f"the flavor's disk ({size_gb} GiB) is smaller than the image "
                   f"({virtual} bytes)")
    fmt = "qcow2" if base_format == "qcow2" else "raw"
    if images_type == "qcow2":
        qemu_img("create", "-q", "-f", "qcow2", "-F", fmt, "-b", base, path)
    else:
        qemu_img("convert", "-q", "-f", fmt, "-O", "raw", base, path)
    if size_gb and size_gb * (1 << 30) > virtual:
        qemu_img("resize", "-q", "-f", images_type, path, f"{size_gb}G")


EPHEMERAL_LABEL = "ephemeral0"
# Nova's choices when neither [DEFAULT] virt_mkfs nor default_ephemeral_format
# says: by the image's os_type, vfat for any other (or none).
FS_BY_OS_TYPE = {"linux": "ext4", "windows": "ntfs"}
FALLBACK_FS = "vfat"


def mkfs_template(os_type: str | None, virt_mkfs: list[str]) -> str | None:
    """The [DEFAULT] virt_mkfs command of *os_type* (or its 'default'), if any."""
    commands = {}
    for entry in virt_mkfs or []:
        key, sep, command = entry.partition("=")
        if not sep or not command.strip():
            raise exception.ConfigError(
                f"[DEFAULT] virt_mkfs {entry!r} is not <os_type>=<command>")
        commands[key.strip()] = command.strip()
    return commands.get(os_type or "") or commands.get("default")


def ephemeral_fs(os_type: str | None, default_format: str | None) -> str:
    return default_format or FS_BY_OS_TYPE.get(os_type or "", FALLBACK_FS)


def mkfs_command(fs: str, target: str, label: str | None = None,
                 template: str | None = None) -> list[str]:
    """The command that makes filesystem *fs* (or ``swap``) on the plain
    file *target* (no loop device: mkfs works on files), labelled *label*;
    a virt_mkfs *template* replaces it."""
    if template:
        try:
            return shlex.split(template % {"fs_label": label or "", "target": target})
        except (KeyError, ValueError, TypeError) as exc:
            raise exception.ConfigError(
                f"[DEFAULT] virt_mkfs command {template!r} is not usable: {exc}") from None
    if fs == "swap":
        return ["mkswap", *(["-L", label] if label else []), target]
    command = ["mkfs", "-t", fs]
    if fs in ("ext2", "ext3", "ext4", "ntfs"):
        command.append("-F")  # a file, not a block device: do not ask
    if fs == "ntfs":
        command.append("-Q")  # quick: no zeroing of the whole size
    if label:
        command += ["-n" if fs in ("vfat", "msdos") else "-L", label]
    return command + [target]


def run_mkfs(command: list[str], timeout=300) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise exception.VirtDriverError(
            reason=f"{command[0]} is not installed (e2fsprogs, util-linux, dosfstools or "
                   "ntfs-3g has it)") from None
    if proc.returncode != 0:
        raise exception.VirtDriverError(
            reason=f"{' '.join(command[:3])} failed: "
                   f"{(proc.stderr or proc.stdout).strip() or proc.returncode}")


def ephemeral_base_name(size_gb: int, key: str) -> str:
    """Nova's name of a cached ephemeral base: its size and a short hash of
    how it is formatted (the filesystem or the virt_mkfs command)."""
    return f"ephemeral_{size_gb}_{hashlib.sha256(key.encode()).hexdigest()[:7]}"


def swap_base_name(size_mb: int) -> str:
    return f"swap_{size_mb}"


def is_generated_base(name: str) -> bool:
    """Whether a base of ``_base`` was made here (ephemeral, swap) rather
    than fetched from the image service."""
    return name.startswith(("ephemeral_", "swap_"))


def create_formatted_disk(path: str, size: int, command_for, images_type: str,
                          cache: ImageCache | None = None,
                          base_name: str | None = None) -> str | None:
    """The disk *path* of *size* bytes holding a fresh filesystem (or swap):
    with qcow2 an overlay on the base *base_name* made once in *cache*;
    with raw the file itself, formatted in place. ``command_for(target)``
    gives the mkfs command. Returns the base used (None when raw)."""
    if images_type != "qcow2":
        with open(path, "wb") as f:
            f.truncate(size)
        run_mkfs(command_for(path))
        return None
    base = cache.generate(base_name, size, lambda tmp: run_mkfs(command_for(tmp)))
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, path)
    return base_name


def create_blank_disk(path: str, size: str) -> None:
    """A blank qcow2 disk of *size* (qemu-img's notation: 1G, 512M)."""
    qemu_img("create", "-q", "-f", "qcow2", path, size)


def resize_disk(path: str, size_gb: int) -> None:
    """Grow *path* to *size_gb* (never shrinks: a smaller size is refused)."""
    info = image_info(path)
    if size_gb * (1 << 30) < info["virtual-size"]:
        raise exception.VirtDriverError(
            reason=f"disk {os.path.basename(path)} cannot shrink to {size_gb} GiB")
    if size_gb * (1 << 30) > info["virtual-size"]:
        qemu_img("resize", "-q", "-f", info["format"], path, f"{size_gb}G")


def write_disk_info(directory: str, info: dict) -> None:
    tmp = os.path.join(directory, DISK_INFO + ".tmp")
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, os.path.join(directory, DISK_INFO))


def read_disk_info(directory: str) -> dict:
    try:
        with open(os.path.join(directory, DISK_INFO)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def remove_dir(directory: str) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def make_traversable(path: str, fix: bool) -> list[str]:
    """Make every directory from / down to *path* searchable by others (QEMU
    runs as its own user); return the directories changed. With *fix*
    False, raise naming the first one that is not."""
    changed = []
    current = os.path.abspath(path)
    chain = []
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(chain):
        try:
            mode = os.stat(directory).st_mode
        except FileNotFoundError:
            continue
        if mode & 0o001:
            continue
        if not fix:
            raise exception.ConfigError(
                f"QEMU's user cannot reach [libvirt] instances_path: {directory} is not "
                "searchable by others (chmod o+x it, or set fix_path_permissions)")
        os.chmod(directory, (mode & 0o7777) | 0o001)
        changed.append(directory)
    return changed
