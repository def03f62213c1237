"""/os-server-external-events: events other services send about servers
(a network port plugged, a volume extended ...). Each event is answered on
its own: accepted (200), no such server (404), or a server not yet on a host
(422); the request answers 200 when all were accepted, 207 when some were,
404 when none was found."""
from __future__ import annotations

import logging

from compute_core import exception
from compute_core.api import policy, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import ByVersion
from compute_core.apispec import keyed, operation
from compute_core.db import api_db

LOG = logging.getLogger(__name__)

RULES = (
    policy.rule("os_compute_api:os-server-external-events:create", policy.SERVICE_OR_ADMIN,
                "Send events about servers (other services do)",
                [("POST", "/os-server-external-events")]),
)

_NAMES = ("network-changed", "network-vif-plugged", "network-vif-unplugged",
          "network-vif-deleted")


def _create(names):
    return {"type": "object",
            "properties": {"events": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "enum": list(names)},
                               "server_uuid": {"type": "string", "format": "uuid"},
                               "status": {"type": "string",
                                          "enum": ["failed", "completed", "in-progress"]},
                               "tag": {"type": "string", "maxLength": 255}},
                "required": ["name", "server_uuid"], "additionalProperties": False}}},
            "required": ["events"], "additionalProperties": False}


CREATE = ByVersion(
    ("2.1", "2.50", _create(_NAMES)),
    ("2.51", "2.75", _create(_NAMES + ("volume-extended",))),
    ("2.76", "2.81", _create(_NAMES + ("volume-extended", "power-update"))),
    ("2.82", "2.92", _create(_NAMES + ("volume-extended", "power-update",
                                       "accelerator-request-bound"))),
    ("2.93", None, _create(_NAMES + ("volume-extended", "power-update",
                                     "accelerator-request-bound", "volume-reimaged"))),
)


@operation("createServerExternalEvents", "Send events about servers",
           ok={200: keyed("events"), 207: keyed("events")}, errors=(400, 403, 404),
           body=CREATE)
def create(call):
    call.authorize("os_compute_api:os-server-external-events:create", {})
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    uuids = [e["server_uuid"] for e in body["events"]]
    mappings = api_db.instance_mappings_of(call.services.api_db, uuids)
    out, accepted = [], 0
    for event in body["events"]:
        result = dict(event, status=event.get("status", "completed"))
        uuid = event["server_uuid"]
        try:
            inst = call.server_service.get(call.ctx.elevated(), uuid) \
                if uuid in mappings else None
        except exception.InstanceNotFound:
            inst = None
        if inst is None:
            result.update(code=404, status="failed")
        elif not inst.get("host"):
            result.update(code=422, status="failed")
        elif event["name"] == "power-update" and event.get("tag") not in ("POWER_ON",
                                                                          "POWER_OFF"):
            result.update(code=400, status="failed")
        else:
            result["code"] = 200
            accepted += 1
            LOG.info("external event %s (%s) for server %s on %s", event["name"],
                     result["status"], uuid, inst["host"])
        out.append(result)
    if not accepted and all(e["code"] == 404 for e in out):
        raise APIError(404, "No instances found for any event")
    return (200 if accepted == len(out) else 207), {"events": out}


ROUTES = {
    "/os-server-external-events": {"POST": create},
}
