"""Tokens: POST /v3/auth/tokens (password, token and application credential
methods; project and system scope), GET/HEAD/DELETE /v3/auth/tokens
(validation and revocation), and what the caller's token reaches:
/v3/auth/projects, /v3/auth/catalog, /v3/auth/system."""
from __future__ import annotations


import webob

from compute_core import clock
from compute_core.identity import web
from compute_core.identity.handlers.project import project_view
from compute_core.identity.store import DOMAIN, check_secret

METHODS = ("password", "token", "application_credential")


def _unauthorized(message="The request you have made requires authentication."):
    return web.IdentityError(401, message)


def _check_domain(ref, where):
    domain = web.member(ref, "domain", dict, where, required=False)
    if domain is None:
        return
    if domain.get("id") not in (None, DOMAIN["id"]) or \
            domain.get("name") not in (None, DOMAIN["name"]):
        raise _unauthorized(f"Could not find domain {domain.get('id') or domain.get('name')}.")


def _find_user(svc, ref, where):
    """The user named by *ref* ({"id"} or {"name", "domain"}); 401 if none."""
    if not isinstance(ref, dict):
        raise web.IdentityError(400, f"Invalid input for field {where!r}: expected dict.")
    if "id" in ref:
        user = svc.user(id=web.member(ref, "id", str, where))
    else:
        name = web.member(ref, "name", str, where)
        _check_domain(ref, where)
        user = svc.user(name=name)
    if user is None or not user["enabled"]:
        raise _unauthorized()
    return user


def _password(svc, identity):
    pw = web.member(identity, "password", dict, "auth.identity")
    ref = web.member(pw, "user", dict, "auth.identity.password")
    secret = web.member(ref, "password", str, "auth.identity.password.user")
    user = _find_user(svc, ref, "auth.identity.password.user")
    if not svc.check_password(user, secret):
        raise _unauthorized()
    return {"user": user}


def _token(svc, identity):
    ref = web.member(identity, "token", dict, "auth.identity")
    token = svc.token(web.member(ref, "id", str, "auth.identity.token"))
    if token is None:
        raise _unauthorized("Could not find the token it was asked to be exchanged for.")
    if token.application_credential_id:
        raise _unauthorized("A token made from an application credential cannot make "
                            "another token.")
    return {"user": svc.user(id=token.user_id), "from_token": token}


def _application_credential(svc, identity):
    where = "auth.identity.application_credential"
    ref = web.member(identity, "application_credential", dict, "auth.identity")
    secret = web.member(ref, "secret", str, where)
    if "id" in ref:
        cred = svc.application_credential(web.member(ref, "id", str, where))
    else:
        name = web.member(ref, "name", str, where)
        user = _find_user(svc, web.member(ref, "user", dict, where), where + ".user")
        cred = svc.application_credential(user_id=user["id"], name=name)
    if cred is None or not check_secret(secret, cred["secret_hash"]):
        raise _unauthorized()
    if cred["expires_at"] is not None and cred["expires_at"] <= clock.current().time():
        raise _unauthorized("The application credential has expired.")
    user = svc.user(id=cred["user_id"])
    if user is None or not user["enabled"]:
        raise _unauthorized()
    return {"user": user, "credential": cred}


_AUTHENTICATORS = {"password": _password, "token": _token,
                   "application_credential": _application_credential}


def _scope(svc, auth, user):
    """(project_id, system) the request asks for; (None, False) unscoped."""
    scope = web.member(auth, "scope", (dict, str), "auth", required=False)
    if scope is None or scope == "unscoped":
        return None, False
    if not isinstance(scope, dict):
        raise web.IdentityError(400, "Invalid input for field 'auth.scope'.")
    if "project" in scope:
        ref = web.member(scope, "project", dict, "auth.scope")
        if "id" in ref:
            project = svc.project(id=web.member(ref, "id", str, "auth.scope.project"))
        else:
            name = web.member(ref, "name", str, "auth.scope.project")
            _check_domain(ref, "auth.scope.project")
            project = svc.project(name=name)
        if project is None or not project["enabled"]:
            raise _unauthorized("Could not find the project it was asked to be scoped to.")
        return project["id"], False
    if "system" in scope:
        system = web.member(scope, "system", dict, "auth.scope")
        if system.get("all") is not True:
            raise web.IdentityError(400, "Invalid input for field 'auth.scope.system': "
                                         "expected {\"all\": true}.")
        return None, True
    if "domain" in scope or "OS-TRUST:trust" in scope:
        raise _unauthorized("Only project and system scope are offered by this "
                            "identity service.")
    raise web.IdentityError(400, "Invalid input for field 'auth.scope': expected project "
                                 "or system.")


