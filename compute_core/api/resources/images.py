"""/images: the images proxy (to 2.35; the Image service's API after)."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import views
from compute_core.api.faults import APIError
from compute_core.api.microversion import versioned
from compute_core.apispec import keyed, operation

RULES = ()  # as in Nova, the proxy has no rule of its own: the image service decides

# The images proxy is removed after 2.35
PROXY_GONE = "The images proxy API is removed after microversion 2.35; use the Image service."
QUERY = {"name": {"type": "string"}, "status": {"type": "string"},
         "marker": {"type": "string"}, "limit": {"type": "integer"}}
_STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING",
           "deleted": "DELETED", "killed": "ERROR"}


def image_view(req, image, detail=True):
    out = {"id": image["id"], "name": image["name"],
           "links": views.links(req, "images", image["id"])}
    if not detail:
        return out
    status = _STATUS.get(image["status"], "UNKNOWN")
    out.update({
        "status": status, "progress": 100 if status == "ACTIVE" else 25,
        "minDisk": image["min_disk"] or 0, "minRam": image["min_ram"] or 0,
        "metadata": {k: str(v) for k, v in (image.get("properties") or {}).items()},
        "created": views.iso(image["created_at"]), "updated": views.iso(image["updated_at"]),
        "OS-EXT-IMG-SIZE:size": image.get("size") or 0,
    })
    return out


def _filtered(call):
    q = call.req.GET
    out = call.services.images.list()
    if "name" in q:
        out = [i for i in out if i["name"] == q["name"]]
    if "status" in q:
        out = [i for i in out if _STATUS.get(i["status"], "UNKNOWN") == q["status"].upper()]
    if "marker" in q:
        idx = next((n for n, i in enumerate(out) if i["id"] == q["marker"]), None)
        if idx is None:
            raise APIError(400, f"marker [{q['marker']}] not found")
        out = out[idx + 1:]
    if "limit" in q:
        try:
            out = out[:int(q["limit"])]
        except ValueError:
            raise APIError(400, f"Invalid limit {q['limit']}") from None
    return out


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
    try:
        image = call.services.images.get(image_id)
    except exception.ImageNotFound:
        raise APIError(404, f"Image {image_id} could not be found.") from None
    return 200, {"image": image_view(call.req, image)}


ROUTES = {
    "/images": {"GET": index},
    "/images/detail": {"GET": detail},
    "/images/{image_id}": {"GET": show},
}
