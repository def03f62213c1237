"""The identity WSGI app: one routing table, Keystone's error format.

Handlers live in :mod:`compute_core.identity.handlers`; paste-deploy builds
the pipeline from ``api-paste.ini`` (pipeline ``identity``).
"""
from __future__ import annotations

import logging

import webob
import webob.dec

from compute_core import wsgi
from compute_core.identity import web
from compute_core.identity.handlers import application_credential as app_cred
from compute_core.identity.handlers import auth, project, role, user, version

LOG = logging.getLogger(__name__)

_CREDS = "/v3/users/{user_id}/application_credentials"
ROUTE_DECLARATIONS = {
    "/": {"GET": version.versions},
    "/v3": {"GET": version.v3},
    "/v3/auth/tokens": {"POST": auth.issue, "GET": auth.validate, "HEAD": auth.check,
                        "DELETE": auth.revoke},
    "/v3/auth/projects": {"GET": auth.projects},
    "/v3/auth/catalog": {"GET": auth.catalog},
    "/v3/auth/system": {"GET": auth.system},
    "/v3/projects": {"GET": project.list_projects},
    "/v3/projects/{project_id}": {"GET": project.get_project},
    "/v3/users": {"GET": user.list_users},
    "/v3/users/{user_id}": {"GET": user.get_user},
    "/v3/users/{user_id}/projects": {"GET": user.user_projects},
    "/v3/roles": {"GET": role.list_roles},
    "/v3/roles/{role_id}": {"GET": role.get_role},
    _CREDS: {"GET": app_cred.list_credentials, "POST": app_cred.create},
    _CREDS + "/{credential_id}": {"GET": app_cred.get_credential,
                                  "DELETE": app_cred.delete_credential},
}


class IdentityApp:
    def __init__(self):
        self.routes = wsgi.RouteTable(
            ROUTE_DECLARATIONS,
            not_found=lambda req: web.error_response(req, 404, "The resource could not be "
                                                                "found."),
            not_allowed=lambda req, allowed: web.error_response(
                req, 405, f"The method is not allowed; allowed: {allowed}."))

    @webob.dec.wsgify
    def __call__(self, req):
        handler, args, allowed = self.routes.match(req)
        if handler is None:
            if allowed:
                resp = self.routes.not_allowed(req, allowed)
                resp.headers["Allow"] = allowed
                return resp
            return self.routes.not_found(req)
        try:
            return handler(req, **args)
        except web.IdentityError as exc:
            return web.error_response(req, exc.status, exc.message)


def app_factory(global_conf, **local_conf):
    return IdentityApp()


def faultwrap_factory(global_conf, **local_conf):
    """A bug escaping the app is a 500 in Keystone's error format."""
    return lambda app: wsgi.LastResortFaults(
        app, lambda environ: web.error_response(
            webob.Request(environ), 500, "An unexpected error prevented the server from "
                                         "fulfilling your request."), "identity API")


def sizelimit_factory(global_conf, **local_conf):
    return wsgi.body_size_limit_factory(
        lambda req, limit: web.error_response(req, 413, f"Request is too large: the body is "
                                                        f"over {limit} bytes."))


def url_guard_factory(global_conf, **local_conf):
    """A path or query string that is not UTF-8 is a 400."""
    return lambda app: wsgi.UrlDecodeGuard(
        app, lambda environ, message: web.error_response(webob.Request(environ), 400,
                                                         message))
