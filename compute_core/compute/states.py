"""vm_state and task_state values, and how they make an API status."""
from __future__ import annotations

import datetime

ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
RESCUED = "rescued"
RESIZED = "resized"
SOFT_DELETED = "soft-delete"
DELETED = "deleted"
ERROR = "error"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

SCHEDULING = "scheduling"
NETWORKING = "networking"
SPAWNING = "spawning"
DELETING = "deleting"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
REBOOT_PENDING = "reboot_pending"
REBOOT_STARTED = "reboot_started"
REBUILDING = "rebuilding"
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
REBUILD_SPAWNING = "rebuild_spawning"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
SHELVING = "shelving"
SHELVING_OFFLOADING = "shelving_offloading"
# A shelve captures the root disk into the "<name>-shelved" image first.
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
UNSHELVING = "unshelving"
UPDATING_PASSWORD = "updating_password"
SOFT_DELETING = "soft-deleting"
RESTORING = "restoring"
MIGRATING = "migrating"  # a live migration
REBUILD_TASKS = (REBUILDING, REBUILD_SPAWNING)
_RESIZE_TASKS = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH)
# A snapshot (createImage) or backup (createBackup): the API sets the
# first, the compute host the next two while the disk is captured and
# uploaded.
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_BACKUP = "image_backup"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"

_STATUS = {
    ACTIVE: "ACTIVE", BUILDING: "BUILD", PAUSED: "PAUSED", SUSPENDED: "SUSPENDED",
    STOPPED: "SHUTOFF", RESCUED: "RESCUE", RESIZED: "VERIFY_RESIZE",
    SOFT_DELETED: "SOFT_DELETED", DELETED: "DELETED", ERROR: "ERROR", SHELVED: "SHELVED",
    SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
}
_TASK_STATUS = {
    REBOOTING: "REBOOT", REBOOT_PENDING: "REBOOT", REBOOT_STARTED: "REBOOT",
    REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD",
    UPDATING_PASSWORD: "PASSWORD", MIGRATING: "MIGRATING",
}


def status_from_state(vm_state: str | None, task_state: str | None) -> str:
    """The server "status" the Compute API shows for a vm/task state pair."""
    if vm_state == ACTIVE and task_state in _TASK_STATUS:
        return _TASK_STATUS[task_state]
    if vm_state in (STOPPED, ERROR) and task_state in REBUILD_TASKS:
        return "REBUILD"
    if vm_state in (ACTIVE, STOPPED) and task_state in _RESIZE_TASKS:
        return "RESIZE"
    if vm_state == RESIZED and task_state == RESIZE_REVERTING:
        return "REVERT_RESIZE"
    if task_state == DELETING and vm_state not in (ERROR, DELETED):
        return "ACTIVE" if vm_state == ACTIVE else _STATUS.get(vm_state, "UNKNOWN")
    return _STATUS.get(vm_state, "UNKNOWN")


# API status filter -> vm_states
STATUS_TO_VM_STATES = {}
for _vm, _st in _STATUS.items():
    STATUS_TO_VM_STATES.setdefault(_st, []).append(_vm)


def build_started(instance) -> datetime.datetime | None:
    """When the build of *instance* (a row, or as it comes over RPC) last
    started: its creation, or its last scheduling (a build run again starts
    its timeout anew)."""
    times = [_as_datetime(instance.get(k)) for k in ("created_at", "scheduled_at")]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def _as_datetime(value):
    if value is None or isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        return None
