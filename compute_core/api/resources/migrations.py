"""/os-migrations (every move of every cell, admin) and
/servers/{server_id}/migrations (a server's live migrations in progress,
from 2.23: list, show; abort from 2.24; force_complete from 2.22).

Shapes by version: ``migration_type`` and the live migrations' ``links`` at
2.23, ``uuid`` and pages (limit, marker: a migration's uuid; changes-since)
at 2.59, changes-before at 2.66, ``user_id`` / ``project_id`` (and their
filters) at 2.80.
"""
from __future__ import annotations

from urllib.parse import urlencode

from compute_core import exception
from compute_core.api import policy, query, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import ByVersion, VersionRange, versioned
from compute_core.apispec import keyed, operation
from compute_core.api.server_service import ServerService
from compute_core.db import api_db, cell_db
from compute_core.db import server_moves as moves_db

_ROOT = "os_compute_api:servers:migrations:"
RULES = (
    policy.rule("os_compute_api:os-migrations:index", policy.PROJECT_MANAGER_OR_ADMIN,
                "List the migrations of the project", [("GET", "/os-migrations")]),
    policy.rule("os_compute_api:os-migrations:index:all_projects", policy.ADMIN,
                "List the migrations of every project (no project_id, or another's)",
                [("GET", "/os-migrations")]),
    policy.rule("os_compute_api:os-migrations:index:host", policy.ADMIN,
                "See the hosts and nodes of migrations", [("GET", "/os-migrations")]),
    policy.rule(_ROOT + "index", policy.PROJECT_MANAGER_OR_ADMIN,
                "List a server's live migrations in progress",
                [("GET", "/servers/{server_id}/migrations")]),
    policy.rule(_ROOT + "index:host", policy.ADMIN,
                "See the hosts and nodes of a server's live migrations",
                [("GET", "/servers/{server_id}/migrations")]),
    policy.rule(_ROOT + "show", policy.ADMIN, "Show a live migration in progress",
                [("GET", "/servers/{server_id}/migrations/{migration_id}")]),
    policy.rule(_ROOT + "delete", policy.PROJECT_MANAGER_OR_ADMIN,
                "Abort a live migration in progress",
                [("DELETE", "/servers/{server_id}/migrations/{migration_id}")]),
    policy.rule(_ROOT + "force_complete", policy.PROJECT_MANAGER_OR_ADMIN,
                "Force a live migration in progress to complete",
                [("POST", "/servers/{server_id}/migrations/{migration_id}/action "
                          "(force_complete)")]),
)

LIVE_IN_PROGRESS = ("queued", "preparing", "running", "post-migrating")
TYPED = VersionRange("2.23")
PAGED = VersionRange("2.59")
OWNERS = VersionRange("2.80")
_FILTERS = ("hidden", "host", "instance_uuid", "source_compute", "status", "migration_type")
ALLOWED_QUERY = ByVersion(
    ("2.1", "2.58", None),  # any other parameter is ignored
    ("2.59", "2.65", set(_FILTERS) | {"limit", "marker", "changes-since"}),
    ("2.66", "2.79", set(_FILTERS) | {"limit", "marker", "changes-since", "changes-before"}),
    ("2.80", None, set(_FILTERS) | {"limit", "marker", "changes-since", "changes-before",
                                    "user_id", "project_id"}),
)
QUERY = {name: {"type": "string"} for name in (*_FILTERS, "marker", "changes-since",
                                                "changes-before", "user_id", "project_id")}
QUERY["limit"] = {"type": "integer", "minimum": 0}


def list_query(version):
    """The parameters the listing takes at *version* (below 2.59 the
    filters; others are ignored)."""
    names = ALLOWED_QUERY.at(version) or _FILTERS
    return {name: schema for name, schema in QUERY.items() if name in names}


class _FlavorIds:
    """Flavor ids (as moves record them) to the flavors' numeric ids, for
    one request."""

    def __init__(self, call):
        self.call, self.seen = call, {}

    def __call__(self, flavorid):
        if flavorid not in self.seen:
            try:
                self.seen[flavorid] = api_db.get_flavor(self.call.services.api_db,
                                                        flavorid)["id"]
            except exception.FlavorNotFound:
                self.seen[flavorid] = 0  # deleted since
        return self.seen[flavorid]


_HOST_FIELDS = ("source_compute", "source_node", "dest_compute", "dest_node", "dest_host")


