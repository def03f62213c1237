"""The server orchestration below HTTP: create, find, list, delete, power
actions and moves of servers across cells. The servers and server actions
resources call it; it calls the databases, placement, the conductor and the
compute hosts (quota checks through :mod:`compute_core.api.quota`, hosts
through :mod:`compute_core.api.hosts`)."""
from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
import re
import uuid as uuidlib

from compute_core import exception, notifications, regex_filter
from compute_core.api import hosts
from compute_core.api.quota import Quota
from compute_core.api.resources import server_groups
from compute_core.compute import rpcapi as compute_rpcapi
from compute_core.compute import states
from compute_core.api.server_lifecycle import ServerLifecycle
from compute_core.db import api_db, cell_db
from compute_core.db import server_groups as groups_db
from compute_core.db.cells import CELL0_UUID
from compute_core.image import snapshots
from compute_core.image import system_metadata as image_system_metadata
from compute_core.network import check_port_usable

LOG = logging.getLogger(__name__)


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def sanitize_hostname(name: str) -> str:
    host = re.sub(r"[ _]", "-", name.lower())
    host = re.sub(r"[^\w.-]+", "", host, flags=re.ASCII)
    host = re.sub(r"[.-]+$", "", re.sub(r"^[.-]+", "", host))[:63]
    return host or "server"


#: What _delete answers for a server it soft-deleted (or found so).
_SOFT_DELETED = "soft-deleted"


