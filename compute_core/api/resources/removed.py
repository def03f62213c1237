"""The APIs Nova removed (nova-network, cells v1, the XVP and cloudpipe
consoles, the agent builds, x509 certificates, fping): their routes still
answer, as Nova's do, with 410 Gone in the fault format, so a client of an
old cloud learns that the call is gone rather than that the server is
missing (404). No policy applies: Nova refuses them before any check."""
from __future__ import annotations

from compute_core.api.faults import APIError
from compute_core.apispec import operation

_GONE = "This resource is no longer available.  No forwarding address is given."

# path -> the methods Nova routed there
_REMOVED = {
    "/os-agents": ("GET", "POST"),
    "/os-agents/{id}": ("PUT", "DELETE"),
    "/os-cells": ("GET", "POST"),
    "/os-cells/capacities": ("GET",),
    "/os-cells/detail": ("GET",),
    "/os-cells/info": ("GET",),
    "/os-cells/sync_instances": ("POST",),
    "/os-cells/{id}": ("GET", "PUT", "DELETE"),
    "/os-cells/{id}/capacities": ("GET",),
    "/os-certificates": ("POST",),
    "/os-certificates/{id}": ("GET",),
    "/os-cloudpipe": ("GET", "POST"),
    "/os-cloudpipe/{id}": ("PUT",),
    "/os-fixed-ips/{id}": ("GET",),
    "/os-fixed-ips/{id}/action": ("POST",),
    "/os-floating-ip-dns": ("GET",),
    "/os-floating-ip-dns/{id}": ("PUT", "DELETE"),
    "/os-floating-ip-dns/{domain_id}/entries/{id}": ("GET", "PUT", "DELETE"),
    "/os-floating-ips-bulk": ("GET", "POST"),
    "/os-floating-ips-bulk/{id}": ("GET", "PUT"),
    "/os-fping": ("GET",),
    "/os-fping/{id}": ("GET",),
    "/os-security-group-default-rules": ("GET", "POST"),
    "/os-security-group-default-rules/{id}": ("GET", "DELETE"),
    "/servers/{server_id}/consoles": ("GET", "POST"),
    "/servers/{server_id}/consoles/{id}": ("GET", "DELETE"),
    "/servers/{server_id}/os-virtual-interfaces": ("GET",),
}


def _gone_handler(path, method):
    words = [w.strip("{}") + ("Id" if w.startswith("{") else "")
             for w in path.replace("-", "/").replace("_", "/").split("/") if w]
    op_id = "removed" + "".join(w[:1].upper() + w[1:] for w in words) + method.title()

    @operation(op_id, f"Removed from the API: {method} {path} is 410 Gone", ok={},
               errors=(410,))
    def gone(call, **_ids):
        raise APIError(410, _GONE)

    gone.any_query = True  # Nova's schemas of these take any query
    return gone


RULES = ()
ROUTES = {path: {method: _gone_handler(path, method) for method in methods}
          for path, methods in _REMOVED.items()}
