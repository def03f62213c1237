"""Roles: GET /v3/roles and GET /v3/roles/{id} (any valid token)."""
from compute_core.identity import web


def role_view(req, r):
    return {"id": r["id"], "name": r["name"], "domain_id": None, "description": None,
            "options": {}, "links": web.links(req, f"/v3/roles/{r['id']}")}


def list_roles(req):
    web.caller(req)
    rows = web.services(req).roles(req.GET.get("name"))
    return web.json_response({"roles": [role_view(req, r) for r in rows],
                              "links": {**web.links(req, "/v3/roles"),
                                        "previous": None, "next": None}})


def get_role(req, role_id):
    web.caller(req)
    role = web.services(req).role(id=role_id)
    if role is None:
        raise web.IdentityError(404, f"Could not find role: {role_id}.")
    return web.json_response({"role": role_view(req, role)})
