"""The embedded cloud's test control API, under ``/cloud-control`` on the
compute port when ``[aio] control_api`` (or ``Cloud(control_api=True)``)
turns it on; admin tokens only. For test suites in any language:

=====================================  ===========================================
``GET /cloud-control/faults``          the rules (``faults``) and what fired (``log``)
``POST /cloud-control/faults``         ``{"fault": {"operation": ..., ...}}`` (the
                                       arguments of ``cloud.faults.add``) -> 201
``DELETE /cloud-control/faults``       drop every rule and the log -> 204
``DELETE /cloud-control/faults/{id}``  drop one rule -> 204
``GET /cloud-control/calls``           the call log; ``?kind=&method=&route=`` filter
``DELETE /cloud-control/calls``        empty it -> 204
``GET /cloud-control/clock``           ``{"clock": {"virtual": ..., "time": ...}}``
``POST /cloud-control/clock``          ``{"advance": seconds}`` (virtual clock only)
=====================================  ===========================================
"""
from __future__ import annotations

import dataclasses

import jsonschema
import webob
import webob.dec

from compute_core import exception, wsgi

FAULT_SCHEMA = {
    "type": "object",
    "properties": {"fault": {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "minLength": 1, "maxLength": 255},
            "match": {"type": "object", "maxProperties": 8},
            "count": {"type": ["integer", "null"], "minimum": 1},
            "probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "seed": {"type": ["integer", "string", "null"]},
            "latency": {"type": "number", "minimum": 0, "maximum": 86400 * 365},
            "mode": {"enum": ["error", "error-but-do-it"]},
            "message": {"type": "string", "maxLength": 1000},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
        },
        "required": ["operation"],
        "additionalProperties": False,
    }},
    "required": ["fault"],
    "additionalProperties": False,
}
CLOCK_SCHEMA = {
    "type": "object",
    "properties": {"advance": {"type": "number", "minimum": 0, "maximum": 86400 * 3650}},
    "required": ["advance"],
    "additionalProperties": False,
}


def _error(status, message):
    return webob.Response(status=status, json_body={"error": {"code": status,
                                                              "message": message}})


def _body(req, schema):
    try:
        body = wsgi.json_body(req)
    except wsgi.BadJSON as exc:
        raise _Bad(f"Malformed request body: {exc.reason}") from None
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "body"
        raise _Bad(f"Invalid input for field/attribute {where}: {exc.message}") from None
    return body


class _Bad(Exception):
    pass


class ControlApp:
    PREFIX = "/cloud-control"

    def __init__(self, cloud):
        self.cloud = cloud

    @webob.dec.wsgify
    def __call__(self, req):
        if not self.cloud.is_admin_token(req.headers.get("X-Auth-Token")):
            return _error(403, "The cloud control API is for admin tokens only.")
        try:
            path = req.path[len(self.PREFIX):].rstrip("/")
            return self._route(req, path)
        except UnicodeDecodeError:
            return _error(400, "The request's path or query string is not UTF-8.")
        except _Bad as exc:
            return _error(400, str(exc))
        except exception.NotFound as exc:
            return _error(404, str(exc))
        except exception.Invalid as exc:
            return _error(400, str(exc))

    def _route(self, req, path):
        method = req.method
        cloud = self.cloud
        if path == "/faults":
            if method == "GET":
                return webob.Response(json_body={
                    "faults": [r.to_dict() for r in cloud.faults.rules],
                    "log": list(cloud.faults.log)})
            if method == "POST":
                rule = cloud.faults.add(**_body(req, FAULT_SCHEMA)["fault"])
                return webob.Response(status=201, json_body={"fault": rule.to_dict()})
            if method == "DELETE":
                cloud.faults.clear()
                return webob.Response(status=204)
            return self._not_allowed("GET, POST, DELETE")
        if path.startswith("/faults/"):
            if method != "DELETE":
                return self._not_allowed("DELETE")
            try:
                rule_id = int(path[len("/faults/"):])
            except ValueError:
                return _error(404, "no such fault rule")
            cloud.faults.remove(rule_id)
            return webob.Response(status=204)
        if path == "/calls":
            if method == "GET":
                params = {k: req.GET[k] for k in ("kind", "method", "route") if k in req.GET}
                calls = cloud.calls(**params)
                return webob.Response(json_body={"calls": [dataclasses.asdict(c)
                                                           for c in calls]})
            if method == "DELETE":
                cloud.call_log.clear()
                return webob.Response(status=204)
            return self._not_allowed("GET, DELETE")
        if path == "/clock":
            if method == "GET":
                return webob.Response(json_body={"clock": {
                    "virtual": cloud.clock.virtual, "time": cloud.clock.time()}})
            if method == "POST":
                seconds = _body(req, CLOCK_SCHEMA)["advance"]
                if not cloud.clock.virtual:
                    return _error(409, "This cloud runs on real time; start it with a "
                                       "virtual clock to advance it.")
                cloud.clock.advance(seconds)
                return webob.Response(json_body={"clock": {
                    "virtual": True, "time": cloud.clock.time()}})
            return self._not_allowed("GET, POST")
        return _error(404, f"no control resource {path or '/'}")

    @staticmethod
    def _not_allowed(allowed):
        resp = _error(405, "Method not allowed.")
        resp.headers["Allow"] = allowed
        return resp

