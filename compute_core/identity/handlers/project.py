"""Projects: GET /v3/projects (admin), GET /v3/projects/{id} (admin, or a
project the caller holds a role on)."""
from compute_core.identity import web


def project_view(req, p):
    return {"id": p["id"], "name": p["name"], "domain_id": "default",
            "description": p["description"], "enabled": p["enabled"], "is_domain": False,
            "parent_id": "default", "tags": [], "options": {},
            "links": web.links(req, f"/v3/projects/{p['id']}")}


def list_projects(req):
    svc = web.services(req)
    token = web.caller(req)
    web.require_admin(req, token)
    name = req.GET.get("name")
    rows = [] if req.GET.get("domain_id", "default") != "default" else svc.projects(name)
    if "enabled" in req.GET:
        wanted = req.GET["enabled"].lower() not in ("0", "false", "no")
        rows = [p for p in rows if p["enabled"] == wanted]
    return web.json_response({"projects": [project_view(req, p) for p in rows],
                              "links": {**web.links(req, "/v3/projects"),
                                        "previous": None, "next": None}})


def get_project(req, project_id):
    svc = web.services(req)
    token = web.caller(req)
    project = svc.project(id=project_id)
    mine = project is not None and svc.role_ids(token.user_id, project_id)
    if not mine and not web.is_admin(req, token):
        if project is None:
            raise web.IdentityError(404, f"Could not find project: {project_id}.")
        raise web.IdentityError(403, "You are not authorized to perform the requested "
                                     "action.")
    if project is None:
        raise web.IdentityError(404, f"Could not find project: {project_id}.")
    return web.json_response({"project": project_view(req, project)})
