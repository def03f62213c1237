"""Application credentials of a user: POST/GET /v3/users/{id}/application_credentials,
GET/DELETE .../{credential_id}. Made by the user itself with a project-scoped
token; the credential gets that project and (a subset of) the token's roles."""
from __future__ import annotations

import datetime

import webob

from compute_core import exception
from compute_core.identity import web
from compute_core.identity.handlers.user import own_user
from compute_core.identity.store import isotime

WHERE = "application_credential"


def credential_view(req, svc, cred, secret=None):
    view = {"id": cred["id"], "name": cred["name"], "description": cred["description"],
            "user_id": cred["user_id"], "project_id": cred["project_id"],
            "expires_at": isotime(cred["expires_at"]) if cred["expires_at"] else None,
            "unrestricted": cred["unrestricted"], "access_rules": [],
            "roles": svc.roles_by_id(cred["roles"]),
            "links": web.links(req, f"/v3/users/{cred['user_id']}/application_credentials/"
                                    f"{cred['id']}")}
    if secret is not None:
        view["secret"] = secret
    return view


def _expiry(text):
    if text is None:
        return None
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.IdentityError(400, f"Invalid input for field '{WHERE}.expires_at': "
                                     "expected an ISO 8601 time.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def create(req, user_id):
    svc = web.services(req)
    data = web.body(req)
    token = web.caller(req)
    if token.user_id != user_id:
        raise web.IdentityError(403, "Application credentials are made by their own user.")
    if token.project_id is None:
        raise web.IdentityError(400, "Application credentials are made with a "
                                     "project-scoped token.")
    if token.application_credential_id:
        raise web.IdentityError(403, "An application credential cannot make another.")
    ref = web.member(data, WHERE, dict)
    name = web.member(ref, "name", str, WHERE)
    if not name.strip() or len(name) > 255:
        raise web.IdentityError(400, f"Invalid input for field '{WHERE}.name'.")
    description = web.member(ref, "description", str, WHERE, required=False)
    secret = web.member(ref, "secret", str, WHERE, required=False)
    unrestricted = web.member(ref, "unrestricted", bool, WHERE, required=False) or False
    expires_at = _expiry(web.member(ref, "expires_at", str, WHERE, required=False)
                         if ref.get("expires_at") is not None else None)
    role_ids = list(token.role_ids)
    wanted = web.member(ref, "roles", list, WHERE, required=False)
    if wanted:
        role_ids = []
        for i, r in enumerate(wanted):
            if not isinstance(r, dict) or not ({"id", "name"} & set(r)):
                raise web.IdentityError(400, f"Invalid input for field '{WHERE}.roles[{i}]'"
                                             ": expected {\"id\"} or {\"name\"}.")
            role = svc.role(id=r["id"]) if "id" in r else svc.role(name=r["name"])
            if role is None or role["id"] not in token.role_ids:
                raise web.IdentityError(403, f"The token does not hold role "
                                             f"{r.get('id') or r.get('name')}.")
            role_ids.append(role["id"])
    try:
        cred, secret = svc.create_application_credential(
            user_id, token.project_id, name, role_ids, description, expires_at, secret,
            unrestricted)
    except exception.Conflict as exc:
        raise web.IdentityError(409, str(exc)) from None
    return web.json_response({WHERE: credential_view(req, svc, cred, secret)}, status=201)


def list_credentials(req, user_id):
    own_user(req, user_id)
    svc = web.services(req)
    creds = svc.application_credentials(user_id)
    if "name" in req.GET:
        creds = [c for c in creds if c["name"] == req.GET["name"]]
    return web.json_response({"application_credentials": [credential_view(req, svc, c)
                                                           for c in creds],
                              "links": {**web.links(
                                  req, f"/v3/users/{user_id}/application_credentials"),
                                  "previous": None, "next": None}})


def _own_credential(req, user_id, credential_id):
    own_user(req, user_id)
    cred = web.services(req).application_credential(credential_id)
    if cred is None or cred["user_id"] != user_id:
        raise web.IdentityError(404, f"Could not find application credential: "
                                     f"{credential_id}.")
    return cred


def get_credential(req, user_id, credential_id):
    cred = _own_credential(req, user_id, credential_id)
    return web.json_response({WHERE: credential_view(req, web.services(req), cred)})


def delete_credential(req, user_id, credential_id):
    _own_credential(req, user_id, credential_id)
    web.services(req).delete_application_credential(credential_id)
    return webob.Response(status=204)