class ServerService:
    def __init__(self, services):
        self.s = services
        self.quota = Quota(services)

    def destination(self, host=None, node=None, db=None) -> dict:
        """The requested destination ``{"host", "node", "node_uuid"}`` of a
        compute host (by its mapping, or in the cell database *db* when
        given) and/or node (a hypervisor hostname in any cell);
        ComputeHostNotFound when there is none."""
        if host:
            if db is None:
                _, db = self.s.cells.for_host(host)
            nodes = cell_db.list_compute_nodes(db, host=host)
        else:
            nodes = [n for cell in self.s.cells.cells()
                     for n in cell_db.list_compute_nodes(self.s.cells.get(cell["uuid"]))]
        if node:
            nodes = [n for n in nodes if n["hypervisor_hostname"] == node]
        if not nodes:
            raise exception.ComputeHostNotFound(host=host or node)
        hosts = {n["host"] for n in nodes}
        dest = {"host": hosts.pop() if len(hosts) == 1 else host, "node": node}
        if len(nodes) == 1:
            dest["node_uuid"] = nodes[0]["uuid"]
        return {k: v for k, v in dest.items() if v}

    # ----------------------------------------------------------- create
    def create(self, ctxt, *, name, flavor, image, min_count=1, max_count=1, metadata=None,
               key_name=None, user_data=None, availability_zone=None, networks="auto",
               access_ip_v4=None, access_ip_v6=None, description=None, hostname=None,
               scheduler_hints=None, tags=None, config_drive=None, security_groups=None,
               requested_host=None, requested_node=None, forced_host=None, forced_node=None):
        """Record the build and hand it to the conductor; returns the
        instance dicts (build requests) and the reservation id.

        *requested_host* / *requested_node* (2.74) must name a compute host
        (and node) of the cloud, raising ComputeHostNotFound otherwise, and
        the filters still judge it; *forced_host* / *forced_node* (the
        ``zone:host:node`` form of the availability zone) skip the filters."""
        metadata = metadata or {}
        if availability_zone and not forced_host and \
                availability_zone not in hosts.availability_zones(self.s):
            raise exception.Invalid("The requested availability zone is not available")
        destination = self.destination(requested_host, requested_node) \
            if requested_host or requested_node else None
        # The user's own limits too, read once for the count and the recheck
        # (as the project's are).
        limits, user_bounds = self.quota.limits_and_user_bounds(ctxt.project_id, ctxt.user_id)
        if 0 <= limits.get("metadata_items", -1) < len(metadata):
            raise exception.QuotaExceeded(overs="metadata_items", req=len(metadata), used=0,
                                          allowed=limits["metadata_items"])
        key_data = None
        if key_name:
            key_data = api_db.get_key_pair_public_key(self.s.api_db, ctxt.user_id, key_name)
            if key_data is None:
                raise exception.Invalid("Invalid key_name provided.")
        if image.get("min_ram") and flavor["memory_mb"] < image["min_ram"]:
            raise exception.Invalid("Flavor's memory is too small for requested image.")
        if image.get("min_disk") and flavor["root_gb"] and flavor["root_gb"] < image["min_disk"]:
            raise exception.Invalid("Flavor's disk is too small for requested image.")
        if image.get("size") and flavor["root_gb"] and image["size"] > flavor["root_gb"] * 1024 ** 3:
            raise exception.Invalid("Flavor's disk is too small for requested image.")
        count = self.quota.servers_allowed(ctxt.project_id, flavor, min_count, max_count,
                                           limits, user_id=ctxt.user_id,
                                           user_bounds=user_bounds)
        group = None
        if (scheduler_hints or {}).get("group"):
            group = server_groups.group_for_boot(self.s, ctxt, scheduler_hints["group"], count,
                                                 limits)
        reservation_id = "r-" + uuidlib.uuid4().hex[:8]
        flavor_copy = api_db.instance_flavor(flavor)
        created = now()
        instances = []
        uuids = []
        for index in range(count):
            uuid = str(uuidlib.uuid4())
            display = name if count == 1 else f"{name}-{index + 1}"
            inst = {
                "uuid": uuid, "display_name": display, "display_description": description,
                "hostname": hostname or sanitize_hostname(display),
                "project_id": ctxt.project_id, "user_id": ctxt.user_id,
                "image_ref": image["id"], "flavor": flavor_copy, "vcpus": flavor["vcpus"],
                "memory_mb": flavor["memory_mb"], "root_gb": flavor["root_gb"],
                "ephemeral_gb": flavor["ephemeral_gb"], "availability_zone": availability_zone,
                "vm_state": states.BUILDING, "task_state": states.SCHEDULING, "power_state": 0,
                "key_name": key_name, "key_data": key_data, "user_data": user_data,
                "config_drive": "True" if config_drive else "", "access_ip_v4": access_ip_v4,
                "access_ip_v6": access_ip_v6, "launch_index": index,
                "reservation_id": reservation_id, "metadata": dict(metadata), "progress": 0,
                "locked": False, "tags": list(tags or []),
                "security_groups": security_groups or ["default"],
                "system_metadata": {**image_system_metadata(image),
                                    "scheduler_hints": scheduler_hints or {},
                                    "image_name": image.get("name"),
                                    "image_properties": image.get("properties") or {}},
                "created_at": created.isoformat(), "updated_at": None,
            }
            self._check_ports_usable(networks, inst)
            instances.append(inst)
            uuids.append(uuid)
        spec = {
            "project_id": ctxt.project_id, "user_id": ctxt.user_id, "flavor": flavor_copy,
            "image": {k: image.get(k) for k in ("id", "name", "properties", "min_disk",
                                                "min_ram", "size", "disk_format")},
            "num_instances": count, "scheduler_hints": scheduler_hints or {},
            "availability_zone": availability_zone, "instance_uuids": uuids,
            "requested_destination": destination,
            "force_hosts": [forced_host] if forced_host else [],
            "force_nodes": [forced_node] if forced_node else [],
            # Kept with the spec so that a conductor can run an interrupted
            # build again from the API database alone.
            "requested_networks": networks,
            "instance_group": group,
        }
        for inst in instances:
            api_db.create_build(self.s.api_db, inst, dict(spec, instance_uuid=inst["uuid"]))
        if group is not None:
            groups_db.add_members(self.s.api_db, group["uuid"], uuids)
        # Recheck: a concurrent request may have taken the room meanwhile.
        try:
            self.quota.check_servers(ctxt.project_id, 0, flavor, limits=limits,
                                     user_id=ctxt.user_id, user_bounds=user_bounds)
        except exception.QuotaExceeded:
            for inst in instances:
                api_db.delete_instance_records(self.s.api_db, inst["uuid"])
                groups_db.remove_member(self.s.api_db, inst["uuid"])
            raise
        for inst in instances:
            self.s.notifier.info(ctxt, "instance.create.requested",
                                 notifications.instance_payload(inst))
        self.s.conductor_api.schedule_and_build_instances(
            ctxt, uuids, spec, spec["image"], networks,
            builds={inst["uuid"]: inst for inst in instances})
        return instances, reservation_id

    # ------------------------------------------------------------- read
    def get(self, ctxt, uuid, read_deleted=False) -> dict:
        try:
            mapping = api_db.get_instance_mapping(self.s.api_db, uuid)
        except exception.InstanceNotFound:
            return self._unmapped(ctxt, uuid)
        if not self._may_see(ctxt, mapping["project_id"]):
            raise exception.InstanceNotFound(instance_id=uuid)
        if mapping["cell_uuid"] is None:
            build = api_db.get_build_request(self.s.api_db, uuid)
            if build is None:
                # The conductor may have just moved it into a cell.
                mapping = api_db.get_instance_mapping(self.s.api_db, uuid)
                if mapping["cell_uuid"] is None:
                    return self._unmapped(ctxt, uuid)
            else:
                return self._from_build(build)
        db = self.s.cells.get(mapping["cell_uuid"])
        inst = cell_db.get_instance(db, uuid, read_deleted=read_deleted)
        return self._with_fault(db, inst, mapping["cell_uuid"])

    def _check_ports_usable(self, networks, inst):
        """A port asked for that another project owns is Nova's
        PortNotUsable (a 400), refused before anything is recorded (Nova's
        compute host finds it later and fails the build; the conductor's
        binding here checks it again)."""
        for net in networks if isinstance(networks, list) else []:
            if net.get("port"):
                check_port_usable(self.s.network.get_port(net["port"]), inst["project_id"],
                                  inst["uuid"])

    def _unmapped(self, ctxt, uuid) -> dict:
        """A live cell row that no mapping leads to: its build was
        interrupted between the cell and the API database (a server deleted
        while the conductor moved it into a cell, a process killed between
        the two writes). The listing finds such a row in its cell, so GET
        and DELETE find it there too, marked ``unmapped`` (the conductor's
        recovery deletes or maps it); else InstanceNotFound."""
        for cell in self.s.cells.cells(include_cell0=True):
            db = self.s.cells.get(cell["uuid"])
            try:
                inst = cell_db.get_instance(db, uuid)
            except exception.InstanceNotFound:
                continue
            if self._may_see(ctxt, inst["project_id"]):
                return dict(self._with_fault(db, inst, cell["uuid"]), unmapped=True)
        raise exception.InstanceNotFound(instance_id=uuid)

    @staticmethod
    def _with_fault(db, inst, cell_uuid) -> dict:
        inst["fault"] = cell_db.get_fault(db, inst["uuid"]) if inst["vm_state"] in (
            states.ERROR, states.DELETED) else None
        inst["cell_uuid"] = cell_uuid
        return inst

    @staticmethod
    def _may_see(ctxt, project_id):
        return ctxt.is_admin or ctxt.project_id == project_id

    @staticmethod
    def _from_build(build) -> dict:
        inst = dict(build["instance"])
        inst["created_at"] = datetime.datetime.fromisoformat(inst["created_at"])
        inst.update(host=None, node=None, launched_at=None, terminated_at=None, fault=None,
                    network_info={}, deleted=0, cell_uuid=None)
        return inst

    def list(self, ctxt, filters: dict, limit=None, marker=None, sort_key="created_at",
             sort_dir="desc") -> list[dict]:
        """Servers across every cell and the build requests, newest first."""
        results = []
        want_build = not filters.get("deleted") and all(
            k not in filters for k in ("host", "node", "changes-since", "changes-before", "ip"))
        # Build requests before the cells: the conductor writes a server's
        # cell row before it drops the build request, so a server whose
        # build request is gone by this read is in its cell by the next one.
        # (Cells first could miss it: not in the cell yet, then no longer a
        # build request.)
        builds = api_db.list_build_requests(self.s.api_db, filters.get("project_id")) \
            if want_build else []
        cell_filters = dict(filters)
        for cell in self.s.cells.cells(include_cell0=True):
            db = self.s.cells.get(cell["uuid"])
            rows = cell_db.list_instances(db, dict(cell_filters), limit=None if marker else limit,
                                          sort_key=sort_key, sort_dir=sort_dir)
            for r in rows:
                r["cell_uuid"] = cell["uuid"]
            results.extend(rows)
        for build in builds:
            inst = self._from_build(build)
            if _build_matches(inst, filters):
                results.append(inst)
        seen = set()
        unique = []
        for r in results:  # a server moving into a cell may show twice: its cell row wins
            if r["uuid"] not in seen:
                seen.add(r["uuid"])
                unique.append(r)
        reverse = sort_dir == "desc"
        unique.sort(key=lambda r: (r.get(sort_key) is not None, r.get(sort_key) or 0,
                                   r["uuid"]), reverse=reverse)
        if marker:
            idx = next((i for i, r in enumerate(unique) if r["uuid"] == marker), None)
            if idx is None:
                raise exception.Invalid(f"marker [{marker}] not found")
            unique = unique[idx + 1:]
        if limit is not None:
            unique = unique[:limit]
        return unique

    # ----------------------------------------------------------- delete
    def update(self, ctxt, uuid, values: dict) -> dict:
        """Change a server's name, description, hostname or access
        addresses; a server still being scheduled has its build request
        changed (it takes the values into its cell)."""
        for _ in range(5):
            inst = self.get(ctxt, uuid)
            if inst.get("cell_uuid") is not None:
                db = self.s.cells.get(inst["cell_uuid"])
                cell_db.update_instance(db, uuid, values)
                return self.get(ctxt, uuid)
            if api_db.update_build_instance(self.s.api_db, uuid, values):
                return self.get(ctxt, uuid)
        raise exception.Conflict(f"Instance {uuid} is changing too fast to update; retry.")

    def delete(self, ctxt, uuid, force=False, current=None):
        """Delete the server; with [DEFAULT] reclaim_instance_interval set,
        a server that ran is soft-deleted instead unless *force*
        (forceDelete). *current*: the server as :meth:`get` gave it to the
        caller in this request (its first look, saving a second read)."""
        if self._delete(ctxt, uuid, force, current) is _SOFT_DELETED:
            # As in Nova, a soft-deleted server stays in its group (and
            # counts in server_group_members) until restored or reclaimed.
            return
        # accepted: the server leaves its group
        groups_db.remove_member(self.s.api_db, uuid)

    def _delete(self, ctxt, uuid, force=False, current=None):
        for _ in range(5):
            # Each look after the first reads again: the server moved on.
            inst, current = (self.get(ctxt, uuid) if current is None else current), None
            if inst.get("locked") and not ctxt.is_admin:
                raise exception.Conflict(f"Instance {uuid} is locked")
            if inst["cell_uuid"] is None:
                if api_db.delete_build_request(self.s.api_db, uuid):
                    # The conductor sees the build request gone and cleans
                    # up; allocations it may already hold go now, and so
                    # does a cell row it wrote before it stopped (killed):
                    # no one else would, and the listing would show it.
                    self._delete_cell_rows(ctxt, uuid)
                    self.s.placement.delete_allocations(uuid)
                    api_db.delete_instance_records(self.s.api_db, uuid)
                    return
                continue  # it reached a cell meanwhile: look again
            if inst.get("unmapped"):
                # Its build never went to a host: nothing to ask one.
                db = self.s.cells.get(inst["cell_uuid"])
                cell_db.start_action(db, uuid, "delete", ctxt)
                return self._local_delete(ctxt, db, inst)
            if inst["vm_state"] in (states.SHELVED, states.SHELVED_OFFLOADED):
                # The shelve's snapshot goes with the server, as in Nova.
                snapshots.delete_shelved_image(self.s.images, inst)
            if inst["vm_state"] == states.RESIZED:
                inst = self._confirm_before_delete(ctxt, inst)
            if not force and self.s.conf.reclaim_instance_interval > 0 and \
                    inst.get("launched_at") and inst.get("host"):
                if inst["vm_state"] == states.SOFT_DELETED:
                    return _SOFT_DELETED  # deleted already, until reclaimed
                try:
                    ServerLifecycle(self).soft_delete(ctxt, inst)
                    return _SOFT_DELETED
                except exception.InstanceInvalidState:
                    pass  # busy: deleted at once, as Nova does
            return self._delete_in_cell(ctxt, inst)
        raise exception.Conflict(f"Instance {uuid} is changing too fast to delete; retry.")

    def _delete_cell_rows(self, ctxt, uuid):
        """Soft-delete the live cell rows of a server whose build request
        was just deleted (rows the conductor wrote before it could map them)."""
        for cell in self.s.cells.cells(include_cell0=True):
            db = self.s.cells.get(cell["uuid"])
            if cell_db.soft_delete_instance(db, uuid):
                LOG.info("deleted the unmapped row of %s in cell %s", uuid, cell["name"])
                self.s.network.deallocate_for_instance(uuid)

    def _delete_in_cell(self, ctxt, inst):
        uuid = inst["uuid"]
        db = self.s.cells.get(inst["cell_uuid"])
        cell_db.start_action(db, uuid, "delete", ctxt)
        host = inst.get("host")
        if inst["cell_uuid"] == CELL0_UUID or not host or not hosts.host_up(self.s, db, host):
            return self._local_delete(ctxt, db, inst)
        try:
            inst = cell_db.update_instance(db, uuid, {"task_state": states.DELETING})
        except exception.InstanceNotFound:
            return
        self.s.compute_rpc.terminate_instance(ctxt, host, inst)

    def _confirm_before_delete(self, ctxt, inst):
        """A server deleted in VERIFY_RESIZE is confirmed first, as Nova
        does, whichever way its delete then goes (soft, through its host, or
        local because its host is down): the source host drops its copy of
        the guest (the libvirt driver's ``<uuid>_resize`` directory), the
        migration's allocations on the source are freed, and the server
        leaves RESIZED for the state it had before the move."""
        uuid = inst["uuid"]
        db = self.s.cells.get(inst["cell_uuid"])
        migration = cell_db.migration_of_instance(db, uuid, ["finished", "confirming"])
        if migration is None:
            return inst  # confirmed or reverting meanwhile: deleted as it is
        cell_db.start_action(db, uuid, "confirmResize", ctxt)
        dropped = self._drop_source_copy(ctxt, db, inst, migration)
        self.s.placement.delete_allocations(migration["uuid"])
        cell_db.update_migration(db, migration["uuid"],
                                 {"status": "confirmed" if dropped else "error"})
        old_state = (inst.get("system_metadata") or {}).get("old_vm_state")
        try:
            cell_db.update_instance(
                db, uuid, {"vm_state": states.STOPPED if old_state == states.STOPPED
                           else states.ACTIVE},
                expected_vm_state=(states.RESIZED,), read_back=False)
        except exception.InstanceInvalidState:
            pass  # changed meanwhile: deleted from where it is now
        return self.get(ctxt, uuid)

    def _drop_source_copy(self, ctxt, db, inst, migration) -> bool:
        """Have the move's source host drop its copy of the guest; False
        (logged) when it is down or fails: its driver's leftover check then
        reports the copy."""
        source = migration["source_compute"]
        if not hosts.host_up(self.s, db, source):
            LOG.warning("source host %s of the move of %s is down: its copy of the guest "
                        "stays until it is cleaned up there", source, inst["uuid"])
            return False
        try:
            answer = self.s.compute_rpc.confirm_migration(ctxt, source, inst, migration)
        except Exception:
            LOG.exception("could not drop the source guest of %s on %s", inst["uuid"], source)
            return False
        if answer.get("error"):
            LOG.warning("source host %s could not drop its copy of %s: %s", source,
                        inst["uuid"], answer["error"])
            return False
        return True

    def _local_delete(self, ctxt, db, inst):
        """Delete without the compute host (never scheduled, or host down)."""
        uuid = inst["uuid"]
        self.s.notifier.info(ctxt, "instance.delete.start", notifications.instance_payload(inst))
        self.s.placement.delete_allocations(uuid)
        migration = cell_db.migration_of_instance(db, uuid, ["finished"])
        if migration is not None:  # waiting in VERIFY_RESIZE: the source's share too
            self.s.placement.delete_allocations(migration["uuid"])
            cell_db.update_migration(db, migration["uuid"], {"status": "confirmed"})
        self.s.network.deallocate_for_instance(uuid)
        cell_db.soft_delete_instance(db, uuid)
        self.s.notifier.info(ctxt, "instance.delete.end",
                             notifications.instance_payload(dict(inst, vm_state="deleted")))

    # ----------------------------------------------------- power actions
    def power_action(self, ctxt, uuid, action, reboot_type="SOFT"):
        """Start a server action (stop, start, reboot, pause, unpause,
        suspend, resume): check the state as Nova does, refuse what the
        host's driver cannot do, set the task_state and cast to the host.

        Raises InstanceNotFound, or a Conflict (409) with Nova's wording.
        """
        rule = _POWER_ACTIONS[action]
        if action == "reboot" and reboot_type == "HARD":
            rule = _HARD_REBOOT
        inst = self.get(ctxt, uuid)
        if inst.get("locked") and not ctxt.is_admin:
            raise exception.Conflict(f"Instance {uuid} is locked")
        if rule.needs_host and not inst.get("host"):
            raise exception.Conflict(f"Instance {uuid} is not ready")
        if inst["vm_state"] not in rule.vm_states:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="vm_state", state=inst["vm_state"])
        if inst["task_state"] not in rule.task_states:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="task_state", state=inst["task_state"])
        if not inst.get("launched_at"):
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="launched_at", state=None)
        host = inst.get("host")
        if not host:  # a hard reboot of a server that never reached a host
            raise exception.Conflict(f"Instance {uuid} is not ready")
        db = self.s.cells.get(inst["cell_uuid"])
        if rule.capability:
            self._check_driver_supports(db, inst, action, rule.capability)
        try:
            inst = cell_db.update_instance(db, uuid, {"task_state": rule.task_state},
                                           expected_task_state=list(rule.task_states),
                                           expected_vm_state=rule.vm_states)
        except exception.InstanceInvalidState:
            # Changed since we looked: report the state it is in now.
            now_inst = self.get(ctxt, uuid)
            attr = "vm_state" if now_inst["vm_state"] not in rule.vm_states else "task_state"
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid, attr=attr,
                                                 state=now_inst[attr]) from None
        cell_db.start_action(db, uuid, action, ctxt)
        rpc = self.s.compute_rpc
        if action == "stop":
            rpc.stop_instance(ctxt, host, inst, clean_shutdown=True)
        elif action == "reboot":
            rpc.reboot_instance(ctxt, host, inst, reboot_type)
        else:
            getattr(rpc, f"{action}_instance")(ctxt, host, inst)

    # -------------------------------------------------------------- moves
    def move(self, ctxt, uuid, flavor_id=None, host=None):
        """Resize to *flavor_id*, or cold-migrate (no flavor: admin only,
        checked by the handler), to *host* when given (2.56): from ACTIVE or
        SHUTOFF with no task; the server then waits in VERIFY_RESIZE. An
        upsize must fit the project's cores and ram quota."""
        action = "resize" if flavor_id is not None else "migrate"
        inst = self.get(ctxt, uuid)
        if inst.get("locked") and not ctxt.is_admin:
            raise exception.Conflict(f"Instance {uuid} is locked")
        allowed = (states.ACTIVE, states.STOPPED)
        if inst["vm_state"] not in allowed:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="vm_state", state=inst["vm_state"])
        if inst["task_state"] is not None:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="task_state", state=inst["task_state"])
        db = self.s.cells.get(inst["cell_uuid"])
        destination = None
        if host is not None:
            if host == inst["host"]:
                raise exception.Invalid("Cannot migrate to the host where the server exists.")
            # A host of the server's own cell: moves do not cross cells.
            destination = self.destination(host, db=db)
        current = inst.get("flavor") or {}
        if flavor_id is None:
            flavor = current
        else:
            try:
                new = api_db.get_flavor(self.s.api_db, flavor_id, ctxt.project_id,
                                        ctxt.is_admin)
            except exception.FlavorNotFound:
                raise exception.Invalid(f"Flavor {flavor_id} could not be found.") from None
            if new["flavorid"] == current.get("flavorid"):
                raise exception.Invalid("When resizing, instances must change flavor!")
            if new["root_gb"] < current.get("root_gb", 0):
                raise exception.Invalid(
                    f"Resize error: Unable to resize disk down from "
                    f"{current.get('root_gb')} GB to {new['root_gb']} GB.")
            flavor = api_db.instance_flavor(new)
            self.quota.check_upsize(inst["project_id"], current, flavor)
        declared = self._check_driver_supports(db, inst, action, f"supports_{action}")
        same_host = self.s.conf.allow_resize_to_same_host if flavor_id is not None else \
            declared.get("supports_migrate_to_same_host", False)
        self._start_move_task(ctxt, db, uuid, action, states.RESIZE_PREP, allowed)
        self.s.conductor_api.migrate_server(
            ctxt, uuid, flavor, "resize" if flavor_id is not None else "migration",
            destination=destination, same_host=bool(same_host) and host is None)

    def _start_move_task(self, ctxt, db, uuid, action, task, vm_states):
        """Set *task* from no task and one of *vm_states*, and record the action."""
        try:
            cell_db.update_instance(db, uuid, {"task_state": task}, expected_task_state=[None],
                                    expected_vm_state=vm_states)
        except exception.InstanceInvalidState:
            now_inst = self.get(ctxt, uuid)  # changed since we looked
            attr = "vm_state" if now_inst["vm_state"] not in vm_states else "task_state"
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid, attr=attr,
                                                 state=now_inst[attr]) from None
        cell_db.start_action(db, uuid, action, ctxt)

    def finish_move(self, ctxt, uuid, confirm: bool):
        """confirmResize / revertResize of a server in VERIFY_RESIZE."""
        action = "confirmResize" if confirm else "revertResize"
        inst = self.get(ctxt, uuid)
        if inst["vm_state"] != states.RESIZED or inst["task_state"] is not None:
            attr = "vm_state" if inst["vm_state"] != states.RESIZED else "task_state"
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr=attr, state=inst[attr])
        db = self.s.cells.get(inst["cell_uuid"])
        migration = cell_db.migration_of_instance(db, uuid, ["finished"])
        if migration is None:
            raise exception.Invalid(f"Instance {uuid} has not been resized.")
        if not confirm and migration["old_flavor_id"] != migration["new_flavor_id"]:
            # Reverting a downsize grows the server back to its old flavor.
            try:
                old = api_db.get_flavor(self.s.api_db, migration["old_flavor_id"],
                                        inst["project_id"], True)
            except exception.FlavorNotFound:
                old = None
            if old is not None:
                self.quota.check_upsize(inst["project_id"], inst.get("flavor") or {},
                                        api_db.instance_flavor(old))
        task = states.RESIZE_CONFIRMING if confirm else states.RESIZE_REVERTING
        self._start_move_task(ctxt, db, uuid, action, task, (states.RESIZED,))
        if confirm:
            self.s.conductor_api.confirm_resize(ctxt, uuid)
        else:
            self.s.conductor_api.revert_resize(ctxt, uuid)

    @staticmethod
    def _check_driver_supports(db, inst, action, capability) -> dict:
        """Refuse, without asking the host, what its driver declared it
        cannot do (the compute service reports its driver's capabilities in
        the node's stats); returns those declarations. A host that has not
        reported yet is let through ({}): its driver then refuses and the
        action ends with a fault."""
        nodes = cell_db.list_compute_nodes(db, host=inst["host"])
        node = next((n for n in nodes if n["hypervisor_hostname"] == inst.get("node")),
                    nodes[0] if nodes else None)
        stats = (node or {}).get("stats") or {}
        declared = stats.get("driver_capabilities")
        if declared is None or declared.get(capability, False):
            return declared or {}
        raise exception.NotSupportedByDriver(
            f"Cannot '{action}' instance {inst['uuid']}: the virt driver of its host "
            f"({stats.get('virt_driver', 'unknown')}) does not support it "
            f"({capability} is false).")


