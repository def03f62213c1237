"""The placement WSGI app: routing table, microversions, error format.

Handlers live in :mod:`compute_core.placement.handlers`; paste-deploy builds
the pipeline from ``api-paste.ini`` (section ``placement``).
"""
from __future__ import annotations

import datetime
import json
import logging

import microversion_parse
import webob
import webob.dec

from compute_core import wsgi
from compute_core.placement import handlers as h
from compute_core.placement import objects

LOG = logging.getLogger(__name__)

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 39)
SERVICE_TYPE = "placement"

ROUTE_DECLARATIONS = {
    "/": {"GET": h.home},
    "/resource_providers": {"GET": h.list_providers, "POST": h.create_provider},
    "/resource_providers/{uuid}": {"GET": h.get_provider, "PUT": h.update_provider,
                                   "DELETE": h.delete_provider},
    "/resource_providers/{uuid}/inventories": {
        "GET": h.get_inventories, "PUT": h.set_inventories, "POST": h.add_inventory,
        "DELETE": h.delete_inventories},
    "/resource_providers/{uuid}/inventories/{resource_class}": {
        "GET": h.get_inventory, "PUT": h.update_inventory, "DELETE": h.delete_inventory},
    "/resource_providers/{uuid}/usages": {"GET": h.provider_usages},
    "/resource_providers/{uuid}/allocations": {"GET": h.provider_allocations},
    "/resource_providers/{uuid}/traits": {"GET": h.get_provider_traits,
                                          "PUT": h.set_provider_traits,
                                          "DELETE": h.delete_provider_traits},
    "/resource_providers/{uuid}/aggregates": {"GET": h.get_provider_aggregates,
                                              "PUT": h.set_provider_aggregates},
    "/resource_classes": {"GET": h.list_resource_classes, "POST": h.create_resource_class},
    "/resource_classes/{name}": {"GET": h.get_resource_class, "PUT": h.put_resource_class,
                                 "DELETE": h.delete_resource_class},
    "/traits": {"GET": h.list_traits},
    "/traits/{name}": {"GET": h.get_trait, "PUT": h.put_trait, "DELETE": h.delete_trait},
    "/allocations": {"POST": h.post_allocations},
    "/allocations/{consumer_uuid}": {"GET": h.get_allocations, "PUT": h.put_allocations,
                                     "DELETE": h.delete_allocations},
    "/allocation_candidates": {"GET": h.allocation_candidates},
    "/usages": {"GET": h.project_usages},
    "/reshaper": {"POST": h.reshape},
}


def error_response(status: int, title: str, detail: str, code: str = "placement.undefined_code",
                   request_id: str | None = None, headers=None,
                   with_code: bool = True) -> webob.Response:
    error = {"status": status, "title": title, "detail": detail, "request_id": request_id}
    if with_code:  # the "code" field exists from microversion 1.23
        error["code"] = code
    body = {"errors": [error]}
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(body).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
           413: "Request Entity Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error",
           503: "Service Unavailable"}


def fault(req, status, detail, code="placement.undefined_code", headers=None):
    version = req.environ.get("placement.microversion", MAX_VERSION)
    return error_response(status, _TITLES.get(status, "Error"), detail, code,
                          req.environ.get("openstack.request_id"), headers,
                          with_code=version >= (1, 23))


def _version_str(v):
    return f"{v[0]}.{v[1]}"


