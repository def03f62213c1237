"""/os-server-groups: server groups (create, list, show, delete) and what a
boot in a group does (the ``group`` scheduler hint).

Before 2.64 a group has ``policies`` (one of them) and empty ``metadata``;
from 2.64 ``policy`` and ``rules`` (``max_server_per_host`` for
anti-affinity). The soft policies come at 2.15, ``project_id`` and
``user_id`` at 2.13. The quotas ``server_groups`` (groups per project) and
``server_group_members`` (servers per group) are checked on create and
boot.
"""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy, query, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionedSchemas, VersionRange
from compute_core.api.quota import Quota
from compute_core.api.views import ViewFields
from compute_core.apispec import keyed, operation
from compute_core.db import api_db
from compute_core.db import server_groups as groups_db

_ROOT = "os_compute_api:os-server-groups:"
RULES = (
    policy.rule(_ROOT + "create", policy.PROJECT_MEMBER_OR_ADMIN, "Create a server group",
                [("POST", "/os-server-groups")]),
    policy.rule(_ROOT + "delete", policy.PROJECT_MEMBER_OR_ADMIN, "Delete a server group",
                [("DELETE", "/os-server-groups/{server_group_id}")]),
    policy.rule(_ROOT + "index", policy.PROJECT_READER_OR_ADMIN, "List the project's server groups",
                [("GET", "/os-server-groups")]),
    policy.rule(_ROOT + "index:all_projects", policy.ADMIN,
                "List the server groups of every project", [("GET", "/os-server-groups")]),
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Show a server group",
                [("GET", "/os-server-groups/{server_group_id}")]),
)

# ----------------------------------------------------------------- schemas

_HARD = ["anti-affinity", "affinity"]
_ALL = _HARD + ["soft-anti-affinity", "soft-affinity"]


def _policies(enum):
    return {"type": "array", "items": [{"type": "string", "enum": enum}],
            "additionalItems": False, "uniqueItems": True, "minItems": 1, "maxItems": 1}


def _create(props, required):
    return {"type": "object",
            "properties": {"server_group": {
                "type": "object", "properties": {"name": schemas.NAME, **props},
                "required": ["name", *required], "additionalProperties": False}},
            "required": ["server_group"], "additionalProperties": False}


