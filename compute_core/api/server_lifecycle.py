"""The server actions beyond power and moves, below HTTP: lock, reset
state, rescue, shelve, rebuild, evacuate, live migration, password,
console log, crash dump, soft delete and restore, security groups; and
the instance actions that record what was done to a server.

Each action checks what Nova checks (the lock, the vm_state and
task_state it starts from, the host's driver capability), moves the
instance to its task_state atomically, records the instance action, then
casts to the compute host (or to the conductor when a host must be
chosen). Refusals are exceptions the resource modules map to HTTP:
InstanceInvalidState and InstanceIsLocked (409), NotSupportedByDriver
(409), Invalid (400), Forbidden (403), InstanceNotFound (404).

It works on top of the server service (``servers``: the object that
creates, finds and deletes servers), which it is handed.
"""
from __future__ import annotations

import logging
import secrets

from compute_core import exception
from compute_core.api import hosts, views
from compute_core.compute import states
from compute_core.db import api_db, cell_db
from compute_core.db import server_groups as groups_db
from compute_core.image import snapshots
from compute_core.scheduler.host_manager import service_is_up

LOG = logging.getLogger(__name__)

#: trigger_crash_dump is allowed from these vm_states (as Nova allows it).
CRASH_DUMP_STATES = (states.ACTIVE, states.PAUSED, states.RESCUED, states.RESIZED,
                     states.ERROR)
#: The states os-resetState may set.
RESET_STATES = ("active", "error")


