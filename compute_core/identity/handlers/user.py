"""Users: GET /v3/users (admin), GET /v3/users/{id} and
GET /v3/users/{id}/projects (the user itself, or an admin)."""
from compute_core.identity import web
from compute_core.identity.handlers.project import project_view


def user_view(req, u):
    return {"id": u["id"], "name": u["name"], "domain_id": "default", "enabled": u["enabled"],
            "default_project_id": u["default_project_id"], "password_expires_at": None,
            "options": {}, "links": web.links(req, f"/v3/users/{u['id']}")}


def list_users(req):
    svc = web.services(req)
    web.require_admin(req, web.caller(req))
    rows = [] if req.GET.get("domain_id", "default") != "default" else \
        svc.users(req.GET.get("name"))
    return web.json_response({"users": [user_view(req, u) for u in rows],
                              "links": {**web.links(req, "/v3/users"),
                                        "previous": None, "next": None}})


def own_user(req, user_id):
    """The user *user_id* if the caller is it or an admin; else 403/404."""
    svc = web.services(req)
    token = web.caller(req)
    if token.user_id != user_id:
        web.require_admin(req, token)
    user = svc.user(id=user_id)
    if user is None:
        raise web.IdentityError(404, f"Could not find user: {user_id}.")
    return user, token


def get_user(req, user_id):
    user, _ = own_user(req, user_id)
    return web.json_response({"user": user_view(req, user)})


def user_projects(req, user_id):
    own_user(req, user_id)
    rows = web.services(req).projects_of_user(user_id)
    return web.json_response({"projects": [project_view(req, p) for p in rows],
                              "links": {**web.links(req, f"/v3/users/{user_id}/projects"),
                                        "previous": None, "next": None}})