CREATE = VersionedSchemas(
    ("2.1", "2.14", _create({"policies": _policies(_HARD)}, ["policies"])),
    ("2.15", "2.63", _create({"policies": _policies(_ALL)}, ["policies"])),
    ("2.64", None, _create({
        "policy": {"type": "string", "enum": _ALL},
        "rules": {"type": "object",
                  "properties": {"max_server_per_host": {
                      "type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1}},
                  "additionalProperties": False}}, ["policy"])),
)
_PAGES = {"all_projects": {"type": "string"},
          "limit": {"type": "integer", "minimum": 0},
          "offset": {"type": "integer", "minimum": 0}}
POLICY_FIELD = VersionRange("2.64")

# ------------------------------------------------------------------- views

FIELDS = ViewFields(
    ("policies", None, "2.63", lambda g: [g["policy"]]),
    ("metadata", None, "2.63", lambda g: {}),
    ("project_id", "2.13", None, lambda g: g["project_id"]),
    ("user_id", "2.13", None, lambda g: g["user_id"]),
    ("policy", "2.64", None, lambda g: g["policy"]),
    ("rules", "2.64", None, lambda g: dict(g["rules"] or {})),
)


def group_view(version, group) -> dict:
    return FIELDS.add({"id": group["uuid"], "name": group["name"],
                       "members": list(group["members"])}, version, group)


# ---------------------------------------------------------------- handlers

def _may_see(call, group, rule):
    target = {"project_id": group["project_id"], "user_id": group["user_id"]}
    if not call.allowed(rule, target):
        raise APIError(404, f"Instance group {group['uuid']} could not be found.")


def _get(call, group_id, rule):
    try:
        group = groups_db.get(call.services.api_db, group_id)
    except groups_db.ServerGroupNotFound as exc:
        raise APIError(404, exc.message) from None
    _may_see(call, group, rule)
    return group


@operation("listServerGroups", "List server groups", ok={200: keyed("server_groups")},
           query=_PAGES)
def index(call):
    call.authorize(_ROOT + "index", {"project_id": call.ctx.project_id})
    q = call.req.GET
    query.refuse_unknown(call, _PAGES)
    project = call.ctx.project_id
    if str(q.get("all_projects", "")).lower() in ("1", "true", "yes", "") and \
            "all_projects" in q and call.allowed(_ROOT + "index:all_projects", {}):
        project = None
    groups = groups_db.list_groups(call.services.api_db, project,
                                   limit=query.page_limit(call),
                                   # (an offset past any project's groups finds none)
                                   offset=min(query.integer(call, "offset") or 0,
                                              schemas.SQL_INT_MAX))
    return 200, {"server_groups": [group_view(call.version, g) for g in groups]}


@operation("createServerGroup", "Create a server group", ok={200: keyed("server_group")},
           errors=(400, 403, 409), body=CREATE,
           links={"GetServerGroup": ("showServerGroup", {
               "server_group_id": "$response.body#/server_group/id"})})
def create(call):
    project, user = call.ctx.project_id, call.ctx.user_id
    call.authorize(_ROOT + "create", {"project_id": project, "user_id": user})
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    fields = body["server_group"]
    if call.version in POLICY_FIELD:
        group_policy, rules = fields["policy"], dict(fields.get("rules") or {})
        if rules and group_policy != "anti-affinity":
            raise APIError(400, "Only anti-affinity policy supports rules.")
        if "max_server_per_host" in rules:
            rules["max_server_per_host"] = int(rules["max_server_per_host"])
            if rules["max_server_per_host"] < 1:
                raise APIError(400, "Invalid input for field/attribute max_server_per_host. "
                                    "Value: 0. 0 is less than the minimum of 1")
    else:
        group_policy, rules = fields["policies"][0], {}
    db = call.services.api_db
    limit = Quota(call.services).limits(project)["server_groups"]

    def over():
        return 0 <= limit < groups_db.count(db, project)

    if 0 <= limit <= groups_db.count(db, project):
        raise APIError(403, "Quota exceeded, too many server groups.")
    group = groups_db.create(db, fields["name"], group_policy, rules, project, user)
    if over():  # a concurrent create took the last place: this one gives way
        groups_db.delete(db, group["uuid"])
        raise APIError(403, "Quota exceeded, too many server groups.")
    return 200, {"server_group": group_view(call.version, group)}


@operation("showServerGroup", "Show a server group", ok={200: keyed("server_group")},
           errors=(404,))
def show(call, server_group_id):
    return 200, {"server_group": group_view(call.version,
                                            _get(call, server_group_id, _ROOT + "show"))}


@operation("deleteServerGroup", "Delete a server group", ok={204: None}, errors=(404,))
def delete(call, server_group_id):
    group = _get(call, server_group_id, _ROOT + "delete")
    try:
        groups_db.delete(call.services.api_db, group["uuid"])
    except groups_db.ServerGroupNotFound as exc:
        raise APIError(404, exc.message) from None
    return 204, None


ROUTES = {
    "/os-server-groups": {"GET": index, "POST": create},
    "/os-server-groups/{server_group_id}": {"GET": show, "DELETE": delete},
}


# ------------------------------------------------- a boot into a group

def group_for_boot(s, ctxt, group_id, count, limits) -> dict:
    """The group a boot names in its ``group`` hint, as the scheduler reads
    it (policy, rules, members, hosts of the members); Invalid when there is
    no such group for the caller, QuotaExceeded when *count* more members
    would pass ``server_group_members``."""
    try:
        group = groups_db.get(s.api_db, group_id)
    except groups_db.ServerGroupNotFound:
        raise exception.Invalid(f"Invalid input received: Group {group_id} could not be "
                                "found.") from None
    if group["project_id"] != ctxt.project_id and not ctxt.is_admin:
        raise exception.Invalid(f"Invalid input received: Group {group_id} could not be "
                                "found.")
    allowed = limits.get("server_group_members", -1)
    if 0 <= allowed < len(group["members"]) + count:
        raise exception.QuotaExceeded(overs="server_group_members",
                                      req=count, used=len(group["members"]), allowed=allowed,
                                      message="Quota exceeded, too many servers in group")
    return {"uuid": group["uuid"], "policy": group["policy"], "rules": group["rules"],
            "members": list(group["members"]),
            "hosts": sorted(_hosts_of(s, group["members"]))}


def _hosts_of(s, uuids) -> set[str]:
    """The hosts the live servers among *uuids* are on."""
    from compute_core.db import cell_db

    hosts: set[str] = set()
    by_cell: dict = {}
    for uuid, mapping in api_db.instance_mappings_of(s.api_db, uuids).items():
        if mapping and mapping.get("cell_uuid"):
            by_cell.setdefault(mapping["cell_uuid"], []).append(uuid)
    for cell_uuid, found in by_cell.items():
        for inst in cell_db.list_instances(s.cells.get(cell_uuid), {"uuids": found},
                                           with_faults=False):
            if inst.get("host"):
                hosts.add(inst["host"])
    return hosts
