"""GET /servers and /servers/detail: the query (Nova's filters, the
tag filters, changes-since/changes-before, sorting and paging) read into
the server service's filters, and the listing with its next link."""
from __future__ import annotations

from urllib.parse import urlencode

from compute_core import exception, regex_filter
from compute_core.api import query
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.api.resources.server_views import (DetailView, _hosts_up, _viewer,
                                                     server_brief)
from compute_core.compute import states

# Behaviours that start at a version
STRICT_LIST_QUERY = VersionRange("2.75")  # unknown query parameters are a 400
BAD_STATUS_IS_400 = VersionRange("2.38")  # before: an unknown status matches nothing
TAG_FILTERS = VersionRange("2.26")
CHANGES_BEFORE = VersionRange("2.66")


_LIST_PARAMS = {
    "limit", "marker", "sort_key", "sort_dir", "name", "status", "image", "flavor", "host",
    "node", "ip", "ip6", "changes-since", "changes-before", "all_tenants", "project_id",
    "tenant_id", "user_id", "deleted", "reservation_id", "availability_zone", "key_name",
    "locked", "vm_state", "task_state", "power_state", "uuid", "config_drive", "tags",
    "tags-any", "not-tags", "not-tags-any", "description", "display_name", "hostname",
    "created_at", "launched_at", "terminated_at", "access_ip_v4", "access_ip_v6",
    "kernel_id", "ramdisk_id", "progress", "launch_index", "root_device_name",
    "display_description", "pinned_availability_zone", "soft_deleted",
}
SORT_KEYS = ("created_at", "display_name", "updated_at", "uuid", "launched_at", "vm_state",
             "task_state", "host", "node", "hostname")
SORT_DIRS = ("asc", "desc")


def list_query(version):
    """The query parameters of the server listings (from 2.75 no others)."""
    params = {name: {"type": "string"} for name in sorted(_LIST_PARAMS)}
    params.update(limit={"type": "integer", "minimum": 0},
                  sort_key={"type": "string", "enum": list(SORT_KEYS)},
                  sort_dir={"type": "string", "enum": list(SORT_DIRS)},
                  **{"changes-since": {"type": "string", "format": "date-time"},
                     "changes-before": {"type": "string", "format": "date-time"}})
    return params


def _bool(value):
    return str(value).lower() in ("1", "true", "yes", "on", "")


def _list_filters(call, detail):
    ctxt, q = call.ctx, call.req.GET
    query.refuse_unknown(call, _LIST_PARAMS, STRICT_LIST_QUERY)
    filters = {"deleted": False}
    if "all_tenants" in q and _bool(q.get("all_tenants")):
        # every project, or the one asked: an admin's right (403 otherwise)
        call.authorize(f"os_compute_api:servers:{'detail' if detail else 'index'}:"
                       "get_all_tenants")
        project = q.get("project_id") or q.get("tenant_id")
        if project:
            filters["project_id"] = project
    else:  # the caller's project, whatever project_id / tenant_id say (as Nova)
        filters["project_id"] = ctxt.project_id
    if call.allowed("os_compute_api:servers:allow_all_filters"):
        if "host" in q:
            filters["host"] = q["host"]
        if "node" in q:
            filters["node"] = q["node"]
        if "deleted" in q:
            filters["deleted"] = _bool(q["deleted"])
    # As Nova's: the SOFT_DELETED servers (waiting for restore) are listed
    # with deleted=true, not among the live ones, unless an admin's
    # soft_deleted says otherwise.
    filters["soft_deleted"] = filters["deleted"]
    if "soft_deleted" in q and call.allowed("os_compute_api:servers:allow_all_filters"):
        filters["soft_deleted"] = _bool(q["soft_deleted"])
    for key in ("name", "ip"):  # regular expressions: a bad one is a 400 now
        if key in q:
            try:
                regex_filter.compile_filter(q[key], key)
            except exception.Invalid as exc:
                raise APIError(400, exc.message) from None
    if "name" in q:
        filters["name"] = q["name"]
    if "status" in q:
        vm = []
        for status in q.getall("status"):
            vm.extend(states.STATUS_TO_VM_STATES.get(status.upper(), []))
        if not vm:
            if call.version in BAD_STATUS_IS_400:
                raise APIError(400, f"Invalid status value: {q['status']}")
            return None  # nothing can match
        filters["vm_state"] = vm
        if "deleted" in vm:
            filters["deleted"] = None if call.is_admin else False
    if "image" in q:
        filters["image_ref"] = q["image"].rsplit("/", 1)[-1]
    if "flavor" in q:
        filters["flavor_id"] = q["flavor"].rsplit("/", 1)[-1]
    if "ip" in q:
        filters["ip"] = q["ip"]
    for key in ("reservation_id", "availability_zone", "key_name", "user_id"):
        if key in q:
            filters[key] = q[key]
    if "uuid" in q:
        filters["uuid"] = q["uuid"]
    if call.version in TAG_FILTERS:
        for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
            if key in q:
                filters[key] = [t for t in ",".join(q.getall(key)).split(",") if t]
    since = query.timestamp(call, "changes-since")
    before = query.timestamp(call, "changes-before") if call.version in CHANGES_BEFORE \
        else None
    query.time_window(since, before)
    for key, value in (("changes-since", since), ("changes-before", before)):
        if value is not None:
            filters[key] = value
            # A window on updated_at shows the deleted servers too.
            filters["deleted"] = None if filters.get("deleted") is False else \
                filters["deleted"]
    return filters


def list_servers(call, detail):
    """(200, body) of a listing, brief or *detail*ed."""
    ctxt = call.ctx
    filters = _list_filters(call, detail)
    max_limit = call.services.conf.api.max_limit
    limit = query.integer(call, "limit", 0)
    limit = max_limit if limit is None else min(limit, max_limit)
    marker = call.req.GET.get("marker")
    sort_key = call.req.GET.get("sort_key", "created_at")
    if sort_key not in SORT_KEYS:
        raise APIError(400, f"Invalid input for query parameters sort_key. Value: {sort_key}.")
    sort_dir = call.req.GET.get("sort_dir", "desc")
    if sort_dir not in SORT_DIRS:
        raise APIError(400, f"Invalid input for query parameters sort_dir. Value: {sort_dir}.")
    if filters is None:
        servers = []
    else:
        try:
            servers = call.server_service.list(ctxt, filters, limit=limit, marker=marker,
                                               sort_key=sort_key, sort_dir=sort_dir)
        except exception.Invalid as exc:
            raise APIError(400, exc.message) from None
    if detail:
        # what the caller may see is judged once for the listing (as Nova)
        viewer = _viewer(call)
        up = _hosts_up(call) if viewer.host_status else {}
        view = DetailView(call.req, call.version, viewer)
        body = {"servers": [view(s, up.get(s.get("host"))) for s in servers]}
    else:
        body = {"servers": [server_brief(call.req, s) for s in servers]}
    if servers and len(servers) == limit:
        qs = dict(call.req.GET)
        qs.update(limit=str(limit), marker=servers[-1]["uuid"])
        path = "servers/detail" if detail else "servers"
        body["servers_links"] = [{"rel": "next",
                                  "href": f"{call.req.application_url}/{path}?{urlencode(qs)}"}]
    return 200, body
