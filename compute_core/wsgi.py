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
import inspect
import math
import re
import time
from urllib.parse import unquote_to_bytes

import routes
import webob
import webob.dec
import webob.exc
from oslo_middleware import base as oslo_base
from oslo_middleware import cors, healthcheck, http_proxy_to_wsgi, sizelimit
from oslo_context import context as oslo_context
from oslo_middleware import request_id as oslo_request_id

from compute_core import context as ctx_mod

LOG = logging.getLogger(__name__)
REQUEST_LOG = logging.getLogger("compute_core.requests")

SERVICES_KEY = "compute_core.services"
CONTEXT_KEY = "compute_core.context"
# Set on the environ of a request one service of the embedded cloud makes
# to another's pipeline inside the process (no HTTP).
IN_PROCESS_KEY = "compute_core.in_process"
# The template of the route a request matched ("/servers/{server_id}").
ROUTE_KEY = "compute_core.route"


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
        found = self.mapper.routematch(environ={**req.environ, "PATH_INFO": path})
        if not found:
            return None, {}, None
        match, route = found
        # The route's template, for the embedded cloud's call log.
        req.environ[ROUTE_KEY] = route.routepath
        args = {k: v for k, v in match.items() if k not in ("action", "allowed")}
        return match["action"], args, match.get("allowed")


# Most arrays and objects one inside another in a request body: more than
# any body the APIs take (a server create nests 4); json.loads itself would
# recurse until a RecursionError.
MAX_JSON_DEPTH = 32


class BadJSON(ValueError):
    """A request body that is not acceptable JSON; *field* is the
    slash-separated path of the offending member ('' for the whole body)."""

    def __init__(self, reason: str, field: str = ""):
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class _NotANumber:
    """Stands in for NaN / Infinity / -Infinity while parsing, so the walk
    that follows can name the field it was given for."""

    def __init__(self, text):
        self.text = text


def _float(text):
    value = float(text)
    return value if math.isfinite(value) else _NotANumber(text[:40])


def json_body(req: webob.Request):
    """The request body as JSON, or raise BadJSON (a ValueError) with a
    readable reason: not JSON, the non-standard constants NaN and Infinity
    or a number overflowing to infinity, nesting deeper than
    MAX_JSON_DEPTH, or a string that is not valid Unicode (a lone
    surrogate written as an escape); the last three name the field."""
    if not req.body:
        raise BadJSON("The request body is empty")
    try:
        data = json.loads(req.body, parse_constant=_NotANumber, parse_float=_float)
    except RecursionError:
        raise BadJSON(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJSON(str(exc)) from None
    check_json_value(data)
    return data


def _field(path):
    return "/".join(str(p) for p in path)


def check_json_value(data):
    """Raise BadJSON when *data* nests deeper than MAX_JSON_DEPTH or holds a
    string (member name or value) that cannot be encoded as UTF-8."""
    stack = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= MAX_JSON_DEPTH and isinstance(value, (dict, list)):
            raise BadJSON(f"nested deeper than {MAX_JSON_DEPTH} levels",
                          _field(path[:MAX_JSON_DEPTH]))
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, _NotANumber):
            raise BadJSON(f"{value.text} is not a JSON number (nor a finite one)",
                          _field(path))
        elif isinstance(value, dict):
            for key, member in value.items():
                _check_text(key, path + (key,))
                stack.append((member, path + (key,)))
        elif isinstance(value, list):
            stack.extend((member, path + (i,)) for i, member in enumerate(value))


def _check_text(text, path):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadJSON("the string is not valid Unicode (it holds a lone surrogate)",
                      _field(path)) from None


def undecodable_url_part(environ) -> str | None:
    """'path' or 'query string' when that part of the request's URL is not
    UTF-8 once percent-decoded (PEP 3333 hands the path over as latin-1
    characters, one per byte), else None."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    try:
        path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return "path"
    try:
        unquote_to_bytes(query.replace("+", " ")).decode("utf-8")
    except UnicodeError:
        return "query string"
    return None


class UrlDecodeGuard:
    """Answer 400 (built by *reject(environ, message)* in the app's own
    error format) for a URL whose path or query string is not UTF-8 once
    percent-decoded, before anything reads it as text."""

    def __init__(self, app, reject):
        self.app = app
        self.reject = reject

    def __call__(self, environ, start_response):
        part = undecodable_url_part(environ)
        if part is None:
            return self.app(environ, start_response)
        resp = self.reject(environ, f"The request's {part} is not valid UTF-8 once "
                                    "percent-decoded.")
        return resp(environ, start_response)


class LastResortFaults:
    """Anything an app lets escape becomes *respond(environ)*, a 500 in the
    app's own error format, and is logged: never a traceback."""

    def __init__(self, app, respond, what):
        self.app = app
        self.respond = respond
        self.what = what

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except Exception:  # noqa: BLE001 - logged, answered in the app's format
            LOG.exception("unhandled error in the %s", self.what)
            return self.respond(environ)(environ, start_response)


# oslo.middleware's RequestId, what it does, as plain WSGI (its webob
# request, response and header copy cost more than the rest of this layer):
# an inbound global request id of its form kept, a new request id in the
# environ and in these response headers (x-compute-request-id too, as Nova
# sends it beside x-openstack-request-id) unless the app set them.
_GLOBAL_REQUEST_ID = re.compile(oslo_request_id.ID_FORMAT)
_REQUEST_ID_HEADERS = (oslo_request_id.HTTP_RESP_HEADER_REQUEST_ID, "x-compute-request-id")