@dataclasses.dataclass(frozen=True)
class _PowerRule:
    """When Nova allows a server action, and what it starts."""

    vm_states: tuple
    task_state: str
    task_states: tuple = (None,)
    capability: str | None = None
    needs_host: bool = True


_POWER_ACTIONS = {
    "stop": _PowerRule((states.ACTIVE, states.ERROR), states.POWERING_OFF),
    "start": _PowerRule((states.STOPPED,), states.POWERING_ON),
    "reboot": _PowerRule((states.ACTIVE,), states.REBOOTING, needs_host=False),
    "pause": _PowerRule((states.ACTIVE,), compute_rpcapi.PAUSING,
                        capability="supports_pause", needs_host=False),
    "unpause": _PowerRule((states.PAUSED,), compute_rpcapi.UNPAUSING,
                          capability="supports_pause", needs_host=False),
    "suspend": _PowerRule((states.ACTIVE,), compute_rpcapi.SUSPENDING,
                          capability="supports_suspend", needs_host=False),
    "resume": _PowerRule((states.SUSPENDED,), compute_rpcapi.RESUMING,
                         capability="supports_suspend", needs_host=False),
}
# A hard reboot is the way out of most states, even of a stuck soft reboot.
_HARD_REBOOT = _PowerRule(
    (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR),
    states.REBOOTING_HARD,
    task_states=(None, states.REBOOTING, states.REBOOT_PENDING, states.REBOOT_STARTED,
                 states.REBOOTING_HARD, compute_rpcapi.RESUMING, compute_rpcapi.UNPAUSING,
                 compute_rpcapi.PAUSING, compute_rpcapi.SUSPENDING),
    needs_host=False)
POWER_ACTIONS = tuple(_POWER_ACTIONS)


def _build_matches(inst, filters) -> bool:
    for key in ("project_id", "user_id", "image_ref", "reservation_id", "availability_zone",
                "key_name"):
        if key in filters and filters[key] is not None:
            want = filters[key]
            if (inst.get(key) not in want) if isinstance(want, (list, tuple, set)) \
                    else inst.get(key) != want:
                return False
    if "vm_state" in filters:
        want = filters["vm_state"]
        want = want if isinstance(want, (list, tuple, set)) else [want]
        if inst["vm_state"] not in want:
            return False
    if "name" in filters and not regex_filter.matches(filters["name"],
                                                      inst.get("display_name")):
        return False
    if "flavor_id" in filters and inst["flavor"]["flavorid"] != filters["flavor_id"]:
        return False
    return True


def decode_user_data(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        raise exception.Invalid("Userdata content cannot be decoded.") from None
    return value
