"""The placement WSGI app: routing table, microversions, error format.

Handlers live in :mod:`compute_core.placement.handlers`, a module per
resource; paste-deploy builds
the pipeline from ``api-paste.ini`` (section ``placement``).
"""
from __future__ import annotations

import datetime
import json
import logging

import microversion_parse
import webob
import webob.dec
import webob.exc

from compute_core import wsgi
from compute_core.placement.exception import PlacementError
from compute_core.placement.handlers import aggregate, allocation, allocation_candidate
from compute_core.placement.handlers import inventory, reshaper, resource_class
from compute_core.placement.handlers import resource_provider as rp
from compute_core.placement.handlers import root, trait, usage
from compute_core.placement.microversion import MAX_VERSION, MIN_VERSION, VERSIONS
from compute_core.placement.objects.base import is_write_race

LOG = logging.getLogger(__name__)

SERVICE_TYPE = "placement"

ROUTE_DECLARATIONS = {
    "/": {"GET": root.home},
    "/resource_providers": {"GET": rp.list_providers, "POST": rp.create_provider},
    "/resource_providers/{uuid}": {"GET": rp.get_provider, "PUT": rp.update_provider,
                                   "DELETE": rp.delete_provider},
    "/resource_providers/{uuid}/inventories": {
        "GET": inventory.get_inventories, "PUT": inventory.set_inventories,
        "POST": inventory.add_inventory, "DELETE": inventory.delete_inventories},
    "/resource_providers/{uuid}/inventories/{resource_class}": {
        "GET": inventory.get_inventory, "PUT": inventory.update_inventory,
        "DELETE": inventory.delete_inventory},
    "/resource_providers/{uuid}/usages": {"GET": usage.provider_usages},
    "/resource_providers/{uuid}/allocations": {"GET": allocation.provider_allocations},
    "/resource_providers/{uuid}/traits": {"GET": trait.get_provider_traits,
                                          "PUT": trait.set_provider_traits,
                                          "DELETE": trait.delete_provider_traits},
    "/resource_providers/{uuid}/aggregates": {"GET": aggregate.get_provider_aggregates,
                                              "PUT": aggregate.set_provider_aggregates},
    "/resource_classes": {"GET": resource_class.list_resource_classes,
                          "POST": resource_class.create_resource_class},
    "/resource_classes/{name}": {"GET": resource_class.get_resource_class,
                                 "PUT": resource_class.put_resource_class,
                                 "DELETE": resource_class.delete_resource_class},
    "/traits": {"GET": trait.list_traits},
    "/traits/{name}": {"GET": trait.get_trait, "PUT": trait.put_trait,
                       "DELETE": trait.delete_trait},
    "/allocations": {"POST": allocation.post_allocations},
    "/allocations/{consumer_uuid}": {"GET": allocation.get_allocations,
                                     "PUT": allocation.put_allocations,
                                     "DELETE": allocation.delete_allocations},
    "/allocation_candidates": {"GET": allocation_candidate.allocation_candidates},
    "/usages": {"GET": usage.project_usages},
    "/reshaper": {"POST": reshaper.reshape},
}

DEFAULT_CODE = "placement.undefined_code"
_ERROR_CODE_KEY = "placement.error_code"
_MICROVERSION_KEY = "placement.microversion"


def json_error_formatter(body, status, title, environ):
    """The JSON of an error, as webob renders it for placement (the API-WG
    error format): the text webob made of the explanation and the detail,
    a ``code`` from microversion 1.23, the request id."""
    status_code = int(status.split(None, 1)[0])
    error = {"status": status_code, "title": title, "detail": webob.exc.strip_tags(body)}
    version = environ.get(_MICROVERSION_KEY)
    if version is not None and version >= (1, 23):
        error["code"] = environ.get(_ERROR_CODE_KEY, DEFAULT_CODE)
    if "openstack.request_id" in environ:
        error["request_id"] = environ["openstack.request_id"]
    if status_code == 406 and version is None:
        error["max_version"] = _version_str(MAX_VERSION)
        error["min_version"] = _version_str(MIN_VERSION)
    return {"errors": [error]}


def fault(req, status, detail=None, code=DEFAULT_CODE, headers=None, vary=False):
    """An error response as placement gives it: webob's, so its body
    follows the Accept header (JSON, HTML or text) as openstack-placement's
    does; *detail* follows webob's explanation of the status. *vary*: the
    error is an answer of the handler, which openstack-placement's
    microversion middleware marks ``Vary: OpenStack-API-Version`` (errors
    of routing, authentication and policy it does not)."""
    exc = webob.exc.status_map[status](detail=detail, json_formatter=json_error_formatter)
    req.environ[_ERROR_CODE_KEY] = code or DEFAULT_CODE
    for k, v in (headers or {}).items():
        exc.headers[k] = v
    resp = req.get_response(exc)
    resp.placement_error = not vary
    return resp


