"""What every identity handler uses: errors in Keystone's format, JSON
answers, the request body, and the caller's token with its rights."""
from __future__ import annotations

import json

import webob

from compute_core import wsgi

SERVICES_KEY = wsgi.SERVICES_KEY

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
           500: "Internal Server Error"}


class IdentityError(Exception):
    """An answer other than success, in Keystone's error format."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(req, status: int, message: str) -> webob.Response:
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps({"error": {"code": status, "message": message,
                                      "title": _TITLES.get(status, "Error")}}).encode()
    if status == 401:
        resp.headers["WWW-Authenticate"] = f'Keystone uri="{req.application_url}"'
    return resp


def json_response(body, status: int = 200, headers=None) -> webob.Response:
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(body).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def services(req):
    return req.environ[SERVICES_KEY]


def body(req) -> dict:
    try:
        data = wsgi.json_body(req)
    except wsgi.BadJSON as exc:
        raise IdentityError(400, f"Malformed request body: {exc}") from None
    if not isinstance(data, dict):
        raise IdentityError(400, "The request body must be a JSON object.")
    return data


def member(data, name: str, kind=dict, where: str = "", required=True):
    """``data[name]`` of type *kind*; a 400 naming the field otherwise."""
    field = f"{where}.{name}" if where else name
    if not isinstance(data, dict) or name not in data:
        if required:
            raise IdentityError(400, f"Expecting to find {field} in the request.")
        return None
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise IdentityError(400, f"Invalid input for field {field!r}: expected "
                                 f"{kind.__name__ if isinstance(kind, type) else kind}.")
    return value


def caller(req):
    """The caller's valid token (X-Auth-Token), or a 401."""
    token = services(req).token(req.headers.get("X-Auth-Token"))
    if token is None:
        raise IdentityError(401, "The request you have made requires authentication.")
    return token


def is_admin(req, token) -> bool:
    names = {r["name"] for r in services(req).roles_by_id(token.role_ids)}
    return "admin" in names


def require_admin(req, token) -> None:
    if not is_admin(req, token):
        raise IdentityError(403, "You are not authorized to perform the requested action.")


def links(req, path: str) -> dict:
    return {"self": req.application_url + path}
