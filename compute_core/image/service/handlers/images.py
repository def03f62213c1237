"""/v2/images, /v2/images/{id}, its actions (deactivate, reactivate) and
its tags."""
from __future__ import annotations

import datetime
import urllib.parse
import uuid as uuidlib

import jsonschema

from compute_core.image.service import store as st
from compute_core.image.service.handlers import (check_owner, context, empty, image_or_404,
                                                 isotime, json_response, services)
from compute_core.image.service.handlers import body as json_body
from compute_core.image.service.handlers import schemas
from compute_core.image.service.store import ImageError

PATCH_TYPES = ("application/openstack-images-v2.1-json-patch",
               "application/openstack-images-v2.0-json-patch")
_VALIDATOR = jsonschema.Draft4Validator(schemas.validation_schema())
# Columns of the images table a request sets (the rest are properties).
_COLUMNS = ("name", "visibility", "protected", "os_hidden", "owner", "min_disk", "min_ram",
            "disk_format", "container_format")
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at", "min_disk", "min_ram", "visibility", "owner", "virtual_size",
             "os_hidden", "protected")
_TIME_OPS = ("gt", "gte", "lt", "lte", "eq", "neq")
MAX_INT = 2 ** 63 - 1  # the largest size a BIGINT holds
MAX_IN_VALUES = 1000


def view(image: dict) -> dict:
    out = {k: image.get(k) for k in st.CORE}
    out["created_at"] = isotime(image["created_at"])
    out["updated_at"] = isotime(image["updated_at"])
    out.update(image["properties"])
    out["self"] = f"/v2/images/{image['id']}"
    out["file"] = f"/v2/images/{image['id']}/file"
    out["schema"] = "/v2/schemas/image"
    return out


def _validate(doc: dict) -> None:
    error = next(iter(sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))), None)
    if error is not None:
        field = "/".join(str(p) for p in error.path) or "(body)"
        raise ImageError(400, f"Provided object does not match schema 'image': "
                              f"{field}: {error.message}")


def _check_writable(names, ctx) -> None:
    for name in names:
        if not 0 < len(name) <= 255:
            raise ImageError(400, f"Property names are 1 to 255 characters long "
                                  f"('{name[:40]}' is {len(name)}).")
        if name in schemas.READ_ONLY:
            raise ImageError(403, f"Attribute '{name}' is read-only.")
        if name in schemas.RESERVED:
            raise ImageError(403, f"Attribute '{name}' is reserved.")
        if name == "locations":
            raise ImageError(403, "Image locations are not supported by this image "
                                  "service.")


def _check_visibility(ctx, visibility) -> None:
    if visibility == "public" and not ctx.is_admin:
        raise ImageError(403, "You are not authorized to complete publicize_image action.")


def _split(doc: dict) -> tuple[dict, dict, list | None]:
    """(columns, properties, tags) of an image document."""
    columns = {k: doc[k] for k in _COLUMNS if k in doc}
    tags = doc.get("tags")
    props = {k: v for k, v in doc.items()
             if k not in _COLUMNS and k not in ("tags", "id") and k not in schemas.READ_ONLY}
    return columns, props, tags


# --------------------------------------------------------------- create
def create_image(req):
    ctx = context(req)
    doc = json_body(req)
    _check_writable(doc, ctx)
    _validate(doc)
    if "id" in doc:
        try:
            doc["id"] = str(uuidlib.UUID(doc["id"]))
        except ValueError:
            raise ImageError(400, f"id: {doc['id']!r} is not a UUID.") from None
    columns, props, tags = _split(doc)
    _check_visibility(ctx, columns.get("visibility"))
    if "owner" in columns and columns["owner"] != ctx.project_id and not ctx.is_admin:
        raise ImageError(403, "You are not permitted to create images owned by "
                              f"'{columns['owner']}'.")
    columns.setdefault("owner", ctx.project_id)
    columns.setdefault("protected", False)
    columns.setdefault("os_hidden", False)
    image = services(req).store.create({"id": doc.get("id"), **columns, "properties": props},
                                       tags or ())
    return json_response(view(image), 201, {"Location": f"{req.host_url}/v2/images/"
                                                        f"{image['id']}"})


# ----------------------------------------------------------------- show
def show_image(req, image_id):
    return json_response(view(image_or_404(req, image_id)))


# ----------------------------------------------------------------- list
def _bool(name, text):
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ImageError(400, f"Invalid value '{text}' for parameter '{name}': expected a "
                          "boolean.")


def _int(name, text, minimum=0):
    try:
        value = int(text)
    except ValueError:
        raise ImageError(400, f"Invalid value '{text}' for parameter '{name}': expected an "
                              "integer.") from None
    if not minimum <= value <= MAX_INT:
        raise ImageError(400, f"Invalid value '{text}' for parameter '{name}': must be "
                              f"between {minimum} and {MAX_INT}.")
    return value