class PlacementApp:
    """Dispatch one request: negotiate the microversion, route, render."""

    def __init__(self):
        self.routes = wsgi.RouteTable(
            ROUTE_DECLARATIONS,
            not_found=lambda req: fault(req, 404, "The resource could not be found."),
            not_allowed=None)

    @webob.dec.wsgify
    def __call__(self, req):
        services = req.environ[wsgi.SERVICES_KEY]
        try:
            version = self._negotiate(req)
        except ValueError as exc:
            return fault(req, 400, str(exc))
        except LookupError as exc:
            return fault(req, 406, str(exc))
        req.environ["placement.microversion"] = version
        handler, args, allowed = self.routes.match(req)
        if handler is None and allowed:
            resp = fault(req, 405, "The method specified is not allowed for this resource.",
                         headers={"Allow": allowed})
        elif handler is None:
            resp = fault(req, 404, "The resource could not be found.")
        elif version < getattr(handler, "min_version", MIN_VERSION):
            if handler.older_status == 405:
                resp = fault(req, 405, "The method specified is not allowed for this "
                             "resource.")
            else:
                resp = fault(req, 404, "The resource could not be found.")
        else:
            try:
                resp = handler(req, services.placement, version, **args)
            except objects.PlacementError as exc:
                resp = fault(req, exc.status, exc.detail, exc.code)
            except Exception as exc:  # noqa: BLE001 - a bug must still answer in our format
                if objects.is_write_race(exc):
                    resp = fault(req, 409, "Another request changed the same data at the "
                                 "same time; refresh and retry.",
                                 "placement.concurrent_update")
                else:
                    LOG.exception("placement request %s %s failed", req.method, req.path)
                    resp = fault(req, 500, "An unexpected error occurred; it has been logged.")
        if req.path_info.rstrip("/") != "" or version != MIN_VERSION:
            resp.headers["OpenStack-API-Version"] = f"placement {_version_str(version)}"
            resp.headers["Vary"] = "OpenStack-API-Version"
        if (version >= (1, 15) and resp.status_code == 200 and req.method in ("GET", "PUT", "POST")
                and req.path_info.rstrip("/") != ""):
            # Placement's caching headers: our objects don't all carry a
            # modification time, so "now" stands in, as the API allows.
            resp.last_modified = datetime.datetime.now(datetime.timezone.utc)
            resp.cache_control = "no-cache"
        return resp

    @staticmethod
    def _negotiate(req):
        raw = microversion_parse.get_version(req.headers, service_type=SERVICE_TYPE)
        if raw is None:
            return MIN_VERSION
        raw = raw.strip()
        if raw == "latest":
            return MAX_VERSION
        try:
            major, minor = (int(x) for x in raw.split("."))
        except ValueError:
            raise ValueError(f"invalid version string: {raw}") from None
        if not (MIN_VERSION <= (major, minor) <= MAX_VERSION):
            raise LookupError(
                f"Unacceptable version header: {raw}. It must be between "
                f"{_version_str(MIN_VERSION)} and {_version_str(MAX_VERSION)}.")
        return (major, minor)


def app_factory(global_conf, **local_conf):
    return PlacementApp()


def unauthorized(req):
    return fault(req, 401, "The request you have made requires authentication.")


def _root_is_public(make_filter):
    """An auth filter that lets ``GET /`` through: Placement serves its
    version document without a token (clients discover it before they
    authenticate)."""

    def factory(app):
        guarded = make_filter(app)

        def middleware(environ, start_response):
            if environ.get("PATH_INFO", "") in ("", "/"):
                return app(environ, start_response)
            return guarded(environ, start_response)

        return middleware

    return factory


def noauth_factory(global_conf, **local_conf):
    return _root_is_public(lambda app: wsgi.NoAuthMiddleware(app, unauthorized))


def sizelimit_factory(global_conf, **local_conf):
    return wsgi.body_size_limit_factory(
        lambda req, limit: fault(req, 413, f"Request is too large: the body is over {limit} "
                                 "bytes."))


def authtoken_factory(global_conf, **local_conf):
    return _root_is_public(wsgi.keystone_authtoken_factory(
        global_conf, unavailable=lambda req, message: fault(req, 503, message), **local_conf))


def keystone_context_factory(global_conf, **local_conf):
    return _root_is_public(lambda app: wsgi.KeystoneContextMiddleware(app, unauthorized))


def faultwrap_factory(global_conf, **local_conf):
    """A bug escaping the app is a 500 in placement's own error format."""
    return lambda app: wsgi.LastResortFaults(
        app, lambda environ: fault(webob.Request(environ), 500,
                                   "An unexpected error occurred; it has been logged."),
        "placement API")


def url_guard_factory(global_conf, **local_conf):
    """A path or query string that is not UTF-8 is a 400."""
    return lambda app: wsgi.UrlDecodeGuard(
        app, lambda environ, message: fault(webob.Request(environ), 400, message))
