"""The Compute API fault format: ``{"itemNotFound": {"code": 404, "message": ...}}``."""
from __future__ import annotations

import json

import webob

from compute_core import wsgi

FAULT_NAMES = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
    405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
    429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable",
}


class APIError(Exception):
    """Raised by handlers; becomes a fault response."""

    def __init__(self, code: int, message: str, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def fault_response(code: int, message: str, request_id=None, headers=None) -> webob.Response:
    name = FAULT_NAMES.get(code, "computeFault")
    resp = webob.Response(status=code, content_type="application/json", charset="utf-8")
    resp.body = json.dumps({name: {"code": code, "message": message}}).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    if request_id:
        resp.headers["x-openstack-request-id"] = request_id
        resp.headers["x-compute-request-id"] = request_id
    return resp


def unexpected_error(environ) -> webob.Response:
    """The 500 of a bug (logged by the caller)."""
    return fault_response(500, "Unexpected API Error. Please report this at the project's "
                          "issue tracker and attach the API log.",
                          environ.get("openstack.request_id"))


def fault_wrapper(app):
    """Last line of defence: anything a handler lets escape becomes a
    fault, never a traceback."""
    return wsgi.LastResortFaults(app, unexpected_error, "compute API")


def url_guard(app):
    """A path or query string that is not UTF-8 is a 400 fault."""
    return wsgi.UrlDecodeGuard(app, lambda environ, message: fault_response(
        400, message, environ.get("openstack.request_id")))
