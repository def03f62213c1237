"""OpenAPI 3.1 documents of the Compute API and of Placement.

Each document is built from the APIs' own routing tables and from what every
handler declares with :func:`compute_core.apispec.operation`: the request
schemas in it are the objects the handlers validate with, so the documents
cannot drift from the code. One document describes one microversion: the
operations, bodies and query parameters that version has, the version header
it must be asked with, and on each operation the range of versions it exists
in (``x-openstack-microversion``).

The documents are served without authentication at ``GET /openapi.json`` on
the compute root (and ``/v2.1/openapi.json``) and on placement, for the
version asked in ``OpenStack-API-Version`` (the latest when none is asked),
and written to ``etc/`` (latest version) by::

    python -m compute_core.openapi [--version 2.47] [--api compute|placement] [--output F]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

import microversion_parse
import webob

from compute_core.api import faults, microversion
from compute_core.api.microversion import APIVersion

ETC_FILES = {"compute": "compute-api.openapi.json", "placement": "placement-api.openapi.json"}
VERSION_HEADER = "OpenStack-API-Version"
_PATH_PARAM = re.compile(r"{([^}]+)}")
_UUID = {"type": "string", "format": "uuid"}
# What a path parameter names (any string is answered; these are what can be found)
_PATH_SCHEMAS = {"server_id": _UUID, "uuid": _UUID, "consumer_uuid": _UUID,
                 "resource_class": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                 "name": {"type": "string", "pattern": "^[A-Z0-9_]+$"}}

_COMPUTE_FAULT_BODY = {"type": "object", "required": ["code", "message"],
                       "properties": {"code": {"type": "integer"},
                                      "message": {"type": "string"}}}
_DESCRIPTIONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
                 400: "Bad request: a malformed body, query, path or version header",
                 401: "No or bad credentials", 403: "Forbidden by policy or quota",
                 404: "Not found", 405: "Method not allowed", 406: "Version not supported",
                 409: "Conflict with the resource's state", 410: "Gone: removed from the API",
                 413: "Request too large",
                 415: "Unsupported media type", 422: "Unprocessable",
                 207: "Multi-status: some of the request's items failed",
                 501: "Not implemented by the host's driver"}


class _Api:
    """What differs between the two APIs: routes, versions, fault format."""

    def __init__(self, name):
        self.name = name
        if name == "compute":
            from compute_core.api import routes

            self.routes = routes.ROUTE_DECLARATIONS
            self.min, self.max = APIVersion(microversion.MIN_VERSION), \
                APIVersion(microversion.MAX_VERSION)
            self.title = "compute_core Compute API v2.1"
            self.base = "/v2.1"
        else:
            from compute_core.placement import app

            self.routes = app.ROUTE_DECLARATIONS
            self.min, self.max = app.MIN_VERSION, app.MAX_VERSION
            self.title = "compute_core Placement API"
            self.base = "/"

    def parse(self, text):
        if self.name == "compute":
            return APIVersion(text)
        major, minor = (int(x) for x in text.split("."))
        return (major, minor)

    def text(self, version):
        return str(version) if self.name == "compute" else f"{version[0]}.{version[1]}"

    def at(self, handler, version):
        """The handler of a route and method serving *version*, or None."""
        if self.name == "compute":
            handler = microversion.handler_at(handler, version)
            if handler is None:
                return None
        op = handler.openapi
        low = getattr(handler, "min_version", None)  # placement's @since, compute's @versioned
        if low is not None and version < low:
            return None
        high = getattr(handler, "max_version", None)
        if high is not None and version > high:
            return None
        if op.min_version and version < self.parse(op.min_version):
            return None
        if op.max_version and version > self.parse(op.max_version):
            return None
        return handler

    def fault_schema(self, status, version):
        if self.name == "compute":
            name = faults.FAULT_NAMES.get(status, "computeFault")
            return {"type": "object", "required": [name],
                    "properties": {name: _COMPUTE_FAULT_BODY}}
        error = {"type": "object", "required": ["status", "title", "detail"],
                 "properties": {"status": {"type": "integer", "const": status},
                                "title": {"type": "string"}, "detail": {"type": "string"},
                                "request_id": {"type": ["string", "null"]},
                                "code": {"type": "string"}}}
        if version >= (1, 23):
            error["required"] = error["required"] + ["code"]
        return {"type": "object", "required": ["errors"],
                "properties": {"errors": {"type": "array", "minItems": 1, "items": error}}}


def _schema(value):
    """A JSON schema as the document shows it (a plain, JSON-able copy)."""
    return json.loads(json.dumps(value))


def _parameters(api, path, op, version):
    out = [{"name": name, "in": "path", "required": True,
            "schema": _schema(op.path.get(name) or _PATH_SCHEMAS.get(
                name, {"type": "string", "minLength": 1}))}
           for name in _PATH_PARAM.findall(path)]
    header = f"{api.name} {api.text(version)}"
    out.append({"name": VERSION_HEADER, "in": "header",
                "required": False,
                "description": "The microversion this document describes (absent: the "
                               "minimum, which the API then serves)",
                "schema": {"type": "string", "enum": [header]}})
    for name, schema in (op.at(op.query, version) or {}).items():
        out.append({"name": name, "in": "query", "required": name in op.required_query,
                    "schema": _schema(schema)})
    return out


def _responses(api, op, version, body, links):
    out = {}
    for status, schema in op.at(op.ok, version).items():
        resp = {"description": _DESCRIPTIONS.get(status, "Success")}
        if schema is not None:
            resp["content"] = {"application/json": {"schema": _schema(schema)}}
        # a link reading the response body needs one
        usable = {name: link for name, link in links.items() if schema is not None or not any(
            "$response.body" in expr for expr in link["parameters"].values())}
        if usable:
            resp["links"] = usable
        out[str(status)] = resp
    errors = {400, 406} | set(op.errors)
    if not op.public:
        errors.add(401)
    if op.admin:
        errors.add(403)
    if body is not None:
        errors |= {413, 415}
    for status in sorted(errors):
        out[str(status)] = {"$ref": f"#/components/responses/Fault{status}"}
    return out


def _fault_responses(api, version, paths):
    used = {int(code) for item in paths.values() for entry in item.values()
            for code, resp in entry["responses"].items() if "$ref" in resp}
    return {f"Fault{status}": {"description": _DESCRIPTIONS[status], "content": {
        "application/json": {"schema": api.fault_schema(status, version)}}}
        for status in sorted(used)}


def _range(api, handler):
    op = handler.openapi
    low = getattr(handler, "min_version", None)
    low = api.text(low) if low is not None else (op.min_version or api.text(api.min))
    high = getattr(handler, "max_version", None)
    high = api.text(high) if high is not None else (op.max_version or api.text(api.max))
    return {"min": low, "max": high}


def document(api_name: str, version: str | None = None, server_url: str | None = None) -> dict:
    """The OpenAPI 3.1 document of *api_name* ("compute" or "placement") at
    microversion *version* (default: the latest)."""
    api = _Api(api_name)
    v = api.max if version in (None, "latest") else api.parse(version)
    if not (api.min <= v <= api.max):
        raise LookupError(f"Version {version} is outside {api.text(api.min)}-"
                         f"{api.text(api.max)}")
    present = {}
    for path, methods in api.routes.items():
        for method, handler in methods.items():
            handler = api.at(handler, v)
            if handler is not None:
                present[handler.openapi.op_id] = handler
    paths = {}
    for path, methods in api.routes.items():
        item = {}
        for method, handler in methods.items():
            handler = api.at(handler, v)
            if handler is None:
                continue
            op = handler.openapi
            body = op.at(op.body, v)
            links = {name: {"operationId": target, "parameters": dict(params)}
                     for name, (target, params) in op.links.items() if target in present}
            entry = {"operationId": op.op_id, "summary": op.summary,
                     "parameters": _parameters(api, path, op, v)}
            if body is not None:
                entry["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": _schema(body)}}}
            entry["responses"] = _responses(api, op, v, body, links)
            if op.public:
                entry["security"] = []
            entry["x-openstack-microversion"] = _range(api, handler)
            if op.admin:
                entry["x-openstack-admin-only"] = True
            item[method.lower()] = entry
        if item:
            paths[path] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.text(v),
                 "description": f"Microversion {api.text(v)} of the API (it serves "
                                f"{api.text(api.min)} to {api.text(api.max)}). Generated "
                                "from the request schemas the handlers validate with.",
                 "x-openstack-microversion": {"min": api.text(api.min),
                                              "max": api.text(api.max),
                                              "document": api.text(v)}},
        "servers": [{"url": server_url or api.base}],
        "security": [{"token": []}],
        "components": {"securitySchemes": {"token": {
            "type": "apiKey", "in": "header", "name": "X-Auth-Token",
            "description": "A Keystone token, or with noauth2 'user:project' ('admin' is "
                           "the admin)"}},
            "responses": _fault_responses(api, v, paths)},
        "paths": paths,
    }


def render(doc: dict) -> bytes:
    return (json.dumps(doc, indent=2) + "\n").encode()


# --------------------------------------------------------------- serving

def _asked_version(api_name, headers):
    """The version asked in the request's headers; None for the latest."""
    raw = microversion_parse.get_version(headers, service_type=api_name)
    if raw is None or raw.strip() == "latest":
        return None
    return raw.strip()


