"""/images: the image proxy (to 2.35; the Image service's API after),
reading through whichever image backend is configured: list and detail
with Nova's filters, show (status and progress mapped as Nova maps them),
delete, and /images/{id}/metadata (+ items)."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import query, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import versioned
from compute_core.apispec import keyed, operation

RULES = ()  # as in Nova, the proxy has no rule of its own: the image service decides

# The images proxy is removed after 2.35
PROXY_GONE = "The images proxy API is removed after microversion 2.35; use the Image service."
QUERY = {"name": {"type": "string"}, "status": {"type": "string"},
         "changes-since": {"type": "string", "format": "date-time"},
         "server": {"type": "string"}, "type": {"type": "string",
                                                "enum": ["snapshot", "backup"]},
         "minDisk": {"type": "integer", "minimum": 0},
         "minRam": {"type": "integer", "minimum": 0},
         "marker": {"type": "string"}, "limit": {"type": "integer", "minimum": 0}}
# Image service status -> the proxy's (Nova's map), and its progress
_STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING",
           "uploading": "SAVING", "importing": "SAVING", "killed": "ERROR",
           "deleted": "DELETED", "pending_delete": "DELETED"}
_PROGRESS = {"queued": 25, "saving": 50, "active": 100}
MAX_METADATA_ITEMS = 128
_ITEM = {"type": "string", "maxLength": 255}
_KEY = {"type": "string", "minLength": 1, "maxLength": 255}
METADATA_BODY = {"type": "object", "properties": {"metadata": {
    "type": "object", "propertyNames": _KEY, "additionalProperties": _ITEM}},
    "required": ["metadata"], "additionalProperties": False}
META_BODY = {"type": "object", "properties": {"meta": {
    "type": "object", "propertyNames": _KEY, "additionalProperties": _ITEM,
    "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"], "additionalProperties": False}


def image_view(req, image, detail=True):
    out = {"id": image["id"], "name": image["name"],
           "links": views.links(req, "images", image["id"])}
    if not detail:
        return out
    props = image.get("properties") or {}
    out.update({
        "status": _STATUS.get(image["status"], "UNKNOWN"),
        "progress": _PROGRESS.get(image["status"], 0),
        "minDisk": image["min_disk"] or 0, "minRam": image["min_ram"] or 0,
        "metadata": {k: str(v) for k, v in props.items()},
        "created": views.iso(image["created_at"]), "updated": views.iso(image["updated_at"]),
        "OS-EXT-IMG-SIZE:size": image.get("size") or 0,
    })
    if props.get("instance_uuid"):
        out["server"] = {"id": props["instance_uuid"],
                         "links": views.links(req, "servers", props["instance_uuid"])}
    if "auto_disk_config" in props:
        out["OS-DCF:diskConfig"] = "AUTO" if str(props["auto_disk_config"]).lower() in (
            "true", "1", "yes") else "MANUAL"
    return out


def _since(text):
    try:
        return query.utc_naive(text)
    except (ValueError, OverflowError):
        raise APIError(400, f"Invalid changes-since value {text!r}.") from None


def _visible(call):
    images = call.services.images
    return [i for i in images.list()
            if images.visible(i, call.ctx.project_id, call.ctx.is_admin)]


def _filtered(call):
    q = call.req.GET
    out = _visible(call)
    if "name" in q:
        out = [i for i in out if i["name"] == q["name"]]
    if "status" in q:
        out = [i for i in out if _STATUS.get(i["status"], "UNKNOWN") == q["status"].upper()]
    if "server" in q:
        server = q["server"].rstrip("/").rsplit("/", 1)[-1]
        out = [i for i in out if (i.get("properties") or {}).get("instance_uuid") == server]
    if "type" in q:
        out = [i for i in out if (i.get("properties") or {}).get("image_type") == q["type"]]
    for name, field in (("minDisk", "min_disk"), ("minRam", "min_ram")):
        minimum = query.integer(call, name)
        if minimum is not None:
            out = [i for i in out if (i[field] or 0) >= minimum]
    if "changes-since" in q:
        since = _since(q["changes-since"])
        out = [i for i in out if i["updated_at"] is not None and i["updated_at"] >= since]
    if "marker" in q:
        idx = next((n for n, i in enumerate(out) if i["id"] == q["marker"]), None)
        if idx is None:
            raise APIError(400, f"marker [{q['marker']}] not found")
        out = out[idx + 1:]
    return out[:query.page_limit(call)]


def _image(call, image_id):
    images = call.services.images
    try:
        image = images.get(image_id)
    except exception.ImageNotFound:
        image = None
    if image is None or not images.visible(image, call.ctx.project_id, call.ctx.is_admin):
        raise APIError(404, f"Image {image_id} could not be found.")
    return image


def _owner_or_admin(call, image):
    if not (call.ctx.is_admin or image.get("owner") == call.ctx.project_id):
        raise APIError(403, f"You are not allowed to change image {image['id']}.")


@versioned(high="2.35", outside=PROXY_GONE)
@operation("listImages", "List images (proxy)", ok={200: keyed("images")}, query=QUERY)
def index(call):
    return 200, {"images": [image_view(call.req, i, False) for i in _filtered(call)]}


@versioned(high="2.35", outside=PROXY_GONE)
@operation("listImagesDetailed", "List images with details (proxy)",
           ok={200: keyed("images")}, query=QUERY)
def detail(call):
    return 200, {"images": [image_view(call.req, i, True) for i in _filtered(call)]}


@versioned(high="2.35", outside=PROXY_GONE)
@operation("showImage", "Show an image (proxy)", ok={200: keyed("image")}, errors=(404,))
def show(call, image_id):
    return 200, {"image": image_view(call.req, _image(call, image_id))}


@versioned(high="2.35", outside=PROXY_GONE)
@operation("deleteImage", "Delete an image (proxy)", ok={204: None}, errors=(403, 404))
def delete(call, image_id):
    image = _image(call, image_id)
    _owner_or_admin(call, image)
    if image.get("protected"):
        raise APIError(403, f"Image {image_id} is protected and cannot be deleted.")
    try:
        call.services.images.delete(image_id)
    except exception.ImageNotFound:
        raise APIError(404, f"Image {image_id} could not be found.") from None
    return 204, None


# ------------------------------------------------------------- metadata
def _metadata(image):
    return {k: str(v) for k, v in (image.get("properties") or {}).items()}


def _change(call, image, set_props, remove=()):
    _owner_or_admin(call, image)
    after = dict(_metadata(image))
    for name in remove:
        after.pop(name, None)
    after.update(set_props)
    if len(after) > MAX_METADATA_ITEMS:
        raise APIError(403, f"Quota exceeded for metadata items: at most "
                            f"{MAX_METADATA_ITEMS}.")
    try:
        return call.services.images.set_properties(image["id"], set_props, remove)
    except exception.ImageNotFound:
        raise APIError(404, f"Image {image['id']} could not be found.") from None


@versioned(high="2.38", outside=PROXY_GONE)
@operation("listImageMetadata", "List an image's metadata (proxy)",
           ok={200: keyed("metadata")}, errors=(404,))
def metadata_index(call, image_id):
    return 200, {"metadata": _metadata(_image(call, image_id))}


@versioned(high="2.38", outside=PROXY_GONE)
@operation("createImageMetadata", "Add or update an image's metadata (proxy)",
           ok={200: keyed("metadata")}, errors=(400, 403, 404), body=METADATA_BODY)
def metadata_create(call, image_id):
    body = call.json()
    schemas.validate(body, METADATA_BODY)
    image = _change(call, _image(call, image_id), body["metadata"])
    return 200, {"metadata": _metadata(image)}


@versioned(high="2.38", outside=PROXY_GONE)
@operation("replaceImageMetadata", "Replace an image's metadata (proxy)",
           ok={200: keyed("metadata")}, errors=(400, 403, 404), body=METADATA_BODY)
def metadata_replace(call, image_id):
    body = call.json()
    schemas.validate(body, METADATA_BODY)
    image = _image(call, image_id)
    image = _change(call, image, body["metadata"], remove=list(_metadata(image)))
    return 200, {"metadata": _metadata(image)}


@versioned(high="2.38", outside=PROXY_GONE)
@operation("showImageMetadataItem", "Show an image's metadata item (proxy)",
           ok={200: keyed("meta")}, errors=(404,))
def metadata_show(call, image_id, key):
    metadata = _metadata(_image(call, image_id))
    if key not in metadata:
        raise APIError(404, f"Image {image_id} has no metadata item {key}.")
    return 200, {"meta": {key: metadata[key]}}


@versioned(high="2.38", outside=PROXY_GONE)
@operation("updateImageMetadataItem", "Create or update an image's metadata item (proxy)",
           ok={200: keyed("meta")}, errors=(400, 403, 404), body=META_BODY)
def metadata_update(call, image_id, key):
    body = call.json()
    schemas.validate(body, META_BODY)
    if key not in body["meta"]:
        raise APIError(400, "Request body and URI mismatch")
    image = _change(call, _image(call, image_id), {key: body["meta"][key]})
    return 200, {"meta": {key: _metadata(image)[key]}}


@versioned(high="2.38", outside=PROXY_GONE)
@operation("deleteImageMetadataItem", "Delete an image's metadata item (proxy)",
           ok={204: None}, errors=(403, 404))
def metadata_delete(call, image_id, key):
    image = _image(call, image_id)
    if key not in _metadata(image):
        raise APIError(404, f"Image {image_id} has no metadata item {key}.")
    _change(call, image, {}, remove=[key])
    return 204, None


ROUTES = {
    "/images": {"GET": index},
    "/images/detail": {"GET": detail},
    "/images/{image_id}": {"GET": show, "DELETE": delete},
    "/images/{image_id}/metadata": {"GET": metadata_index, "POST": metadata_create,
                                    "PUT": metadata_replace},
    "/images/{image_id}/metadata/{key}": {"GET": metadata_show, "PUT": metadata_update,
                                          "DELETE": metadata_delete},
}
