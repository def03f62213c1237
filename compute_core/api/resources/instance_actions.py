"""GET /servers/{server_id}/os-instance-actions[/{request_id}]: what was
done to a server (one action per request) and the events of each action.

Microversions: 2.21 a deleted server's actions too; 2.51 the events shown
to the server's project (without traceback) and not only to admins; 2.58
``updated_at``, paging (limit, marker: a request id) and changes-since,
with ``links``; 2.62 ``hostId`` of each event (and ``host`` to admins);
2.66 changes-before; 2.84 the events' ``details`` (admins).
"""
from __future__ import annotations

import datetime
from urllib.parse import urlencode

from compute_core import exception
from compute_core.api import policy, query, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.api.resources import servers
from compute_core.api.server_lifecycle import ServerLifecycle
from compute_core.apispec import keyed, operation

_LIST = [("GET", "/servers/{server_id}/os-instance-actions")]
_SHOW = [("GET", "/servers/{server_id}/os-instance-actions/{request_id}")]
#: Who may see the events of every action with their tracebacks and hosts
#: (before 2.51 the events at all).
EVENTS_RULE = "os_compute_api:os-instance-actions:events"
#: ... and their details (2.84).
EVENT_DETAILS_RULE = "os_compute_api:os-instance-actions:events:details"
RULES = (
    policy.rule("os_compute_api:os-instance-actions:list", policy.PROJECT_READER_OR_ADMIN,
                "List the actions of a server", _LIST),
    policy.rule("os_compute_api:os-instance-actions:show", policy.PROJECT_READER_OR_ADMIN,
                "Show an action of a server", _SHOW),
    policy.rule(EVENTS_RULE, policy.ADMIN,
                "Show the events of a server's actions with their tracebacks and hosts "
                "(before 2.51 the events at all)", _SHOW),
    policy.rule(EVENT_DETAILS_RULE, policy.ADMIN,
                "Show the details of the events of a server's actions (2.84)", _SHOW),
)

DELETED_SERVERS = VersionRange("2.21")
EVENTS_FOR_THE_PROJECT = VersionRange("2.51")
PAGING = VersionRange("2.58")
EVENT_HOSTS = VersionRange("2.62")
CHANGES_BEFORE = VersionRange("2.66")
EVENT_DETAILS = VersionRange("2.84")


def _time(value) -> str | None:
    """Nova's form of these times: ISO 8601 with microseconds, no zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _action_view(action, version) -> dict:
    out = {"action": action["action"], "instance_uuid": action["instance_uuid"],
           "request_id": action["request_id"], "user_id": action["user_id"],
           "project_id": action["project_id"], "start_time": _time(action["start_time"]),
           "message": action["message"]}
    if version in PAGING:
        out["updated_at"] = _time(action.get("updated_at") or action.get("created_at"))
    return out


def _event_view(event, project_id, version, privileged, details) -> dict:
    out = {"event": event["event"], "start_time": _time(event["start_time"]),
           "finish_time": _time(event["finish_time"]), "result": event["result"]}
    if privileged:
        out["traceback"] = event["traceback"]
    if version in EVENT_HOSTS:
        if privileged:
            out["host"] = event["host"] or ""
        out["hostId"] = views.host_id(project_id, event["host"])
    if details:
        out["details"] = event["details"]
    return out


_QUERY_258 = ("limit", "marker", "changes-since")
_QUERY_266 = (*_QUERY_258, "changes-before")


def _index_query(version):
    if version not in PAGING:
        return {}
    when = {"type": "string", "format": "date-time"}
    out = {"limit": {"type": "string", "pattern": "^[0-9]*$"}, "marker": {"type": "string"},
           "changes-since": when}
    if version in CHANGES_BEFORE:
        out["changes-before"] = when
    return out


@operation("listInstanceActions", "List the actions of a server",
           ok={200: keyed("instanceActions")}, errors=(400, 404), query=_index_query)
def index(call, server_id):
    version = call.version
    servers.authorized_server(call, server_id, "os_compute_api:os-instance-actions:list",
                              read_deleted=version in DELETED_SERVERS)
    kwargs = {"read_deleted": version in DELETED_SERVERS}
    limit = None
    if version in PAGING:
        allowed = _QUERY_266 if version in CHANGES_BEFORE else _QUERY_258
        query.refuse_unknown(call, allowed, PAGING)
        query.single(call, "limit")
        limit = query.page_limit(call)
        kwargs.update(limit=limit, marker=query.single(call, "marker"),
                      changes_since=query.single_timestamp(call, "changes-since"))
        if version in CHANGES_BEFORE:
            kwargs["changes_before"] = query.single_timestamp(call, "changes-before")
            query.time_window(kwargs["changes_since"], kwargs["changes_before"])
    try:
        _, actions = ServerLifecycle(call.server_service).list_actions(call.ctx, server_id,
                                                                        **kwargs)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.MarkerNotFound as exc:
        raise APIError(400, exc.message) from None
    body = {"instanceActions": [_action_view(a, version) for a in actions]}
    if version in PAGING and actions and limit and len(actions) == limit:
        qs = dict(call.req.GET)
        qs.update(limit=str(limit), marker=actions[-1]["request_id"])
        body["links"] = [{"rel": "next", "href": f"{call.req.application_url}/servers/"
                                                 f"{server_id}/os-instance-actions?"
                                                 f"{urlencode(qs)}"}]
    return 200, body


@operation("showInstanceAction", "Show a server action and its events",
           ok={200: keyed("instanceAction")}, errors=(404,))
def show(call, server_id, request_id):
    version = call.version
    target = servers.server_target(servers.authorized_server(
        call, server_id, "os_compute_api:os-instance-actions:show",
        read_deleted=version in DELETED_SERVERS))
    try:
        inst, action = ServerLifecycle(call.server_service).get_action(
            call.ctx, server_id, request_id, read_deleted=version in DELETED_SERVERS)
    except exception.InstanceNotFound:
        raise APIError(404, f"Instance {server_id} could not be found.") from None
    except exception.NotFound as exc:
        raise APIError(404, exc.message) from None
    privileged = call.allowed(EVENTS_RULE, target)
    out = _action_view(action, version)
    if privileged or version in EVENTS_FOR_THE_PROJECT:
        details = version in EVENT_DETAILS and call.allowed(EVENT_DETAILS_RULE, target)
        project = action["project_id"] or inst["project_id"]
        out["events"] = [_event_view(e, project, version, privileged, details)
                         for e in action["events"]]
    return 200, {"instanceAction": out}


ROUTES = {
    "/servers/{server_id}/os-instance-actions": {"GET": index},
    "/servers/{server_id}/os-instance-actions/{request_id}": {"GET": show},
}