def response(api_name, req, server_url) -> webob.Response:
    """GET /openapi.json: the document at the version the request asks, or
    a 406 when that version is not served."""
    try:
        body = render(document(api_name, _asked_version(api_name, req.headers), server_url))
    except (ValueError, LookupError) as exc:
        status = 406 if isinstance(exc, LookupError) else 400
        message = f"No OpenAPI document for that version: {exc}"
        if api_name == "compute":
            return faults.fault_response(status, message)
        from compute_core.placement.app import fault

        return fault(req, status, message)
    resp = webob.Response(content_type="application/json", charset="utf-8")
    resp.body = body
    return resp


class DocumentPassthrough:
    """WSGI filter: ``GET /openapi.json`` (below the app's root) answers the
    document of *api_name* before authentication; the rest goes on."""

    def __init__(self, app, api_name):
        self.app = app
        self.api_name = api_name

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and \
                environ.get("PATH_INFO") == "/openapi.json":
            req = webob.Request(environ)
            return response(self.api_name, req, req.application_url)(environ, start_response)
        return self.app(environ, start_response)


def placement_filter_factory(global_conf, **local_conf):
    return lambda app: DocumentPassthrough(app, "placement")


# ---------------------------------------------------------------- command

def etc_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "etc")


def write_etc(directory=None) -> list[str]:
    """Write the latest documents of both APIs into *directory* (etc/)."""
    directory = directory or etc_dir()
    written = []
    for api_name, filename in ETC_FILES.items():
        path = os.path.join(directory, filename)
        with open(path, "wb") as f:
            f.write(render(document(api_name)))
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compute_core.openapi",
        description="Write the OpenAPI documents of the Compute API and Placement (by "
                    "default both, latest microversion, into etc/).")
    parser.add_argument("--api", choices=sorted(ETC_FILES), help="one API only")
    parser.add_argument("--version", help="the microversion to describe (with --api)")
    parser.add_argument("--output", help="the file to write ('-' for stdout; with --api)")
    args = parser.parse_args(argv)
    if args.api is None:
        if args.version or args.output:
            parser.error("--version and --output need --api")
        for path in write_etc():
            print(path)
        return 0
    try:
        data = render(document(args.api, args.version))
    except (ValueError, LookupError) as exc:
        parser.error(str(exc))
    output = args.output or os.path.join(etc_dir(), ETC_FILES[args.api])
    if output == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(output, "wb") as f:
            f.write(data)
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