def _time(name, text):
    op, sep, value = text.partition(":")
    if not sep or op not in _TIME_OPS:
        op, value = "eq", text
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is not None:
            # OverflowError past year 9999 or before year 1 in UTC
            when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ImageError(400, f"Invalid value '{text}' for parameter '{name}': expected "
                              "[gt|gte|lt|lte|eq|neq:]<ISO 8601 time>.") from None
    return op, when


def _in(name, text):
    """'in:a,b' -> ('in', [a, b]); else ('eq', text)."""
    if text.startswith("in:"):
        values = [v.strip('"') for v in text[3:].split(",")]
        if len(values) > MAX_IN_VALUES:
            raise ImageError(400, f"Invalid value for parameter '{name}': more than "
                                  f"{MAX_IN_VALUES} values after 'in:'.")
        return "in", values
    return "eq", text


def _sort(params) -> list[tuple[str, str]]:
    keys = params.getall("sort_key")
    dirs = params.getall("sort_dir")
    if "sort" in params:
        if keys or dirs:
            raise ImageError(400, "The 'sort' parameter cannot be combined with 'sort_key' "
                                  "or 'sort_dir'.")
        out = []
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            out.append((key, direction or "desc"))
    else:
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise ImageError(400, "The number of sort_dir values must be one or match the "
                                  "number of sort_key values.")
        keys = keys or ["created_at"]
        dirs = dirs * len(keys) if len(dirs) == 1 else dirs or ["desc"] * len(keys)
        out = list(zip(keys, dirs))
    for key, direction in out:
        if key not in SORT_KEYS:
            raise ImageError(400, f"Invalid sort key: {key}. It must be one of: "
                                  f"{', '.join(SORT_KEYS)}.")
        if direction not in ("asc", "desc"):
            raise ImageError(400, f"Invalid sort direction: {direction}. It must be asc or "
                                  "desc.")
    if not any(k == "id" for k, _ in out):
        out.append(("id", out[-1][1]))  # a total order, for markers
    return out


_LIST_PARAMS = {"limit", "marker", "sort", "sort_key", "sort_dir", "visibility",
                "member_status", "tag", "os_hidden", "size_min", "size_max", "created_at",
                "updated_at"}
_EQ_COLUMNS = ("name", "status", "owner", "disk_format", "container_format", "id")


def list_images(req):
    ctx = context(req)
    conf = services(req).conf
    params = req.GET
    visibility = params.get("visibility")
    if visibility is not None and visibility not in (*st.VISIBILITIES, "all"):
        raise ImageError(400, f"Invalid value '{visibility}' for parameter 'visibility': "
                              f"must be one of {', '.join((*st.VISIBILITIES, 'all'))}.")
    member_status = params.get("member_status", "accepted")
    if member_status not in (*st.MEMBER_STATUSES, "all"):
        raise ImageError(400, f"Invalid value '{member_status}' for parameter "
                              "'member_status'.")
    limit = _int("limit", params["limit"]) if "limit" in params else \
        conf.image.limit_param_default
    limit = min(limit, conf.image.api_limit_max)
    hidden = _bool("os_hidden", params["os_hidden"]) if "os_hidden" in params else False
    filters = {}
    for name in _EQ_COLUMNS:
        if name in params:
            filters[name] = [_in(name, params[name])]
    if "protected" in params:
        filters["protected"] = [("eq", _bool("protected", params["protected"]))]
    if "size_min" in params:
        filters.setdefault("size", []).append(("gte", _int("size_min", params["size_min"])))
    if "size_max" in params:
        filters.setdefault("size", []).append(("lte", _int("size_max", params["size_max"])))
    for name in ("created_at", "updated_at"):
        if name in params:
            filters[name] = [_time(name, params[name])]
    order = _sort(params)
    tags = params.getall("tag")
    props = {k: v for k, v in params.items()
             if k not in _LIST_PARAMS and k not in _EQ_COLUMNS and k != "protected"}
    store = services(req).store
    found = store.query(ctx, visibility, member_status, filters, hidden)
    found = [i for i in found if all(t in i["tags"] for t in tags)
             and all(str(i["properties"].get(k)) == v for k, v in props.items())]
    marker = params.get("marker")
    if marker is not None:
        try:
            marked = image_or_404(req, marker)
        except st.NotFound:
            raise ImageError(400, f"Invalid marker. Image {marker} could not be "
                                  "found.") from None
        marker = marked["id"]
        if all(i["id"] != marker for i in found):
            found.append(marked)
    for key, direction in reversed(order):
        present = [i for i in found if i.get(key) is not None]
        absent = [i for i in found if i.get(key) is None]
        present.sort(key=lambda i, k=key: i[k], reverse=direction == "desc")
        # None sorts first ascending, last descending (as NULLs in SQL)
        found = absent + present if direction == "asc" else present + absent
    if marker is not None:
        at = next(n for n, i in enumerate(found) if i["id"] == marker)
        found = found[at + 1:]
    page = found[:limit]
    body = {"images": [view(i) for i in page], "first": "/v2/images",
            "schema": "/v2/schemas/images"}
    if len(found) > limit and page:
        query = [(k, v) for k, v in params.items() if k != "marker"]
        query.append(("marker", page[-1]["id"]))
        body["next"] = "/v2/images?" + urllib.parse.urlencode(query)
    return json_response(body)