def migration_view(call, move, flavor_ids, links, hosts=True) -> dict:
    """A migration; without *hosts* (policy's ...:index:host) its hosts and
    nodes are null, as Nova shows them."""
    out = {
        "id": move["id"], "instance_uuid": move["instance_uuid"], "status": move["status"],
        **{key: move[key] if hosts else None for key in _HOST_FIELDS},
        "old_instance_type_id": flavor_ids(move["old_flavor_id"]),
        "new_instance_type_id": flavor_ids(move["new_flavor_id"]),
        "created_at": views.iso_usec(move["created_at"]),
        "updated_at": views.iso_usec(move.get("updated_at")),
    }
    if call.version in TYPED:
        out["migration_type"] = move["migration_type"]
        if links and move["migration_type"] == "live-migration" and \
                move["status"] in LIVE_IN_PROGRESS:
            out["links"] = views.links(call.req, f"servers/{move['instance_uuid']}/migrations",
                                       move["id"])
    if call.version in PAGED:
        out["uuid"] = move["uuid"]
    if call.version in OWNERS:
        out["user_id"], out["project_id"] = move.get("user_id"), move.get("project_id")
    return out


def _moves(call, filters):
    found = []
    for cell in call.services.cells.cells(include_cell0=False):
        found += moves_db.list_moves(call.services.cells.get(cell["uuid"]), filters)
    found.sort(key=lambda m: (m["created_at"], m["id"]))
    return found


@operation("listMigrations", "List the migrations of every cell", ok={200: keyed("migrations")},
           errors=(400, 403), admin=True, query=list_query)
def index(call):
    call.authorize("os_compute_api:os-migrations:index")
    q = call.req.GET
    # no project asked, or another's: every project's, an admin's right (403)
    if q.get("project_id") != call.ctx.project_id:
        call.authorize("os_compute_api:os-migrations:index:all_projects")
    hosts = call.allowed("os_compute_api:os-migrations:index:host")
    allowed = ALLOWED_QUERY.at(call.version)
    if allowed is not None:
        query.refuse_unknown(call, allowed, closed=VersionRange("2.59"))
    filters = {k: q[k] for k in ("host", "instance_uuid", "source_compute", "status",
                                 "migration_type") if k in q}
    if "hidden" in q:
        filters["hidden"] = str(q["hidden"]).lower() in ("1", "true", "yes", "on")
    else:
        filters["hidden"] = False
    if call.version in OWNERS:
        filters.update({k: q[k] for k in ("user_id", "project_id") if k in q})
    if not call.allowed("os_compute_api:os-migrations:index:all_projects"):
        filters["project_id"] = call.ctx.project_id
    if call.version in PAGED:
        since, before = query.time_window(query.single_timestamp(call, "changes-since"),
                                          query.single_timestamp(call, "changes-before"))
        filters.update(changes_since=since, changes_before=before)
    moves = _moves(call, filters)
    body = {}
    if call.version in PAGED:
        # newest first when paging, as Nova sorts by created_at, id descending
        moves.reverse()
        marker = q.get("marker")
        if marker is not None:
            at = next((i for i, m in enumerate(moves) if m["uuid"] == marker), None)
            if at is None:
                raise APIError(400, f"Marker {marker} could not be found.")
            moves = moves[at + 1:]
        limit = query.page_limit(call)
        more = len(moves) > limit
        moves = moves[:limit]
        if more and moves:
            qs = dict(q)
            qs.update(limit=str(limit), marker=moves[-1]["uuid"])
            body["migrations_links"] = [{"rel": "next", "href": f"{call.req.application_url}/"
                                         f"os-migrations?{urlencode(qs)}"}]
    flavor_ids = _FlavorIds(call)
    return 200, {"migrations": [migration_view(call, m, flavor_ids, True, hosts)
                                for m in moves], **body}


# ------------------------------------------- a server's live migrations

def _server(call, server_id):
    try:
        return call.server_service.get(call.ctx, server_id)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None


def _live(call, server_id):
    inst = _server(call, server_id)
    if inst.get("cell_uuid") is None:
        return inst, []
    db = call.services.cells.get(inst["cell_uuid"])
    return inst, moves_db.list_moves(db, {"instance_uuid": inst["uuid"],
                                          "migration_type": "live-migration",
                                          "status": list(LIVE_IN_PROGRESS)})


def _live_view(call, move, hosts=True):
    out = {k: v for k, v in migration_view(call, move, lambda _: 0, False, hosts).items()
           if k not in ("old_instance_type_id", "new_instance_type_id", "migration_type")}
    out["server_uuid"] = out.pop("instance_uuid")
    for key in ("memory_total", "memory_processed", "memory_remaining", "disk_total",
                "disk_processed", "disk_remaining"):
        out[key] = move.get(key)  # what the source host's driver reported (or None)
    return out


