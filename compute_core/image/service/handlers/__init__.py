"""Handlers of the Image API v2, one module per resource: ``images``
(records, actions, tags), ``data`` (upload and download), ``members`` and
``schemas`` (the JSON schemas clients read, and version discovery). Each
handler is ``handler(req, **route_args) -> webob.Response``; what they
share lives here."""
from __future__ import annotations

import datetime
import json
import uuid as uuidlib

import webob

from compute_core import wsgi
from compute_core.image.service.store import ImageError, NotFound


def services(req):
    return req.environ[wsgi.SERVICES_KEY]


def context(req):
    return req.environ[wsgi.CONTEXT_KEY]


def json_response(body, status: int = 200, headers=None) -> webob.Response:
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(body).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def empty(status: int = 204) -> webob.Response:
    resp = webob.Response(status=status)
    resp.content_type = None
    return resp


def body(req, kind=dict):
    try:
        data = wsgi.json_body(req)
    except wsgi.BadJSON as exc:
        raise ImageError(400, f"Malformed JSON in request body: {exc}") from None
    if not isinstance(data, kind):
        raise ImageError(400, f"The request body must be a JSON "
                              f"{'object' if kind is dict else 'array'}.")
    return data


def isotime(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.replace(microsecond=0).isoformat() + "Z"
    return str(value)


def image_or_404(req, image_id: str) -> dict:
    """The image *image_id* if the caller may see it; 404 otherwise (an id
    that is not a UUID names no image)."""
    try:
        image_id = str(uuidlib.UUID(image_id))  # ids are stored in lowercase
    except ValueError:
        raise NotFound(image_id) from None
    image = services(req).store.get(image_id)
    if not services(req).store.visible(context(req), image):
        raise NotFound(image_id)
    return image


def check_owner(req, image: dict, action: str) -> None:
    """Only the owner and admins change an image."""
    ctx = context(req)
    if not (ctx.is_admin or (image["owner"] and image["owner"] == ctx.project_id)):
        raise ImageError(403, f"You are not authorized to {action} image {image['id']}.")