class RequestIdMiddleware:
    """Each request's id as oslo.middleware's RequestId gives it
    (``environ["openstack.request_id"]``, the x-openstack-request-id and
    x-compute-request-id headers, an inbound global request id kept), and
    one request-log line per request with it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        level = logging.DEBUG if environ.get(IN_PROCESS_KEY) else logging.INFO
        logged = REQUEST_LOG.isEnabledFor(level)
        began = time.monotonic() if logged else 0.0
        answered = []
        global_id = environ.get("HTTP_X_OPENSTACK_REQUEST_ID", "")
        if _GLOBAL_REQUEST_ID.match(global_id):
            environ[oslo_request_id.GLOBAL_REQ_ID] = global_id
        req_id = environ[oslo_request_id.ENV_REQUEST_ID] = oslo_context.generate_request_id()

        def _start(status, headers, exc_info=None):
            answered.append(status)
            have = {name.lower() for name, _ in headers}
            headers = list(headers) + [(name, req_id) for name in _REQUEST_ID_HEADERS
                                       if name not in have]
            return start_response(status, headers, exc_info)

        result = self.app(environ, _start)
        if logged:
            # One line per request (compute-aio's request log; --quiet
            # raises this logger's level).
            # With the caller's user and project ids once the auth filter
            # has made its context (as Nova's log lines carry them).
            query = environ.get("QUERY_STRING")
            ctx = environ.get(CONTEXT_KEY)
            who = f" user {ctx.user_id} project {ctx.project_id}" if ctx is not None else ""
            REQUEST_LOG.log(level, "%s %s%s%s %s %.1f ms %s%s", environ.get("REQUEST_METHOD"),
                             environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""),
                             "?" + query if query else "",
                             answered[0].split(" ", 1)[0] if answered else "-",
                             (time.monotonic() - began) * 1000, req_id, who)
        return result

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls


class NoAuthMiddleware:
    """noauth2 as Nova has it: ``X-Auth-Token: user:project`` (or just
    ``user``, the project then being the user); the user ``admin`` gets the
    admin role. No token is a 401. For local use only.

    With *placement_roles* (placement's pipeline), the roles and scope are
    openstack-placement's noauth ones: ``X-Roles`` (a comma-separated list)
    when sent, else ``admin`` for the user admin and none for others; an
    ``OpenStack-System-Scope`` header makes a system-scoped context (no
    project)."""

    def __init__(self, app, unauthorized, placement_roles=False):
        self.app = app
        self.unauthorized = unauthorized
        self.placement_roles = placement_roles

    # Plain WSGI, the headers read from the environ: a webob request and
    # response around every request cost more than the rest of this layer.
    def __call__(self, environ, start_response):
        token = environ.get("HTTP_X_AUTH_TOKEN")
        if not token:
            return self.unauthorized(webob.Request(environ))(environ, start_response)
        user, _, project = token.partition(":")
        project = project or user
        system_scope = None
        if "HTTP_X_ROLES" in environ:
            roles = [r.strip() for r in environ["HTTP_X_ROLES"].split(",") if r.strip()]
        elif self.placement_roles:
            roles = ["admin"] if user == "admin" else []
        else:
            roles = ["admin", "member", "reader"] if user == "admin" else ["member", "reader"]
        if self.placement_roles and environ.get("HTTP_OPENSTACK_SYSTEM_SCOPE"):
            system_scope, project = environ["HTTP_OPENSTACK_SYSTEM_SCOPE"], None
        environ[CONTEXT_KEY] = ctx_mod.RequestContext(
            user_id=user, project_id=project, roles=roles, is_admin="admin" in roles,
            system_scope=system_scope,
            request_id=environ.get("openstack.request_id") or ctx_mod.new_request_id(),
            auth_token=token)
        return self.app(environ, start_response)


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
            system_scope=req.headers.get("OpenStack-System-Scope") or None,
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


def _oslo_middleware_factory(cls):
    """A paste filter factory for the oslo.middleware class *cls*, built as
    ``cls(app, conf)`` on the cloud's ConfigOpts (at the first request)."""

    def factory(global_conf, **local_conf):
        return _built_on_first_request(cls)

    return factory


class _SignatureReadOnce:
    """oslo.middleware's ConfigurableMiddleware answers each request by
    reading process_response's signature again (inspect, a few per cent of
    a busy API's CPU); this reads it once, per class, and answers the same."""

    _takes_request: bool

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._takes_request = "request" in inspect.getfullargspec(cls.process_response)[0]

    @webob.dec.wsgify(RequestClass=oslo_base.NoContentTypeRequest)
    def __call__(self, req):
        response = self.process_request(req)
        if response:
            return response
        response = req.get_response(self.application)
        if self._takes_request:
            return self.process_response(response, request=req)
        return self.process_response(response)


class CORS(_SignatureReadOnce, cors.CORS):
    pass


class HTTPProxyToWSGI(_SignatureReadOnce, http_proxy_to_wsgi.HTTPProxyToWSGI):
    pass


#: paste filters from oslo.middleware, configured by [cors] and
#: [oslo_middleware] enable_proxy_headers_parsing.
cors_factory = _oslo_middleware_factory(CORS)
http_proxy_to_wsgi_factory = _oslo_middleware_factory(HTTPProxyToWSGI)


def healthcheck_app_factory(global_conf, **local_conf):
    """paste app: oslo.middleware's healthcheck ([healthcheck] options),
    built on the cloud's ConfigOpts at its first request."""
    holder = {}

    def app(environ, start_response):
        check = holder.get("app")
        if check is None:
            check = holder["app"] = healthcheck.Healthcheck(None, environ[SERVICES_KEY].conf)
        return check(environ, start_response)

    return app
