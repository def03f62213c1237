"""Live migration on the libvirt driver: peer to peer between libvirtds,
on shared storage or as a block migration, watched, aborted or forced to
complete on request.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

from compute_core import exception
from compute_core_plugins.virt.libvirt import config, disks
from compute_core_plugins.virt.libvirt.domains import _error
from compute_core_plugins.virt.libvirt.guest_build import GuestBuildMixin

LOG = logging.getLogger(__name__)

UNLIMITED_MIB_S = 1 << 30  # as good as no bandwidth limit for a migration


class LiveMigrationMixin(GuestBuildMixin):
    _migrating: dict[str, set]

    def _inbound_addr(self) -> str:
        return self.opts.live_migration_inbound_addr or self.conf.my_ip

    def _host_uuid(self) -> str:
        """What tells libvirt hosts apart: the host UUID libvirt reports (a
        hypervisor driver without one, test://, by its URI)."""
        return self._host.capabilities().findtext("host/uuid") or f"uri:{self._host.uri}"

    def pre_live_migration(self, context, instance, network_info, migrate_data):
        """Destination, before the move: where the instance directory is
        already here, the storage is shared with the source (nothing to
        make); otherwise the disks are made as at spawn (overlays on this
        host's bases, the config drive, the kernel fetched) for a block
        migration to fill. Answers what the source needs to reach this host."""
        directory = self._dir(instance)
        shared = os.path.isfile(os.path.join(directory, disks.DISK_INFO))
        marker = None
        if shared:
            # The source checks that it sees this file: a directory left
            # here by an earlier move is not shared storage.
            marker = f".shared-check-{uuidlib.uuid4().hex}"
            with open(os.path.join(directory, marker), "w"):
                pass
        else:
            try:
                os.makedirs(directory, mode=0o755, exist_ok=False)
            except FileExistsError:
                raise exception.VirtDriverError(
                    reason=f"instance directory {directory} exists already on {self.host} "
                           "without its disks (a leftover?)") from None
            try:
                self._prepare_guest(instance, {"id": instance.get("image_ref")},
                                    network_info, directory)
            except BaseException:
                disks.remove_dir(directory)
                raise
        return dict(migrate_data or {}, shared_storage=shared, shared_marker=marker,
                    dest_host=self.host,
                    dest_instances_path=self.instances_path,
                    dest_addr=self._inbound_addr(), dest_host_uuid=self._host_uuid())

    def live_migration(self, context, instance, dest, post_method, recover_method,
                       migrate_data):
        """Source: move the running (or paused) guest to *dest*'s libvirtd,
        peer to peer, its memory over ``tcp://<destination address>``; the
        disks stay where they are on shared storage, else are copied (block
        migration of the overlays). The domain is defined on the destination
        (naming that host in its metadata) and undefined here; without
        shared storage this host's files go too."""
        data = dict(migrate_data or {})
        dom = self._domain(instance)
        uuid = instance["uuid"]
        self._migrating[uuid] = set()
        try:
            self._migrate(dom, instance, dest, data)
        except Exception as exc:
            asked = self._migrating.get(uuid, set())
            if "force-complete" in asked and instance.get("vm_state") != "paused":
                self._resume_quietly(dom)  # paused to converge; it stays here
            recover_method(context, instance, dest, data)
            if "abort" in asked:
                raise exception.LiveMigrationAborted(
                    instance_uuid=uuid, reason="asked through the API") from exc
            raise
        finally:
            self._migrating.pop(uuid, None)
        if not data.get("shared_storage"):
            disks.remove_dir(self._dir(instance))
        LOG.info("live-migrated %s from %s to %s (%s)", instance["uuid"], self.host, dest,
                 "shared storage" if data.get("shared_storage") else "block migration")
        post_method(context, instance, dest, data)

    def _migrate(self, dom, instance, dest, data):
        if data.get("shared_storage"):
            marker = os.path.join(self._dir(instance), data.get("shared_marker") or "-")
            if not os.path.isfile(marker):
                raise exception.VirtDriverError(
                    reason=f"{dest} has a directory of {instance['uuid']} that {self.host} "
                           "does not see (not shared storage: a leftover of an earlier "
                           "move there?)")
            os.unlink(marker)
        if data.get("dest_host_uuid") and data["dest_host_uuid"] == self._host_uuid():
            raise exception.VirtDriverError(
                reason=f"{self.host} and {dest} use one libvirt host (UUID "
                       f"{data['dest_host_uuid']}): a live migration needs the destination "
                       "on a libvirtd of its own ([libvirt] connection_uri)")
        addr = data.get("dest_addr") or dest
        uri = self.opts.live_migration_uri % addr if self.opts.live_migration_uri else \
            f"qemu+{self.opts.live_migration_scheme}://{addr}/system"
        # The memory goes to the destination's address (without the port
        # of its libvirtd); QEMU listens on a port of libvirt's choosing.
        memory_host = addr.rsplit(":", 1)[0] if addr.count(":") == 1 else addr
        xml = config.retarget(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE), dest,
                              self.instances_path,
                              data.get("dest_instances_path") or self.instances_path)
        params = {libvirt.VIR_MIGRATE_PARAM_URI: f"tcp://{memory_host}",
                  libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
                  libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml}
        if self.opts.live_migration_bandwidth:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = self.opts.live_migration_bandwidth
        flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                 | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
        if self._state(dom) == libvirt.VIR_DOMAIN_PAUSED:
            flags |= libvirt.VIR_MIGRATE_PAUSED  # a paused server arrives paused
        if data.get("shared_storage"):
            # libvirt trusts only network filesystems as shared; the
            # destination found this instance's files in place itself.
            flags |= libvirt.VIR_MIGRATE_UNSAFE
        else:
            flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
            params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = config.writable_disk_targets(xml)
        outcome = {}

        def run():
            try:
                dom.migrateToURI3(uri, params, flags)
            except libvirt.libvirtError as exc:
                outcome["error"] = exc

        mover = threading.Thread(target=run, name=f"migrate-{instance['uuid']}", daemon=True)
        mover.start()
        self._watch_migration(dom, instance, mover, data)
        if "error" in outcome:
            raise _error(f"live migration of {dom.name()} to {dest} ({uri})",
                         outcome["error"])

    def _watch_migration(self, dom, instance, mover, data):
        """While the migration runs: report its progress, and abort it when
        it outlives [libvirt] live_migration_completion_timeout."""
        per_gib = self.opts.live_migration_completion_timeout
        size_gib = max(1, (instance.get("memory_mb") or 0) / 1024 + (
            0 if data.get("shared_storage") else (instance.get("root_gb") or 0)))
        deadline = time.monotonic() + per_gib * size_gib if per_gib else None
        while mover.is_alive():
            mover.join(0.5)
            if not mover.is_alive():
                break
            try:
                stats = dom.jobStats()
            except libvirt.libvirtError:
                continue
            self.emit_migration_progress(instance["uuid"], {
                k: stats.get(k) for k in ("memory_total", "memory_processed",
                                          "memory_remaining", "disk_total",
                                          "disk_processed", "disk_remaining")})
            if deadline is not None and time.monotonic() > deadline:
                LOG.warning("live migration of %s exceeded %s s: aborting it",
                            instance["uuid"], int(per_gib * size_gib))
                try:
                    dom.abortJob()
                except libvirt.libvirtError as exc:
                    LOG.warning("could not abort the migration of %s: %s", instance["uuid"],
                                exc.get_error_message())
                deadline = None

    def post_live_migration_at_destination(self, context, instance, network_info):
        """Destination, after the move: the guest runs here, defined (its
        metadata names this host); one paused only to force the move to
        complete runs again."""
        dom = self._domain(instance)
        if not dom.isPersistent():
            self._redefine(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), start=False)
        self._own_disks_again(dom)
        if instance.get("vm_state") != "paused" and \
                self._state(dom) == libvirt.VIR_DOMAIN_PAUSED:
            self._resume_quietly(dom)

    def rollback_live_migration_at_destination(self, context, instance, migrate_data):
        """The disks pre_live_migration made for a block migration that did
        not happen go (never shared files, nor a guest that runs here)."""
        if (migrate_data or {}).get("shared_storage", True):
            return
        if self._domain(instance, required=False) is not None:
            LOG.warning("%s has a domain on %s after a failed move: its files stay",
                        instance["uuid"], self.host)
            return
        disks.remove_dir(self._dir(instance))

    @staticmethod
    def _own_disks_again(dom):
        """On storage libvirt does not know as shared (one machine's files),
        the source's libvirtd gives the disks back to their first owner when
        the guest leaves it, under this host's QEMU: a guest that opens them
        again (one that moved paused opens them when it resumes) is refused.
        Give the writable disks to the user this host's QEMU runs as."""
        root = ET.fromstring(dom.XMLDesc(0))
        label = root.findtext("seclabel[@model='dac']/imagelabel") or \
            root.findtext("seclabel[@model='dac']/label") or ""
        try:
            uid, gid = (int(part.lstrip("+")) for part in label.split(":"))
        except ValueError:
            return  # no DAC labels (test://, or relabelling off)
        for target in config.writable_disk_targets(ET.tostring(root, encoding="unicode")):
            disk = root.find(f"devices/disk/target[@dev='{target}']/../source")
            path = disk.get("file") if disk is not None else None
            if path and os.path.exists(path) and os.stat(path).st_uid != uid:
                os.chown(path, uid, gid)

    @staticmethod
    def _resume_quietly(dom):
        try:
            dom.resume()
        except libvirt.libvirtError as exc:
            LOG.warning("could not resume %s: %s", dom.name(), exc.get_error_message())

    def _ask_migration(self, instance, what):
        """Note *what* was asked of the running migration of *instance*;
        its domain."""
        asked = self._migrating.get(instance["uuid"])
        if asked is None:
            raise exception.VirtDriverError(
                reason=f"no live migration of {instance['uuid']} runs on {self.host}")
        asked.add(what)
        return self._domain(instance)

    def live_migration_abort(self, instance):
        dom = self._ask_migration(instance, "abort")
        try:
            dom.abortJob()
        except libvirt.libvirtError as exc:
            raise _error(f"aborting the migration of {dom.name()}", exc) from None

    def live_migration_force_complete(self, instance):
        """Pause the guest: its memory stops changing, so the copy catches
        up and the move ends (on the destination it runs again); the
        bandwidth cap is lifted."""
        dom = self._ask_migration(instance, "force-complete")
        try:
            if self._state(dom) == libvirt.VIR_DOMAIN_RUNNING:
                dom.suspend()
            # "now": without live_migration_bandwidth's cap as well
            dom.migrateSetMaxSpeed(UNLIMITED_MIB_S, 0)
        except libvirt.libvirtError as exc:
            raise _error(f"pausing {dom.name()} to complete its migration", exc) from None