def error_response(status: int, title: str, detail: str, code: str = DEFAULT_CODE,
                   request_id: str | None = None, headers=None,
                   with_code: bool = True) -> webob.Response:
    """A JSON error body without a request (the OpenAPI filter's 404s)."""
    error = {"status": status, "title": title, "detail": detail, "request_id": request_id}
    if with_code:  # the "code" field exists from microversion 1.23
        error["code"] = code
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps({"errors": [error]}).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _version_str(v):
    return f"{v[0]}.{v[1]}"


def _accepts_json(req) -> bool:
    if not req.headers.get("Accept"):
        return True
    return bool(req.accept.acceptable_offers(["application/json"]))


class PlacementApp:
    """Dispatch one request: negotiate the microversion, route, render."""

    def __init__(self):
        self.routes = wsgi.RouteTable(
            ROUTE_DECLARATIONS,
            not_found=lambda req: fault(req, 404),
            not_allowed=None)

    @webob.dec.wsgify
    def __call__(self, req):
        services = req.environ[wsgi.SERVICES_KEY]
        try:
            found = microversion_parse.extract_version(req.headers, SERVICE_TYPE, VERSIONS)
        except ValueError as exc:
            return fault(req, 406, f"Invalid microversion: {exc}")
        except TypeError as exc:
            return fault(req, 400, f"Invalid microversion: {exc}")
        version = (found.major, found.minor)
        req.environ[_MICROVERSION_KEY] = version
        resp = self._dispatch(req, services, version)
        resp.headers["OpenStack-API-Version"] = f"placement {_version_str(version)}"
        if not getattr(resp, "placement_error", False):
            resp.headers["Vary"] = "OpenStack-API-Version"
        if (version >= (1, 15) and resp.status_code == 200 and req.method == "GET"
                and "Cache-Control" not in resp.headers):
            resp.cache_control = "no-cache"
            if getattr(resp, "placement_last_modified", True):
                # Our objects carry no modification time: "now" stands in,
                # as openstack-placement does where it has none.
                resp.last_modified = datetime.datetime.now(datetime.timezone.utc)
        return resp

    def _dispatch(self, req, services, version):
        length = req.environ.get("CONTENT_LENGTH")
        try:
            if length and int(length) > 0 and not req.environ.get("CONTENT_TYPE"):
                return fault(req, 400, "content-type header required when content-length > 0")
        except ValueError:
            return fault(req, 400, "content-length header must be an integer")
        handler, args, allowed = self.routes.match(req)
        if handler is None and allowed:
            return fault(req, 405, "The method specified is not allowed for this resource.",
                         headers={"Allow": allowed}, vary=True)
        if handler is None:
            return fault(req, 404)
        if version < getattr(handler, "min_version", MIN_VERSION):
            return fault(req, handler.older_status, vary=True)
        if (req.method == "GET" and getattr(handler, "checks_accept", True)
                and not _accepts_json(req)):
            return fault(req, 406, "Only application/json is provided", vary=True)
        wants = getattr(handler, "takes_json", None)
        if wants is not None and wants(version) and req.content_type != "application/json":
            return fault(req, 415, f"The media type {req.content_type or 'None'} is not "
                         "supported, use application/json", vary=True)
        try:
            return handler(req, services.placement, version, **args)
        except PlacementError as exc:
            return fault(req, exc.status, exc.detail, exc.code, vary=exc.vary)
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in our format
            if is_write_race(exc):
                return fault(req, 409, "Another request changed the same data at the "
                             "same time; refresh and retry.", "placement.concurrent_update")
            LOG.exception("placement request %s %s failed", req.method, req.path)
            return fault(req, 500, "An unexpected error occurred; it has been logged.")


def app_factory(global_conf, **local_conf):
    return PlacementApp()


def unauthorized(req):
    # openstack-placement's auth answers webob's bare 401 (webob's own JSON)
    return req.get_response(webob.exc.HTTPUnauthorized())


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
    return _root_is_public(lambda app: wsgi.NoAuthMiddleware(app, unauthorized,
                                                             placement_roles=True))


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
    def factory(app):
        guarded = wsgi.LastResortFaults(
            app, lambda environ: fault(webob.Request(environ), 500,
                                       "An unexpected error occurred; it has been logged."),
            "placement API")

        def middleware(environ, start_response):
            # As openstack-placement's request log does, first: no Accept (or
            # */*) means JSON, so every error (413s included) comes as JSON
            # rather than webob's HTML.
            if environ.get("HTTP_ACCEPT", "*/*") == "*/*":
                environ["HTTP_ACCEPT"] = "application/json"
            return guarded(environ, start_response)

        return middleware

    return factory


def url_guard_factory(global_conf, **local_conf):
    """A path or query string that is not UTF-8 is a 400."""
    return lambda app: wsgi.UrlDecodeGuard(
        app, lambda environ, message: fault(webob.Request(environ), 400, message))
