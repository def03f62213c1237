"""Pieces shared by every WSGI app of compute_core.

* :class:`RouteTable` turns a ``{path: {method: handler}}`` declaration into a
  routes.Mapper dispatcher with automatic 405s, so one dict shows an app's
  whole surface.
* :class:`ServiceInjector` hands an app its cloud's services through the
  WSGI environ: paste-deployed apps hold no state of their own.
* Paste filters for request ids, for noauth2 / keystone contexts and for
  the request body size limit (oslo.middleware's sizelimit).
"""
from __future__ import annotations

import json
import logging

import routes
import webob
import webob.dec
import webob.exc
from oslo_middleware import sizelimit

from compute_core import context as ctx_mod

LOG = logging.getLogger(__name__)

SERVICES_KEY = "compute_core.services"
CONTEXT_KEY = "compute_core.context"


class ServiceInjector:
    """Outer WSGI layer that puts *services* into every request's environ."""

    def __init__(self, app, services):
        self.app = app
        self.services = services

    def __call__(self, environ, start_response):
        environ[SERVICES_KEY] = self.services
        return self.app(environ, start_response)


class RouteTable:
    """Dispatch by a declaration dict; unknown method -> 405, unknown path -> 404.

    *not_found* and *not_allowed* build the error responses in the app's own
    fault format.
    """

    def __init__(self, declarations: dict, not_found, not_allowed):
        self.mapper = routes.Mapper()
        self.not_found = not_found
        self.not_allowed = not_allowed
        for path, methods in declarations.items():
            for method, handler in methods.items():
                self.mapper.connect(path, action=handler, conditions={"method": [method]})
            allowed = ", ".join(sorted(methods))
            self.mapper.connect(path, action=None, allowed=allowed)

    def match(self, req: webob.Request):
        path = req.path_info.rstrip("/") or "/"
        match = self.mapper.match(environ={**req.environ, "PATH_INFO": path})
        if match is None:
            return None, {}, None
        args = {k: v for k, v in match.items() if k not in ("action", "allowed")}
        return match["action"], args, match.get("allowed")


def json_body(req: webob.Request):
    """The request body as JSON, or raise ValueError with a readable reason."""
    if not req.body:
        raise ValueError("The request body is empty")
    try:
        return json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"Malformed request body: {exc}") from None


class RequestIdMiddleware:
    """Give each request an id (x-openstack-request-id / x-compute-request-id)."""

    header_names = ("x-openstack-request-id", "x-compute-request-id")

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        req_id = ctx_mod.new_request_id()
        environ["openstack.request_id"] = req_id

        def _start(status, headers, exc_info=None):
            names = {h[0].lower() for h in headers}
            for name in self.header_names:
                if name not in names:
                    headers.append((name, req_id))
            return start_response(status, headers, exc_info)

        return self.app(environ, _start)

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls


class NoAuthMiddleware:
    """noauth2 as Nova has it: ``X-Auth-Token: user:project`` (or just
    ``user``, the project then being the user); the user ``admin`` gets the
    admin role. No token is a 401. For local use only."""

    def __init__(self, app, unauthorized):
        self.app = app
        self.unauthorized = unauthorized

    @webob.dec.wsgify
    def __call__(self, req):
        token = req.headers.get("X-Auth-Token")
        if not token:
            return self.unauthorized(req)
        user, _, project = token.partition(":")
        project = project or user
        roles = ["admin", "member", "reader"] if user == "admin" else ["member", "reader"]
        req.environ[CONTEXT_KEY] = ctx_mod.RequestContext(
            user_id=user, project_id=project, roles=roles, is_admin=user == "admin",
            request_id=req.environ.get("openstack.request_id") or ctx_mod.new_request_id(),
            auth_token=token)
        return req.get_response(self.app)


class KeystoneContextMiddleware:
    """Build the request context from keystonemiddleware's headers."""

    def __init__(self, app, unauthorized):
        self.app = app
        self.unauthorized = unauthorized

    @webob.dec.wsgify
    def __call__(self, req):
        if req.headers.get("X-Identity-Status", "Confirmed") != "Confirmed":
            return self.unauthorized(req)
        user = req.headers.get("X-User-Id")
        project = req.headers.get("X-Project-Id")
        if not user:
            return self.unauthorized(req)
        roles = [r.strip() for r in req.headers.get("X-Roles", "").split(",") if r.strip()]
        req.environ[CONTEXT_KEY] = ctx_mod.RequestContext(
            user_id=user, project_id=project, roles=roles, is_admin="admin" in roles,
            request_id=req.environ.get("openstack.request_id") or ctx_mod.new_request_id(),
            auth_token=req.headers.get("X-Auth-Token"))
        return req.get_response(self.app)


def _built_on_first_request(build):
    """A paste filter whose middleware is *build(app, conf)*, made on the
    first request: paste builds the pipeline before the cloud's ConfigOpts
    exists, and the request's environ carries it."""

    def _filter(app):
        holder = {}

        def middleware(environ, start_response):
            mw = holder.get("mw")
            if mw is None:
                mw = holder["mw"] = build(app, environ[SERVICES_KEY].conf)
            return mw(environ, start_response)

        return middleware

    return _filter


def keystone_authtoken_factory(global_conf, unavailable=None, **local_conf):
    """paste filter: keystonemiddleware's auth_token, configured from the
    cloud's own ConfigOpts (``[keystone_authtoken]``) found in the environ.

    When auth_token itself fails (Keystone unreachable, or
    ``[keystone_authtoken]`` incomplete, e.g. no ``www_authenticate_uri``
    for the 401 it is answering), the request gets a 503 from
    *unavailable(req, message)* (the API's own fault format), never a 500.
    """
    from keystonemiddleware import auth_token

    def build(app, conf):
        mw = auth_token.AuthProtocol(app, {"oslo_config_config": conf, **local_conf})
        if unavailable is None:
            return mw

        def guarded(environ, start_response):
            started = []

            def recording_start_response(*args):
                started.append(True)
                return start_response(*args)

            try:
                return mw(environ, recording_start_response)
            except Exception as exc:  # noqa: BLE001 - becomes a 503, logged
                if started:
                    raise
                LOG.error("token validation failed (is [keystone_authtoken] complete and "
                          "Keystone reachable?): %s: %s", type(exc).__name__, exc)
                resp = unavailable(webob.Request(environ),
                                   "The identity service could not validate the request's "
                                   "token; see the service log.")
                return resp(environ, start_response)

        return guarded

    return _built_on_first_request(build)


class BodySizeLimiter(sizelimit.RequestBodySizeLimiter):
    """oslo.middleware's request body size limit
    (``[oslo_middleware] max_request_body_size``), answering its 413 with
    *too_large(req, limit)*, the API's own fault.

    A body of known length over the limit is refused before it is read. A
    chunked one is read here, up to one byte past the limit, so the answer
    does not depend on how a handler reads its body."""

    def __init__(self, app, conf, too_large):
        super().__init__(app, conf)
        self.too_large = too_large

    @webob.dec.wsgify
    def __call__(self, req):
        limit = self._conf_get("max_request_body_size")
        if req.content_length is None and req.is_body_readable:
            body = req.body_file_raw.read(limit + 1)
            if len(body) > limit:
                return self.too_large(req, limit)
            if body:
                req.body = body
        try:
            return super().__call__(req)
        except webob.exc.HTTPRequestEntityTooLarge:
            return self.too_large(req, limit)


def body_size_limit_factory(too_large):
    """paste filter: :class:`BodySizeLimiter` on the cloud's ConfigOpts."""
    return _built_on_first_request(lambda app, conf: BodySizeLimiter(app, conf, too_large))
