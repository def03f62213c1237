"""createImage and createBackup: the server actions that make images.

``{"createImage": {"name", "metadata"}}`` snapshots the server;
``{"createBackup": {"name", "backup_type", "rotation", "metadata"}}`` does
the same and keeps the newest *rotation* backups of that type (0: only
deletes them). Both answer 202: before 2.45 with the new image's URL in the
Location header, from 2.45 with ``{"image_id": ...}`` in the body. The
image is queued at once; the compute host fills it (see
:mod:`compute_core.image.snapshots`).
"""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.image import snapshots

RETURNS_IMAGE_ID = VersionRange("2.45")
CREATE_IMAGE_RULE = "os_compute_api:servers:create_image"
CREATE_BACKUP_RULE = "os_compute_api:os-create-backup"

RULES = (
    policy.rule(CREATE_IMAGE_RULE, policy.PROJECT_MEMBER_OR_ADMIN,
                "Create an image from a server",
                [("POST", "/servers/{server_id}/action (createImage)")]),
    policy.rule(CREATE_BACKUP_RULE, policy.PROJECT_MEMBER_OR_ADMIN,
                "Create a back up of a server",
                [("POST", "/servers/{server_id}/action (createBackup)")]),
)

_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?!\s*$).+"}
_METADATA = {"type": "object", "propertyNames": {"minLength": 1, "maxLength": 255},
             "additionalProperties": {"type": ["string", "null"], "maxLength": 255}}
CREATE_IMAGE = {
    "type": "object",
    "properties": {"createImage": {
        "type": "object",
        "properties": {"name": _NAME, "metadata": _METADATA},
        "required": ["name"], "additionalProperties": False}},
    "required": ["createImage"], "additionalProperties": False}
CREATE_BACKUP = {
    "type": "object",
    "properties": {"createBackup": {
        "type": "object",
        "properties": {"name": _NAME, "metadata": _METADATA,
                       "backup_type": {"type": "string", "minLength": 1, "maxLength": 255},
                       "rotation": {"type": ["integer", "string"],
                                    "pattern": r"^[0-9]+$", "minimum": 0}},
        "required": ["name", "backup_type", "rotation"], "additionalProperties": False}},
    "required": ["createBackup"], "additionalProperties": False}
SCHEMAS = {"createImage": CREATE_IMAGE, "createBackup": CREATE_BACKUP}


# Not a resource of its own: server_actions owns POST /servers/{id}/action,
# hands these keys here and lists these RULES with its own.
ACTIONS = tuple(SCHEMAS)


def image_action(call, server_id, body, key):
    """POST /servers/{id}/action with createImage or createBackup."""
    schemas.validate(body, SCHEMAS[key])
    args = body[key]
    call.authorize(CREATE_BACKUP_RULE if key == "createBackup" else CREATE_IMAGE_RULE)
    try:
        call.server_service.get(call.ctx, server_id)  # 404 for another project's
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    metadata = {k: "" if v is None else v for k, v in (args.get("metadata") or {}).items()}
    backup_type = args.get("backup_type") if key == "createBackup" else None
    rotation = int(args["rotation"]) if key == "createBackup" else None
    try:
        image = snapshots.start(call.services, call.ctx, server_id, args["name"], metadata,
                                backup_type, rotation)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.InstanceInvalidState as exc:
        state = exc.kwargs.get("state")
        attr = exc.kwargs.get("attr", "vm_state")
        raise APIError(409, f"Cannot '{key}' instance {server_id} while it is in {attr} "
                            f"{state}") from None
    except exception.Invalid as exc:
        raise APIError(400, exc.message) from None
    if image is None:
        return 202, None
    if call.version in RETURNS_IMAGE_ID:
        return 202, {"image_id": image["id"]}
    url = f"{call.req.application_url}/images/{image['id']}"
    return 202, None, {"Location": url}
