"""The image service's WSGI app: the routing table, Glance's error format
and the paste factories of its pipeline (``api-paste.ini``, sections
``image_*``).

Errors are webob's HTTP exceptions, as Glance answers them: the body is
HTML, plain text or JSON (``{"code", "title", "message"}``) after the
request's Accept header.
"""
from __future__ import annotations

import logging
import uuid as uuidlib

import webob
import webob.dec
import webob.exc

from compute_core import wsgi
from compute_core.image.service import store
from compute_core.image.service.handlers import data, images, members, schemas

LOG = logging.getLogger(__name__)

ROUTE_DECLARATIONS = {
    "/": {"GET": schemas.versions},
    "/versions": {"GET": schemas.versions},
    "/v2/images": {"GET": images.list_images, "POST": images.create_image},
    "/v2/images/{image_id}": {"GET": images.show_image, "PATCH": images.update_image,
                              "DELETE": images.delete_image},
    "/v2/images/{image_id}/file": {"PUT": data.upload, "GET": data.download},
    "/v2/images/{image_id}/actions/deactivate": {"POST": images.deactivate},
    "/v2/images/{image_id}/actions/reactivate": {"POST": images.reactivate},
    "/v2/images/{image_id}/tags/{tag}": {"PUT": images.add_tag, "DELETE": images.delete_tag},
    "/v2/images/{image_id}/members": {"GET": members.list_members,
                                      "POST": members.add_member},
    "/v2/images/{image_id}/members/{member_id}": {"GET": members.show_member,
                                                  "PUT": members.update_member,
                                                  "DELETE": members.delete_member},
    "/v2/schemas/image": {"GET": schemas.image},
    "/v2/schemas/images": {"GET": schemas.images},
    "/v2/schemas/member": {"GET": schemas.member},
    "/v2/schemas/members": {"GET": schemas.members},
}

# Paths served without a token: version discovery comes before
# authentication.
PUBLIC_PATHS = ("", "/", "/versions")

_EXC = {400: webob.exc.HTTPBadRequest, 401: webob.exc.HTTPUnauthorized,
        403: webob.exc.HTTPForbidden, 404: webob.exc.HTTPNotFound,
        405: webob.exc.HTTPMethodNotAllowed, 409: webob.exc.HTTPConflict,
        411: webob.exc.HTTPLengthRequired, 413: webob.exc.HTTPRequestEntityTooLarge,
        415: webob.exc.HTTPUnsupportedMediaType,
        416: webob.exc.HTTPRequestRangeNotSatisfiable, 500: webob.exc.HTTPInternalServerError,
        503: webob.exc.HTTPServiceUnavailable}


def fault(status: int, message: str, headers=None) -> webob.Response:
    """An error as Glance answers it (webob's HTTP exception bodies)."""
    cls = _EXC.get(status, webob.exc.HTTPBadRequest)
    # webob's 415 template ignores the explanation: the message goes in
    # its detail.
    exc = cls(detail=message) if status == 415 else cls(explanation=message)
    for k, v in (headers or {}).items():
        exc.headers[k] = v
    return exc


class ImageApp:
    """Dispatch one request of the Image API v2."""

    def __init__(self):
        self.routes = wsgi.RouteTable(ROUTE_DECLARATIONS, not_found=None, not_allowed=None)

    @webob.dec.wsgify
    def __call__(self, req):
        handler, args, allowed = self.routes.match(req)
        if handler is None and allowed:
            return fault(405, "The method specified is not allowed for this resource.",
                         {"Allow": allowed})
        if handler is None:
            return fault(404, "The resource could not be found.")
        if "image_id" in args:
            try:  # ids are stored in lowercase; a non-UUID is the handler's 404
                args["image_id"] = str(uuidlib.UUID(args["image_id"]))
            except ValueError:
                pass
        try:
            return handler(req, **args)
        except store.ImageError as exc:
            return fault(exc.status, exc.message)
        except Exception:  # noqa: BLE001 - a bug still answers in Glance's format
            LOG.exception("image request %s %s failed", req.method, req.path)
            return fault(500, "An unexpected error occurred; it has been logged.")


def app_factory(global_conf, **local_conf):
    return ImageApp()


def _discovery_is_public(make_filter):
    """An auth filter that lets version discovery through without a token."""

    def factory(app):
        guarded = make_filter(app)

        def middleware(environ, start_response):
            if environ.get("PATH_INFO", "") in PUBLIC_PATHS:
                return app(environ, start_response)
            return guarded(environ, start_response)

        return middleware

    return factory


def unauthorized(req):
    return fault(401, "This server could not verify that you are authorized to access the "
                      "document you requested.")


def noauth_factory(global_conf, **local_conf):
    return _discovery_is_public(lambda app: wsgi.NoAuthMiddleware(app, unauthorized))


def authtoken_factory(global_conf, **local_conf):
    return _discovery_is_public(wsgi.keystone_authtoken_factory(
        global_conf, unavailable=lambda req, message: fault(503, message), **local_conf))


def keystone_context_factory(global_conf, **local_conf):
    return _discovery_is_public(lambda app: wsgi.KeystoneContextMiddleware(app, unauthorized))


def sizelimit_factory(global_conf, **local_conf):
    """[oslo_middleware] max_request_body_size for every request but an
    image upload (PUT .../file), which [image] image_size_cap bounds."""
    limited = wsgi.body_size_limit_factory(
        lambda req, limit: fault(413, f"Request is too large: the body is over {limit} "
                                      "bytes."))

    def factory(app):
        guarded = limited(app)

        def middleware(environ, start_response):
            if (environ.get("REQUEST_METHOD") == "PUT"
                    and environ.get("PATH_INFO", "").rstrip("/").endswith("/file")):
                return app(environ, start_response)
            return guarded(environ, start_response)

        return middleware

    return factory


def faultwrap_factory(global_conf, **local_conf):
    return lambda app: wsgi.LastResortFaults(
        app, lambda environ: fault(500, "An unexpected error occurred; it has been logged."),
        "image API")


def url_guard_factory(global_conf, **local_conf):
    return lambda app: wsgi.UrlDecodeGuard(app, lambda environ, message: fault(400, message))
