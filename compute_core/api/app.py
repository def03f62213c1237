"""The Compute API v2.1 WSGI app: one routing table, microversions, faults.

paste-deploy builds the pipelines from ``api-paste.ini`` (section
``osapi_compute``); the app's state (database handles, RPC clients) comes
from the environ, put there by :class:`compute_core.wsgi.ServiceInjector`.
"""
from __future__ import annotations

import json
import logging

import webob
import webob.dec

from compute_core import exception, openapi, wsgi
from compute_core.api import faults, hosts, microversion, policy, query
from compute_core.api.faults import APIError
from compute_core.api.resources import versions
from compute_core.api.routes import ROUTE_DECLARATIONS
from compute_core.api.server_service import ServerService

LOG = logging.getLogger(__name__)

# The bodies' encoder: json.dumps(body, allow_nan=False)'s bytes, less its
# walk for reference cycles (a body is built fresh from JSON-able values and
# holds none): 15% of the encoding of a 1,000-server listing.
_ENCODER = json.JSONEncoder(allow_nan=False, check_circular=False)


class Call:
    """One API call as handlers see it."""

    def __init__(self, req, ctx, version, services):
        self.req = req
        self.ctx = ctx
        self.version = version
        self.services = services
        self._server_service = None

    @property
    def server_service(self) -> ServerService:
        if self._server_service is None:
            self._server_service = ServerService(self.services)
        return self._server_service

    @property
    def is_admin(self) -> bool:
        """Whether the caller is an administrator, by the policy rule
        ``context_is_admin`` (what Nova's handlers read as context.is_admin)."""
        return self.ctx.is_admin

    def allowed(self, rule: str, target: dict | None = None) -> bool:
        """Whether the caller may do what policy rule *rule* guards on
        *target* (by default the caller's own project and user)."""
        return policy.authorize(self.services.policy, self.ctx, rule, target)

    def authorize(self, rule: str, target: dict | None = None) -> None:
        """403 unless :meth:`allowed`."""
        if not self.allowed(rule, target):
            raise APIError(403, f"Policy doesn't allow {rule} to be performed.")

    def json(self):
        ctype = self.req.content_type
        if ctype and ctype not in ("application/json", "application/octet-stream", "text/plain"):
            raise APIError(415, f"Unsupported Content-Type: {ctype}")
        try:
            body = wsgi.json_body(self.req)
        except wsgi.BadJSON as exc:
            if exc.field:
                raise APIError(400, f"Invalid input for field/attribute {exc.field}. "
                                    f"{exc.reason}") from None
            raise APIError(400, f"Malformed request body: {exc.reason}") from None
        if not isinstance(body, dict):
            raise APIError(400, "The request body must be a JSON object")
        return body


