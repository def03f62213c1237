"""Snapshots and backups of servers (the Compute API's ``createImage`` and
``createBackup``): the part done while the request waits, before the
conductor hands the work to the instance's compute host.

:func:`start` checks the server's state, creates the queued image with the
properties Nova gives a snapshot (the base image's, ``image_type``,
``instance_uuid``, ``base_image_ref``, ``user_id``, ``owner``, the request's
metadata; ``backup_type`` for a backup), puts the server in task_state
``image_snapshot`` / ``image_backup`` and casts to the conductor. The image
then goes queued -> saving -> active as the host uploads the disk.
"""
from __future__ import annotations

import logging

from compute_core import exception
from compute_core.compute import states
from compute_core.db import cell_db

LOG = logging.getLogger(__name__)

# vm_states a server may be snapshotted in (as Nova allows).
SNAPSHOT_VM_STATES = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED)
# The image_* system_metadata items that are not properties.
_KEPT_FIELDS = {"min_disk", "min_ram", "disk_format", "container_format", "base_image_ref",
                "name", "properties"}
# Base image properties a snapshot does not inherit: they describe the
# base image's data, not the snapshot's.
_NOT_INHERITED = {"image_type", "instance_uuid", "base_image_ref", "backup_type",
                  "user_id", "owner_project_name", "owner_user_name", "img_signature",
                  "img_signature_hash_method", "img_signature_key_type",
                  "img_signature_certificate_uuid"}


def _base_image(images, instance):
    try:
        return images.get(instance["image_ref"]) if instance.get("image_ref") else None
    except exception.ImageNotFound:
        return None  # deleted since the boot (allowed): the snapshot still works


def image_properties(instance, base, ctxt, metadata=None, backup_type=None) -> dict:
    """The properties of a snapshot (or backup) of *instance*."""
    inherited = dict((base or {}).get("properties") or {})
    if base is None or base.get("properties") is None:  # gone: what the server kept
        sysmeta = instance.get("system_metadata") or {}
        inherited = {k[len("image_"):]: v for k, v in sysmeta.items()
                     if k.startswith("image_") and isinstance(v, str)
                     and k[len("image_"):] not in _KEPT_FIELDS}
    props = {k: str(v) for k, v in inherited.items() if k not in _NOT_INHERITED}
    props.update({"image_type": "backup" if backup_type else "snapshot",
                  "instance_uuid": instance["uuid"],
                  "user_id": ctxt.user_id or instance.get("user_id") or ""})
    if instance.get("image_ref"):
        props["base_image_ref"] = instance["image_ref"]
    if backup_type:
        props["backup_type"] = backup_type
    props.update({str(k): str(v) for k, v in (metadata or {}).items()})
    return props


def start(services, ctxt, instance_uuid, name, metadata=None, backup_type=None,
          rotation=None) -> dict | None:
    """Begin a snapshot (*backup_type* None) or a backup of the server;
    returns the queued image, or None for a backup with rotation 0 (which
    only deletes the server's backups of that type, as in Nova). Raises
    InstanceNotFound, InstanceInvalidState (409) or Invalid."""
    _, db = services.cells.for_instance(instance_uuid)
    if db is None:
        raise exception.InstanceInvalidState(action="createImage", instance_uuid=instance_uuid,
                                             attr="vm_state", state=states.BUILDING)
    instance = cell_db.get_instance(db, instance_uuid)
    action = "createBackup" if backup_type else "createImage"
    if instance.get("vm_state") not in SNAPSHOT_VM_STATES:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance_uuid,
                                             attr="vm_state", state=instance.get("vm_state"))
    if instance.get("task_state") is not None:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance_uuid,
                                             attr="task_state",
                                             state=instance.get("task_state"))
    images = services.images
    if backup_type and rotation == 0:
        rotate_backups(images, instance_uuid, backup_type, 0)
        return None
    image = create_image(images, ctxt, instance, name, metadata, backup_type)
    task = states.IMAGE_BACKUP if backup_type else states.IMAGE_SNAPSHOT
    try:
        cell_db.update_instance(db, instance_uuid, {"task_state": task},
                                expected_task_state=None, expected_vm_state=SNAPSHOT_VM_STATES)
    except (exception.InstanceInvalidState, exception.InstanceNotFound):
        forget(images, image["id"])
        raise
    services.conductor_api.snapshot_instance(ctxt, instance_uuid, image["id"], backup_type,
                                             rotation)
    return image


def create_image(images, ctxt, instance, name, metadata=None, backup_type=None) -> dict:
    """The queued image a snapshot (or backup, or shelve) of *instance*
    will be captured into, with the properties Nova gives it."""
    base = _base_image(images, instance)
    if base is None:  # gone: what the server kept of it
        sysmeta = instance.get("system_metadata") or {}
        base = {k: sysmeta.get(f"image_{k}") for k in ("disk_format", "container_format")}
        base["min_disk"] = int(sysmeta.get("image_min_disk") or 0)
        base["min_ram"] = int(sysmeta.get("image_min_ram") or 0)
        base["properties"] = None  # image_properties() reads them from the sysmeta
    root_gb = (instance.get("flavor") or {}).get("root_gb") or instance.get("root_gb") or 0
    return images.create_record(
        name, disk_format=(base or {}).get("disk_format") or "raw",
        container_format=(base or {}).get("container_format") or "bare",
        properties=image_properties(instance, base, ctxt, metadata, backup_type),
        min_disk=max(root_gb, (base or {}).get("min_disk") or 0),
        min_ram=(base or {}).get("min_ram") or 0,
        owner=instance.get("project_id"), visibility="private")


def forget(images, image_id):
    try:
        images.delete(image_id)
    except exception.ImageNotFound:
        pass


#: The system_metadata keys of a shelved server (Nova's).
SHELVED_KEYS = ("shelved_at", "shelved_image_id", "shelved_host")


def shelved_image_name(instance) -> str:
    """The name of the image a shelve captures the server's disk into."""
    return f"{instance.get('display_name') or instance['uuid']}-shelved"


def delete_shelved_image(images, instance) -> str | None:
    """Delete the image the shelve of *instance* made (once unshelved or
    deleted, as Nova does); returns its id, None when there was none. A
    backend that fails is logged, not raised: the server goes on."""
    image_id = (instance.get("system_metadata") or {}).get("shelved_image_id")
    if not image_id:
        return None
    try:
        forget(images, image_id)
    except Exception:
        LOG.exception("could not delete the image %s of shelved instance %s", image_id,
                      instance["uuid"])
    return image_id


def rotate_backups(images, instance_uuid, backup_type, rotation) -> list[str]:
    """Delete the server's oldest backups of *backup_type* beyond the newest
    *rotation*; returns the ids deleted."""
    backups = [i for i in images.list()
               if (i.get("properties") or {}).get("image_type") == "backup"
               and i["properties"].get("instance_uuid") == instance_uuid
               and i["properties"].get("backup_type") == backup_type]
    backups.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
    gone = []
    for old in backups[rotation:]:
        forget(images, old["id"])
        gone.append(old["id"])
    return gone