# --------------------------------------------------------------- update
def _pointer(path):
    if not isinstance(path, str) or not path.startswith("/") or path.count("/") != 1 \
            or len(path) < 2:
        raise ImageError(400, f"Invalid JSON pointer for this resource: '{path}'")
    return path[1:].replace("~1", "/").replace("~0", "~")


def update_image(req, image_id):
    ctx = context(req)
    content_type = req.content_type
    if content_type not in PATCH_TYPES:
        raise ImageError(415, f"Unsupported Content-Type '{content_type}': use "
                              f"{PATCH_TYPES[0]}.")
    image = image_or_404(req, image_id)
    check_owner(req, image, "update")
    ops = json_body(req, list)
    doc = {k: v for k, v in view(image).items() if k not in schemas.READ_ONLY and k != "id"}
    before = dict(doc)
    for n, op in enumerate(ops):
        if not isinstance(op, dict):
            raise ImageError(400, f"Operation {n} must be a JSON object.")
        kind = op.get("op")
        if kind not in ("add", "replace", "remove"):
            raise ImageError(400, f"Operation {n}: op must be one of add, replace, remove "
                                  f"(not {kind!r}).")
        name = _pointer(op.get("path"))
        if name == "id":
            raise ImageError(403, "Attribute 'id' is read-only.")
        _check_writable([name], ctx)
        if kind != "remove" and "value" not in op:
            raise ImageError(400, f"Operation {n} ({kind} {op['path']}) has no value.")
        if kind == "remove":
            if name in schemas.IMAGE["properties"] or name in _COLUMNS:
                raise ImageError(403, f"Attribute '{name}' cannot be removed.")
            if name not in doc:
                raise ImageError(409, f"Property {name} does not exist.")
            del doc[name]
        elif kind == "replace" and name not in doc and name not in schemas.IMAGE["properties"]:
            raise ImageError(409, f"Property {name} does not exist.")
        else:
            doc[name] = op["value"]
    _validate(doc)
    changed = {k for k in set(doc) | set(before) if doc.get(k) != before.get(k)
               or (k in doc) != (k in before)}
    if "visibility" in changed:
        _check_visibility(ctx, doc["visibility"])
    if "owner" in changed and not ctx.is_admin:
        raise ImageError(403, "Only an admin changes an image's owner.")
    for name in ("disk_format", "container_format"):
        if name in changed and image["status"] != "queued":
            raise ImageError(403, f"Attribute {name} can be only replaced for a queued "
                                  "image.")
    columns, props, tags = _split(doc)
    store = services(req).store
    updated = store.update(image_id, {**columns, "properties": props},
                           tags if "tags" in changed else None)
    if updated is None:
        raise st.NotFound(image_id)
    return json_response(view(updated))


# --------------------------------------------------------------- delete
def delete_image(req, image_id):
    image = image_or_404(req, image_id)
    check_owner(req, image, "delete")
    if image["protected"]:
        raise ImageError(403, f"Image {image_id} is protected and cannot be deleted.")
    services(req).store.delete(image_id)
    return empty()


# -------------------------------------------------------------- actions
def _transition(req, image_id, target, allowed, action):
    image = image_or_404(req, image_id)
    check_owner(req, image, action)
    if image["status"] == target:
        return empty()
    if image["status"] not in allowed:
        raise ImageError(403, f"Not allowed to {action} image in status "
                              f"'{image['status']}'.")
    if services(req).store.update(image_id, {"status": target}, expect_status=allowed) is None:
        raise ImageError(409, f"Image {image_id} changed status meanwhile; try again.")
    return empty()


def deactivate(req, image_id):
    return _transition(req, image_id, "deactivated", {"active"}, "deactivate")


def reactivate(req, image_id):
    return _transition(req, image_id, "active", {"deactivated"}, "reactivate")


# ----------------------------------------------------------------- tags
def add_tag(req, image_id, tag):
    image = image_or_404(req, image_id)
    check_owner(req, image, "tag")
    if len(tag) > 255:
        raise ImageError(400, "tag: longer than 255 characters.")
    services(req).store.add_tag(image_id, tag)
    return empty()


def delete_tag(req, image_id, tag):
    image = image_or_404(req, image_id)
    check_owner(req, image, "untag")
    if not services(req).store.delete_tag(image_id, tag):
        raise ImageError(404, f"Tag {tag} not found on image {image_id}.")
    return empty()