def generate_password(length=12) -> str:
    """A random password for a rescue or evacuation nobody gave one for."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ServerLifecycle:
    def __init__(self, servers):
        self.servers = servers
        self.s = servers.s

    # ------------------------------------------------------------ helpers
    def _db(self, inst):
        """The cell database of *inst*; a server still being scheduled (a
        build request) is not ready for any action."""
        if inst.get("cell_uuid") is None:
            raise exception.Conflict(f"Instance {inst['uuid']} is not ready")
        return self.s.cells.get(inst["cell_uuid"])

    @staticmethod
    def check_lock(ctxt, inst):
        """A locked server refuses its actions to everyone but admins."""
        if inst.get("locked") and not ctxt.is_admin:
            raise exception.InstanceIsLocked(instance_uuid=inst["uuid"])

    @staticmethod
    def _check_state(inst, action, vm_states, task_states=(None,)):
        uuid = inst["uuid"]
        if vm_states is not None and inst["vm_state"] not in vm_states:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="vm_state", state=inst["vm_state"])
        if task_states is not None and inst["task_state"] not in task_states:
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid,
                                                 attr="task_state", state=inst["task_state"])

    def _begin(self, ctxt, uuid, action, vm_states, task_state, *, task_states=(None,),
               record=None, capability=None, needs_host=True, check_lock=True,
               values=None, inst=None):
        """Check and start *action*: returns the instance in *task_state*
        (with *values* written in the same update) and records the instance
        action *record* (default: *action*)."""
        inst = inst or self.servers.get(ctxt, uuid)
        if check_lock:
            self.check_lock(ctxt, inst)
        self._check_state(inst, action, vm_states, task_states)
        if needs_host and not inst.get("host"):
            raise exception.Conflict(f"Instance {uuid} is not ready")
        db = self._db(inst)
        cell_uuid = inst["cell_uuid"]
        if capability:
            self.servers._check_driver_supports(db, inst, action, capability)
        update = dict(values or {}, task_state=task_state)
        try:
            inst = cell_db.update_instance(
                db, uuid, update, expected_task_state=list(task_states or [None]),
                **({} if vm_states is None else {"expected_vm_state": tuple(vm_states)}))
        except exception.InstanceInvalidState:
            now_inst = self.servers.get(ctxt, uuid)  # changed since we looked
            attr = "vm_state" if vm_states is not None and \
                now_inst["vm_state"] not in vm_states else "task_state"
            raise exception.InstanceInvalidState(action=action, instance_uuid=uuid, attr=attr,
                                                 state=now_inst[attr]) from None
        cell_db.start_action(db, uuid, record or action, ctxt)
        inst["cell_uuid"] = cell_uuid
        return inst

    def _host_up(self, db, host) -> bool:
        services = cell_db.list_services(db, host=host, binary="compute-compute")
        return bool(services) and not services[0].get("forced_down") and \
            service_is_up(services[0], self.s.conf.service_down_time)

    # -------------------------------------------------------- lock, state
    def lock(self, ctxt, uuid, reason=None):
        """Lock the server (by its owner or an admin, as ``locked_by`` says);
        *reason* (2.73) is shown as ``locked_reason``."""
        inst = self.servers.get(ctxt, uuid)
        db = self._db(inst)
        owner = ctxt.project_id == inst["project_id"]
        sysmeta = dict(inst.get("system_metadata") or {})
        sysmeta.pop("locked_reason", None)
        if reason:
            sysmeta["locked_reason"] = reason
        cell_db.update_instance(db, uuid, {"locked": True,
                                           "locked_by": "owner" if owner else "admin",
                                           "system_metadata": sysmeta}, read_back=False)
        cell_db.start_action(db, uuid, "lock", ctxt)

    def unlock(self, ctxt, uuid, may_override):
        """Unlock; a lock by the other party (owner or admin) is only lifted
        when *may_override*() (the unlock_override rule) allows it, else
        Forbidden."""
        inst = self.servers.get(ctxt, uuid)
        db = self._db(inst)
        owner = ctxt.project_id == inst["project_id"]
        expected = "owner" if owner else "admin"
        if inst.get("locked_by") and inst["locked_by"] != expected and not may_override():
            raise exception.Forbidden(
                "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
                "to be performed.")
        sysmeta = dict(inst.get("system_metadata") or {})
        sysmeta.pop("locked_reason", None)
        cell_db.update_instance(db, uuid, {"locked": False, "locked_by": None,
                                           "system_metadata": sysmeta}, read_back=False)
        cell_db.start_action(db, uuid, "unlock", ctxt)

    def reset_state(self, ctxt, uuid, state):
        """os-resetState (admin): vm_state active or error, no task."""
        if state not in RESET_STATES:
            raise exception.Invalid(f"Invalid input for field/attribute state. Value: {state}.")
        inst = self.servers.get(ctxt, uuid)
        db = self._db(inst)
        cell_db.update_instance(db, uuid, {"vm_state": state, "task_state": None},
                                read_back=False)
        cell_db.start_action(db, uuid, "resetState", ctxt)

    # ------------------------------------------------------------ rescue
    def rescue(self, ctxt, uuid, password=None, image=None) -> str:
        """Rescue (from ACTIVE, SHUTOFF or ERROR): returns the rescue
        system's password (the given one, or a generated one)."""
        password = password or generate_password()
        inst = self._begin(ctxt, uuid, "rescue", (states.ACTIVE, states.STOPPED, states.ERROR),
                           states.RESCUING, capability="supports_rescue")
        self.s.compute_rpc.rescue_instance(ctxt, inst["host"], inst, password,
                                           (image or {}).get("id"))
        return password

    def unrescue(self, ctxt, uuid):
        inst = self._begin(ctxt, uuid, "unrescue", (states.RESCUED,), states.UNRESCUING,
                           capability="supports_rescue")
        self.s.compute_rpc.unrescue_instance(ctxt, inst["host"], inst)

    # ----------------------------------------------------------- shelving
    SHELVE_STATES = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)

    def shelve(self, ctxt, uuid):
        """Shelve: the host captures the root disk into the queued image
        "<name>-shelved" (made here, as for createImage), powers the guest
        off (SHELVED) and, with [DEFAULT] shelved_offload_time = 0,
        offloads it at once. A host whose driver takes no snapshots
        (supports_snapshot false) or an image backend that takes none
        shelves without one (the server then respawns from its image)."""
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        self._check_state(inst, "shelve", self.SHELVE_STATES)
        image = None
        try:
            if inst.get("host"):
                self.servers._check_driver_supports(self._db(inst), inst, "shelve",
                                                    "supports_snapshot")
            image = snapshots.create_image(self.s.images, ctxt, inst,
                                           snapshots.shelved_image_name(inst))
        except (exception.Invalid, exception.NotSupportedByDriver) as exc:
            LOG.warning("shelving %s without a snapshot: %s", uuid, exc.message)
        try:
            inst = self._begin(ctxt, uuid, "shelve", self.SHELVE_STATES, states.SHELVING,
                               check_lock=False, inst=inst)
        except Exception:
            if image is not None:
                snapshots.forget(self.s.images, image["id"])
            raise
        offload = self.s.conf.shelved_offload_time == 0
        self.s.compute_rpc.shelve_instance(ctxt, inst["host"], inst, offload,
                                           image["id"] if image else None)

    def shelve_offload(self, ctxt, uuid):
        inst = self._begin(ctxt, uuid, "shelveOffload", (states.SHELVED,),
                           states.SHELVING_OFFLOADING)
        self.s.compute_rpc.shelve_offload_instance(ctxt, inst["host"], inst)

    _UNSET = object()

    def unshelve(self, ctxt, uuid, availability_zone=_UNSET, host=None):
        """Unshelve: a SHELVED server on its host, an offloaded one where
        the scheduler puts it (in *availability_zone*, 2.77; None unpins it,
        2.91; on *host*, 2.91, admin)."""
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        self._check_state(inst, "unshelve", (states.SHELVED, states.SHELVED_OFFLOADED))
        asked_az = availability_zone is not self._UNSET
        if inst["vm_state"] == states.SHELVED and (host or (asked_az and availability_zone)):
            raise exception.Conflict(
                f"The unshelve action failed: unshelving to an availability zone or a host "
                f"is only possible for a server in SHELVED_OFFLOADED; instance {uuid} is in "
                f"vm_state {inst['vm_state']}.")
        zone = availability_zone if asked_az else None
        # as Nova: the zone asked must exist (400), then the host (400), and
        # the host must be in the zone the server lands in (409)
        if zone and zone not in hosts.availability_zones(self.s):
            raise exception.Invalid("The requested availability zone is not available")
        if host:
            dest = self.servers.destination(host)
            expected = zone if asked_az else inst.get("availability_zone")
            if expected and hosts.HostZones(self.s)(dest["host"]) != expected:
                raise exception.Conflict(f"Host {dest['host']} is not in availability zone "
                                         f"{expected}.")
        values = {}
        if asked_az and availability_zone is None:
            values["availability_zone"] = None
        inst = self._begin(ctxt, uuid, "unshelve", (states.SHELVED, states.SHELVED_OFFLOADED),
                           states.UNSHELVING, needs_host=False, check_lock=False,
                           values=values, inst=inst)
        image = {"id": inst.get("image_ref"),
                 "properties": (inst.get("system_metadata") or {}).get("image_properties")}
        self.s.conductor_api.unshelve_instance(ctxt, uuid, image, zone, host)

    # ------------------------------------------------------------ rebuild
    def rebuild(self, ctxt, uuid, image, admin_password=None, **changes) -> dict:
        """Rebuild the server from *image* on its host, keeping its id and
        addresses; *changes* are instance columns the request sets at the
        same time (display_name, metadata, key_name, user_data,
        hostname, display_description, access_ip_v4/6). Returns the
        instance as it is now (REBUILD)."""
        inst = self.servers.get(ctxt, uuid)
        flavor = inst.get("flavor") or {}
        if image.get("min_ram") and flavor.get("memory_mb", 0) < image["min_ram"]:
            raise exception.Invalid("Flavor's memory is too small for requested image.")
        if image.get("min_disk") and flavor.get("root_gb") and \
                flavor["root_gb"] < image["min_disk"]:
            raise exception.Invalid("Flavor's disk is too small for requested image.")
        if changes.get("key_name") is not None:
            changes["key_data"] = api_db.get_key_pair_public_key(self.s.api_db, ctxt.user_id,
                                                                 changes["key_name"])
            if changes["key_data"] is None:
                raise exception.Invalid("Invalid key_name provided.")
        elif "key_name" in changes:
            changes["key_data"] = None
        metadata = changes.pop("metadata", None)
        if metadata is not None:
            limit = self.servers.quota.limits(inst["project_id"]).get("metadata_items", -1)
            if 0 <= limit < len(metadata):
                raise exception.QuotaExceeded(overs="metadata_items", req=len(metadata),
                                              used=0, allowed=limit)
            changes["metadata"] = metadata
        orig_image_ref = inst.get("image_ref")
        orig_sysmeta = dict(inst.get("system_metadata") or {})
        sysmeta = dict(orig_sysmeta, image_name=image.get("name"),
                       image_properties=image.get("properties") or {})
        values = dict(changes, image_ref=image["id"], system_metadata=sysmeta)
        inst = self._begin(ctxt, uuid, "rebuild", (states.ACTIVE, states.STOPPED,
                                                   states.ERROR),
                           states.REBUILDING, capability="supports_rebuild", values=values,
                           inst=inst)
        # A new image: the conductor asks the scheduler about the host, and
        # puts these back when it may not run it.
        self.s.conductor_api.rebuild_instance(ctxt, uuid, _image_for_rpc(image),
                                              admin_password, orig_image_ref, orig_sysmeta)
        return inst

    def evacuate(self, ctxt, uuid, host=None, force=False, admin_password=None,
                 target_state=None):
        """Rebuild the server of a down host elsewhere (admin): *host* is
        judged by the scheduler unless *force* (2.29–2.67); *target_state*
        (2.95: stopped) is the vm_state it ends in, else the one it had."""
        inst = self.servers.get(ctxt, uuid)
        self._check_state(inst, "evacuate", (states.ACTIVE, states.STOPPED, states.ERROR))
        source = inst.get("host")
        if not source:
            raise exception.Conflict(f"Instance {uuid} is not ready")
        if host is not None:
            try:
                self.servers.destination(host)
            except exception.ComputeHostNotFound:
                raise exception.ComputeHostNotFound(host=host) from None
            if host == source:
                raise exception.Invalid("The target host can't be the same one.")
        db = self._db(inst)
        if self._host_up(db, source):
            raise exception.Invalid(f"Compute service of {source} is still in use.")
        final = target_state or (states.STOPPED if inst["vm_state"] == states.STOPPED
                                 else states.ACTIVE)
        sysmeta = dict(inst.get("system_metadata") or {}, evacuate_target_state=final)
        inst = self._begin(ctxt, uuid, "evacuate", (states.ACTIVE, states.STOPPED,
                                                    states.ERROR),
                           states.REBUILDING, capability="supports_evacuate",
                           check_lock=False, values={"system_metadata": sysmeta}, inst=inst)
        image = {"id": inst.get("image_ref"),
                 "properties": sysmeta.get("image_properties") or {}}
        self.s.conductor_api.evacuate_instance(ctxt, uuid, image, admin_password, host, force)

    def live_migrate(self, ctxt, uuid, host=None, force=False):
        """Live-migrate (admin) an ACTIVE or PAUSED server: to the host the
        scheduler picks, or *host* (judged by the scheduler unless *force*,
        2.30–2.67)."""
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        self._check_state(inst, "os-migrateLive", (states.ACTIVE, states.PAUSED))
        if host is not None:
            self.servers.destination(host)  # ComputeHostNotFound: 400
        inst = self._begin(ctxt, uuid, "os-migrateLive", (states.ACTIVE, states.PAUSED),
                           states.MIGRATING, record="live-migration",
                           capability="supports_live_migration", check_lock=False, inst=inst)
        self.s.conductor_api.live_migrate_instance(ctxt, uuid, host, force)

    # ------------------------------------------- password, console, dump
    def change_password(self, ctxt, uuid, password):
        """changePassword of an ACTIVE server, answered by its host:
        NotImplementedByDriver (501) when the guest cannot take it now,
        Conflict (409) when the host failed to set it."""
        inst = self._begin(ctxt, uuid, "changePassword", (states.ACTIVE,),
                           states.UPDATING_PASSWORD,
                           capability="supports_set_admin_password")
        answer = self.s.compute_rpc.set_admin_password(ctxt, inst["host"], inst, password)
        if answer:
            if answer.get("error") == "NotImplementedByDriver":
                raise exception.NotImplementedByDriver(message=answer["message"])
            raise exception.Conflict(f"Failed to set admin password on {uuid} because "
                                     f"{answer.get('message')}")

    def console_output(self, ctxt, uuid, length=None) -> str:
        """The last *length* lines of the server's console log (all: None)."""
        inst = self.servers.get(ctxt, uuid)
        if not inst.get("host"):
            raise exception.Conflict(f"Instance {uuid} is not ready")
        self.servers._check_driver_supports(self._db(inst), inst, "os-getConsoleOutput",
                                            "supports_console_log")
        answer = self.s.compute_rpc.get_console_output(ctxt, inst["host"], inst, length)
        if answer.get("error") == "InstanceNotFound":
            raise exception.Conflict(f"Instance {uuid} is not ready")
        if answer.get("error") == "NotSupportedByDriver":
            raise exception.NotImplementedByDriver(message=answer["message"])
        if answer.get("error"):
            raise exception.NotFound(f"Guest does not have a console available. "
                                     f"{answer['message']}")
        return answer["output"]

    def trigger_crash_dump(self, ctxt, uuid):
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        if not inst.get("host"):
            raise exception.Conflict(f"Instance {uuid} is not ready")
        self._check_state(inst, "trigger_crash_dump", CRASH_DUMP_STATES)
        db = self._db(inst)
        self.servers._check_driver_supports(db, inst, "trigger_crash_dump",
                                            "supports_trigger_crash_dump")
        cell_db.start_action(db, uuid, "trigger_crash_dump", ctxt)
        self.s.compute_rpc.trigger_crash_dump(ctxt, inst["host"], inst)

    # ------------------------------------------------ soft delete, restore
    def soft_delete(self, ctxt, inst):
        """DELETE when [DEFAULT] reclaim_instance_interval > 0: the server
        waits SOFT_DELETED (its guest powered off) for restore, forceDelete
        or its host's reclaim. A server whose host is down is marked at once."""
        uuid = inst["uuid"]
        db = self._db(inst)
        if not self._host_up(db, inst["host"]):
            self._begin(ctxt, uuid, "delete", None, None, record="delete",
                        values={"vm_state": states.SOFT_DELETED,
                                "deleted_at": cell_db.now()}, check_lock=False, inst=inst)
            return
        inst = self._begin(ctxt, uuid, "delete", None, states.SOFT_DELETING, record="delete",
                           check_lock=False, inst=inst)
        self.s.compute_rpc.soft_delete_instance(ctxt, inst["host"], inst)

    def restore(self, ctxt, uuid):
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        self._check_state(inst, "restore", (states.SOFT_DELETED,))
        # A soft-deleted server still counts in its project's usage (it is
        # not deleted yet): restoring it takes no new quota. It stayed in its
        # server group too, as in Nova; one that left it (soft-deleted by an
        # older release, which dropped the membership) joins it again if
        # server_group_members has room.
        self._rejoin_group(inst)
        db = self._db(inst)
        if not inst.get("host") or not self._host_up(db, inst["host"]):
            # Its host is away: the guest is started when asked next.
            self._begin(ctxt, uuid, "restore", (states.SOFT_DELETED,), None,
                        values={"vm_state": states.ACTIVE, "deleted_at": None},
                        needs_host=False, check_lock=False, inst=inst)
            return
        inst = self._begin(ctxt, uuid, "restore", (states.SOFT_DELETED,), states.RESTORING,
                           check_lock=False, inst=inst)
        self.s.compute_rpc.restore_instance(ctxt, inst["host"], inst)

    def _rejoin_group(self, inst):
        """Make *inst* a member again of the group its boot named, if it
        is no longer one and the group still exists; QuotaExceeded (403)
        when the group is full."""
        uuid, api = inst["uuid"], self.s.api_db
        group = (api_db.get_request_spec(api, uuid) or {}).get("instance_group")
        if not group or groups_db.groups_of(api, [uuid]):
            return
        try:
            members = groups_db.get(api, group["uuid"])["members"]
        except groups_db.ServerGroupNotFound:
            return  # deleted meanwhile: nothing to join
        allowed = self.servers.quota.limits(inst["project_id"]).get("server_group_members",
                                                                    -1)

        def full(count):
            if 0 <= allowed < count:
                raise exception.QuotaExceeded(
                    overs="server_group_members", req=1, used=count - 1, allowed=allowed,
                    message="Quota exceeded, too many servers in group")

        full(len(members) + 1)
        members = groups_db.add_members(api, group["uuid"], [uuid])["members"]
        try:
            full(len(members))  # a concurrent boot took the place meanwhile
        except exception.QuotaExceeded:
            groups_db.remove_member(api, uuid)
            raise

    def force_delete(self, ctxt, uuid):
        """forceDelete: delete at once, soft-deleted or not."""
        inst = self.servers.get(ctxt, uuid)
        self.check_lock(ctxt, inst)
        self._check_state(inst, "forceDelete", None)
        self.servers.delete(ctxt, uuid, force=True)

    # ---------------------------------------------------- security groups
    def security_groups(self, ctxt, uuid) -> list[dict]:
        """The security groups of the server, as the network backend
        describes them."""
        inst = self.servers.get(ctxt, uuid)
        names = views.security_group_names(inst)
        return [self.s.network.get_security_group(inst["project_id"], name)
                for name in names]

    def add_security_group(self, ctxt, uuid, name):
        self._change_security_groups(ctxt, uuid, name, add=True)

    def remove_security_group(self, ctxt, uuid, name):
        self._change_security_groups(ctxt, uuid, name, add=False)

    def _change_security_groups(self, ctxt, uuid, name, add):
        inst = self.servers.get(ctxt, uuid)
        if inst.get("cell_uuid") is None:
            raise exception.Conflict(f"Instance {uuid} is not ready")
        group = self.s.network.get_security_group(inst["project_id"], name)
        current = views.security_group_names(inst)
        if add:
            if group["name"] in current:
                raise exception.Invalid(f"Security group {group['name']} is already "
                                        f"associated with the instance {uuid}")
            current.append(group["name"])
        else:
            if group["name"] not in current:
                raise exception.Invalid(f"Security group {group['name']} not associated "
                                        f"with the instance {uuid}")
            current.remove(group["name"])
        cell_db.update_instance(self._db(inst), uuid, {"security_groups": current},
                                read_back=False)

    # --------------------------------------------------- instance actions
    def _instance_for_actions(self, ctxt, uuid, read_deleted):
        inst = self.servers.get(ctxt, uuid, read_deleted=read_deleted)
        if inst.get("cell_uuid") is None:
            return inst, None
        return inst, self._db(inst)

    def list_actions(self, ctxt, uuid, read_deleted=False, limit=None, marker=None,
                     changes_since=None, changes_before=None) -> tuple[dict, list]:
        """(the server, its instance actions newest first); MarkerNotFound."""
        inst, db = self._instance_for_actions(ctxt, uuid, read_deleted)
        if db is None:
            if marker is not None:
                raise exception.MarkerNotFound(marker=marker)
            return inst, []
        return inst, cell_db.list_actions(db, uuid, limit=limit, marker=marker,
                                          changes_since=changes_since,
                                          changes_before=changes_before)

    def get_action(self, ctxt, uuid, request_id, read_deleted=False) -> tuple[dict, dict]:
        """(the server, its action of *request_id* with its events); NotFound."""
        inst, db = self._instance_for_actions(ctxt, uuid, read_deleted)
        action = None if db is None else cell_db.get_action(db, uuid, request_id)
        if action is None:
            raise exception.NotFound(f"Action {request_id} not found")
        return inst, action


def _image_for_rpc(image: dict) -> dict:
    return {k: image.get(k) for k in ("id", "name", "properties", "min_disk", "min_ram",
                                      "size", "disk_format")}