def issue(req):
    svc = web.services(req)
    data = web.body(req)
    auth = web.member(data, "auth", dict)
    identity = web.member(auth, "identity", dict, "auth")
    methods = web.member(identity, "methods", list, "auth.identity")
    if not methods or any(m not in METHODS for m in methods):
        raise web.IdentityError(400, "Invalid input for field 'auth.identity.methods': "
                                     f"each of {', '.join(METHODS)}.")
    results = [_AUTHENTICATORS[m](svc, identity) for m in dict.fromkeys(methods)]
    user = results[0]["user"]
    if any(r["user"]["id"] != user["id"] for r in results):
        raise _unauthorized("The methods name different users.")
    from_token = next((r["from_token"] for r in results if "from_token" in r), None)
    cred = next((r["credential"] for r in results if "credential" in r), None)

    if cred is not None:
        if auth.get("scope") not in (None, "unscoped"):
            project_id, system = _scope(svc, auth, user)
            if system or project_id != cred["project_id"]:
                raise _unauthorized("An application credential's token is scoped to its "
                                    "own project.")
        project_id, system = cred["project_id"], False
        # Its roles, as far as the user still holds them there.
        held = set(svc.role_ids(user["id"], project_id))
        role_ids = [r for r in cred["roles"] if r in held]
        if not role_ids:
            raise _unauthorized("The user no longer holds the application credential's "
                                "roles.")
        token = svc.issue_token(user["id"], project_id, methods=["application_credential"],
                                role_ids=role_ids, application_credential_id=cred["id"])
    else:
        project_id, system = _scope(svc, auth, user)
        if "scope" not in auth and from_token is not None:
            project_id, system = from_token.project_id, from_token.system
        elif "scope" not in auth and user["default_project_id"]:
            if svc.role_ids(user["id"], user["default_project_id"]):
                project_id = user["default_project_id"]
        role_ids = None
        if project_id is not None or system:
            role_ids = svc.role_ids(user["id"], project_id)
            if not role_ids:
                raise _unauthorized(f"User {user['id']} has no access to the "
                                    f"{'system' if system else 'project ' + project_id}.")
        token = svc.issue_token(
            user["id"], project_id, system, methods=list(dict.fromkeys(methods)),
            role_ids=role_ids,
            expires_at=from_token.expires_at if from_token else None)
    body = svc.token_body(token, catalog="nocatalog" not in req.GET)
    return web.json_response({"token": body}, status=201, headers={"X-Subject-Token": token.id})


def _subject(req):
    """(caller's token, subject token); the caller may look at its own
    tokens, an admin or service user at any."""
    svc = web.services(req)
    caller = web.caller(req)
    subject_id = req.headers.get("X-Subject-Token")
    if not subject_id:
        raise web.IdentityError(400, "Expecting to find the X-Subject-Token header.")
    subject = svc.token(subject_id)
    if subject is None:
        raise web.IdentityError(404, "Could not find token.")
    names = {r["name"] for r in svc.roles_by_id(caller.role_ids)}
    if not names & {"admin", "service"} and subject.user_id != caller.user_id:
        raise web.IdentityError(403, "You are not authorized to perform the requested "
                                     "action.")
    return subject


def validate(req):
    subject = _subject(req)
    body = web.services(req).token_body(subject, catalog="nocatalog" not in req.GET)
    return web.json_response({"token": body}, headers={"X-Subject-Token": subject.id})


def check(req):
    subject = _subject(req)
    return webob.Response(status=200, headers={"X-Subject-Token": subject.id})


def revoke(req):
    subject = _subject(req)
    web.services(req).revoke_token(subject.id)
    return webob.Response(status=204)


def projects(req):
    svc = web.services(req)
    token = web.caller(req)
    return web.json_response({"projects": [project_view(req, p)
                                           for p in svc.projects_of_user(token.user_id)],
                              "links": {**web.links(req, "/v3/auth/projects"),
                                        "previous": None, "next": None}})


def catalog(req):
    token = web.caller(req)
    if token.project_id is None and not token.system:
        raise web.IdentityError(403, "An unscoped token has no catalog.")
    return web.json_response({"catalog": web.services(req).catalog(),
                              "links": web.links(req, "/v3/auth/catalog")})


def system(req):
    svc = web.services(req)
    token = web.caller(req)
    systems = [{"all": True}] if svc.role_ids(token.user_id, None) else []
    return web.json_response({"system": systems, "links": web.links(req, "/v3/auth/system")})
