"""Response bodies checked against the schemas the ``tempest`` package
publishes (``tempest/lib/api_schema/response/compute/``), read at test time.

Tempest's own service clients say which schema module holds at which
microversion (``schema_versions_info``); this module asks them rather than
guessing, then validates with tempest's own ``validate_response`` (status
code, headers, body).

    from tests import tempest_schemas
    resp = api("GET", f"/servers/{sid}", version="2.71")
    tempest_schemas.check(resp, "servers", "get_server", "2.71")
"""
from __future__ import annotations

import importlib
import types

import pytest

tempest_rest = pytest.importorskip(
    "tempest.lib.common.rest_client",
    reason="the tempest package (a test dependency: pip install -e .[test]) is missing")

# tempest's client modules are tempest.lib.services.compute.<name>_client;
# tests name them by <name>: "servers" (also instance actions, console
# output, server tags, metadata...), "flavors" (also extra specs and flavor
# access), "keypairs", "limits", "services", "hypervisor", "images",
# "versions", "server_groups", "quotas", "quota_classes", "aggregates",
# "availability_zone", "migrations", "tenant_usages", "hosts", "extensions",
# "server_external_events", "instance_usage_audit_log".


def _client_class(mod):
    base = importlib.import_module("tempest.lib.services.compute.base_compute_client")
    classes = [v for v in vars(mod).values() if isinstance(v, type)
               and issubclass(v, base.BaseComputeClient) and v is not base.BaseComputeClient]
    return classes[0]


def _key(version: str) -> tuple[int, int]:
    major, minor = str(version).split(".")
    return int(major), int(minor)


def schema_module(client: str, version: str):
    """The tempest schema module the client *client* uses at *version*."""
    mod = importlib.import_module(f"tempest.lib.services.compute.{client}_client")
    cls = _client_class(mod)
    for info in getattr(cls, "schema_versions_info", None) or ():
        lo, hi = info.get("min"), info.get("max")
        if (lo is None or _key(lo) <= _key(version)) and \
                (hi is None or _key(version) <= _key(hi)):
            return info["schema"]
    # clients with one schema module import it (as "schema", or by its name)
    found = [m for m in vars(mod).values() if isinstance(m, types.ModuleType)
             and m.__name__.startswith("tempest.lib.api_schema.response.compute.")]
    return getattr(mod, "schema", None) or found[0]


def schema(client: str, name: str, version: str) -> dict:
    """Tempest's schema *name* at *version*; a name the versioned module
    lacks is one the client always checks with its base module (as
    ``create_server``)."""
    mod = schema_module(client, version)
    if hasattr(mod, name):
        return getattr(mod, name)
    # else a schema module the client imports for this call (extra specs,
    # flavor access... have modules of their own)
    client_mod = importlib.import_module(f"tempest.lib.services.compute.{client}_client")
    found = [getattr(m, name) for m in vars(client_mod).values()
             if isinstance(m, types.ModuleType) and hasattr(m, name)
             and m.__name__.startswith("tempest.lib.api_schema.")]
    if not found:
        raise LookupError(f"tempest has no schema {name!r} for the {client} client")
    return found[0]


class _Resp(dict):
    """The shape tempest's validate_response reads: a status attribute and
    the response headers as a dict (lower-case names)."""

    def __init__(self, resp):
        super().__init__({k.lower(): v for k, v in resp.headers.items()})
        self.status = resp.status_code


def check(resp, client: str, name: str, version: str = "2.1"):
    """Validate a requests response (status, headers and JSON body) against
    tempest's schema *name* of *client* at *version*; returns the body."""
    body = resp.json() if resp.content else None
    found = schema(client, name, version)
    # (tempest checks only successful answers: an error must not pass as one)
    assert resp.status_code in found["status_code"], \
        f"{resp.status_code} is not one of {found['status_code']}: {resp.text[:500]}"
    tempest_rest.RestClient.validate_response(found, _Resp(resp), body)
    return body