@versioned("2.23")
@operation("listServerMigrations", "List a server's live migrations in progress",
           ok={200: keyed("migrations")}, errors=(403, 404), admin=True)
def server_index(call, server_id):
    target = _target(call, server_id)
    call.authorize(_ROOT + "index", target)
    hosts = call.allowed(_ROOT + "index:host", target)
    _, moves = _live(call, server_id)
    return 200, {"migrations": [_live_view(call, m, hosts) for m in moves]}


def _target(call, server_id):
    inst = _server(call, server_id)
    return {"project_id": inst["project_id"], "user_id": inst.get("user_id")}


def _one(call, server_id, migration_id):
    inst, moves = _live(call, server_id)
    found = next((m for m in moves if str(m["id"]) == str(migration_id)), None)
    return inst, found


@versioned("2.23")
@operation("showServerMigration", "Show a live migration in progress",
           ok={200: keyed("migration")}, errors=(403, 404), admin=True)
def server_show(call, server_id, migration_id):
    call.authorize(_ROOT + "show", _target(call, server_id))
    _, move = _one(call, server_id, migration_id)
    if move is None:
        raise APIError(404, f"In-progress live migration {migration_id} is not found for "
                            f"server {server_id}.")
    return 200, {"migration": _live_view(call, move)}


def _no_running_live_migration(server_id, migration_id, action):
    return APIError(400, f"Migration {migration_id} state of instance {server_id} is not "
                         f"running. Cannot {action} while the migration is in this state.")


@versioned("2.24")
@operation("abortServerMigration", "Abort a live migration in progress", ok={202: None},
           errors=(400, 403, 404, 409), admin=True)
def server_abort(call, server_id, migration_id):
    call.authorize(_ROOT + "delete", _target(call, server_id))
    inst, move = _one(call, server_id, migration_id)
    if move is None:
        raise APIError(404, f"Migration {migration_id} for server {server_id} not found.")
    if move["status"] != "running":
        raise _no_running_live_migration(server_id, migration_id, "abort live migration")
    _to_source(call, inst, move, "live_migration_cancel", "supports_live_migration_abort",
               "the compute driver does not support aborting live migrations",
               lambda rpc, host, instance: rpc.live_migration_abort(
                   call.ctx, host, instance, move["id"]))
    return 202, None


def _to_source(call, inst, move, action, capability, refusal, cast):
    """Record *action* and cast it to the migration's source host, or 409
    when that host's driver declared it cannot do it."""
    db = call.services.cells.get(inst["cell_uuid"])
    source = dict(inst, host=move["source_compute"], node=move.get("source_node"))
    try:
        ServerService._check_driver_supports(db, source, action, capability)
    except exception.NotSupportedByDriver:
        verb = "abort" if action == "live_migration_cancel" else "force complete"
        raise APIError(409, f"Cannot {verb} live migration {move['id']} of instance "
                            f"{inst['uuid']}: {refusal}.") from None
    cell_db.start_action(db, inst["uuid"], action, call.ctx)
    cast(call.services.compute_rpc, move["source_compute"],
         cell_db.get_instance(db, inst["uuid"]))


@versioned("2.22")
@operation("serverMigrationAction", "Force a live migration in progress to complete",
           ok={202: None}, errors=(400, 403, 404, 409), admin=True)
def server_action(call, server_id, migration_id):
    body = call.json()
    if "force_complete" not in body:
        raise APIError(400, f"There is no such action: {next(iter(body), '')}")
    if body["force_complete"] is not None:
        raise APIError(400, "Invalid input for field/attribute force_complete. Value: "
                            f"{body['force_complete']!r}. It must be null")
    call.authorize(_ROOT + "force_complete", _target(call, server_id))
    inst, move = _one(call, server_id, migration_id)
    if move is None or move["status"] != "running":
        raise _no_running_live_migration(server_id, migration_id, "force complete")
    _to_source(call, inst, move, "live_migration_force_complete",
               "supports_live_migration_force_complete",
               "the compute driver does not support it",
               lambda rpc, host, instance: rpc.live_migration_force_complete(
                   call.ctx, host, instance))
    return 202, None


ROUTES = {
    "/os-migrations": {"GET": index},
    "/servers/{server_id}/migrations": {"GET": server_index},
    "/servers/{server_id}/migrations/{migration_id}": {"GET": server_show,
                                                        "DELETE": server_abort},
    "/servers/{server_id}/migrations/{migration_id}/action": {"POST": server_action},
}