class ComputeApp:
    def __init__(self, declarations=ROUTE_DECLARATIONS):
        self.routes = wsgi.RouteTable(declarations, None, None)

    @webob.dec.wsgify
    def __call__(self, req):
        req_id = req.environ.get("openstack.request_id")
        try:
            version = microversion.negotiate(req.headers)
        except microversion.VersionNotSupported as exc:
            return faults.fault_response(406, str(exc), req_id)
        except ValueError as exc:
            return faults.fault_response(400, str(exc), req_id)
        handler, args, allowed = self.routes.match(req)
        if handler is not None:
            chosen = microversion.handler_at(handler, version)
            if chosen is None:  # the route does not exist at this version
                return self._stamp(faults.fault_response(
                    404, handler.outside_message or "The resource could not be found.",
                    req_id), version)
            handler = chosen
        if handler is None:
            if allowed:
                resp = faults.fault_response(405, "The method specified is not allowed for "
                                             "this resource.", req_id, {"Allow": allowed})
            else:
                resp = faults.fault_response(404, "The resource could not be found.", req_id)
            return self._stamp(resp, version)
        ctx = req.environ.get(wsgi.CONTEXT_KEY)
        services = req.environ[wsgi.SERVICES_KEY]
        if ctx is not None:
            # Who is an administrator is policy's to say (context_is_admin),
            # as in Nova: the layers below read ctx.is_admin.
            ctx.is_admin = policy.is_admin(services.policy, ctx)
        req.environ["compute_core.default_az"] = services.conf.default_availability_zone
        req.environ["compute_core.zone_of_host"] = hosts.HostZones(services)
        call = Call(req, ctx, version, services)
        try:
            query.refuse_undeclared(req, handler, version)
            result = handler(call, **args)
        except APIError as exc:
            return self._stamp(faults.fault_response(exc.code, exc.message, req_id,
                                                     exc.headers), version)
        except exception.ComputeCoreError as exc:
            # A service this API depends on that cannot be reached is a 503
            # (the caller may retry); anything else past 4xx is our fault.
            code = exc.code if exc.code < 500 or exc.code == 503 else 500
            if code == 500:
                LOG.exception("compute API %s %s failed", req.method, req.path)
            return self._stamp(faults.fault_response(code, exc.message, req_id), version)
        return self._stamp(self._render(result), version)

    @staticmethod
    def _render(result):
        if isinstance(result, webob.Response):
            return result
        status, body = result[0], result[1]
        headers = result[2] if len(result) > 2 else {}
        resp = webob.Response(status=status)
        if body is None:
            resp.content_type = None
            resp.body = b""
        else:
            resp.content_type = "application/json"
            resp.charset = "utf-8"
            resp.body = _ENCODER.encode(body).encode()
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    @staticmethod
    def _stamp(resp, version):
        resp.headers["OpenStack-API-Version"] = f"compute {version}"
        resp.headers["X-OpenStack-Nova-API-Version"] = str(version)
        resp.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return resp


class VersionsApp:
    """GET / : the version document (no auth needed)."""

    @webob.dec.wsgify
    def __call__(self, req):
        if req.method not in ("GET", "HEAD"):
            return faults.fault_response(405, "The method specified is not allowed for this "
                                         "resource.", headers={"Allow": "GET"})
        if req.path_info == "/openapi.json":
            return openapi.response("compute", req,
                                    req.host_url + req.script_name.rstrip("/") + "/v2.1")
        if req.path_info.strip("/"):
            return faults.fault_response(404, "The resource could not be found.")
        resp = webob.Response(content_type="application/json", charset="utf-8")
        resp.body = json.dumps(versions.versions_list(req.host_url + req.script_name)).encode()
        return resp


class VersionDocPassthrough:
    """GET /v2.1 (the version document) and GET /v2.1/openapi.json answer
    before authentication, as clients' version discovery expects; everything
    else goes on."""

    def __init__(self, app):
        self.app = openapi.DocumentPassthrough(app, "compute")

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and \
                environ.get("PATH_INFO", "") in ("", "/"):
            req = webob.Request(environ)
            resp = webob.Response(content_type="application/json", charset="utf-8")
            resp.body = json.dumps({"version": versions.version_doc(req.application_url)}
                                   ).encode()
            return resp(environ, start_response)
        return self.app(environ, start_response)


def version_passthrough_factory(global_conf, **local_conf):
    return VersionDocPassthrough


def app_factory(global_conf, **local_conf):
    return ComputeApp()


def versions_factory(global_conf, **local_conf):
    return VersionsApp()


def unauthorized(req):
    return faults.fault_response(401, "The request you have made requires authentication.",
                                 req.environ.get("openstack.request_id"))


def noauth_factory(global_conf, **local_conf):
    return lambda app: wsgi.NoAuthMiddleware(app, unauthorized)


def _unavailable(req, message):
    return faults.fault_response(503, message, req.environ.get("openstack.request_id"))


def authtoken_factory(global_conf, **local_conf):
    return wsgi.keystone_authtoken_factory(global_conf, unavailable=_unavailable, **local_conf)


def keystone_context_factory(global_conf, **local_conf):
    return lambda app: wsgi.KeystoneContextMiddleware(app, unauthorized)


def _too_large(req, limit):
    return faults.fault_response(413, f"Request is too large: the body is over {limit} bytes.",
                                 req.environ.get("openstack.request_id"))


def sizelimit_factory(global_conf, **local_conf):
    return wsgi.body_size_limit_factory(_too_large)


def faultwrap_factory(global_conf, **local_conf):
    return faults.fault_wrapper


def url_guard_factory(global_conf, **local_conf):
    return faults.url_guard
