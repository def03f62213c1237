"""/servers/{server_id}/ips: a server's addresses, all or of one network."""
from __future__ import annotations

from compute_core.api import policy
from compute_core.api.faults import APIError
from compute_core.api.resources.server_metadata import server
from compute_core.apispec import keyed, operation

RULES = (
    policy.rule("os_compute_api:ips:index", policy.PROJECT_READER_OR_ADMIN, "List a server's addresses",
                [("GET", "/servers/{server_id}/ips")]),
    policy.rule("os_compute_api:ips:show", policy.PROJECT_READER_OR_ADMIN, "List a server's addresses on a network",
                [("GET", "/servers/{server_id}/ips/{network_label}")]),
)


@operation("listServerAddresses", "List a server's addresses", ok={200: keyed("addresses")},
           errors=(404,))
def index(call, server_id):
    inst = server(call, server_id, "os_compute_api:ips:index")
    return 200, {"addresses": dict(inst.get("network_info") or {})}


@operation("showServerAddresses", "List a server's addresses on one network", ok={200: {}},
           errors=(404,))
def show(call, server_id, network_label):
    inst = server(call, server_id, "os_compute_api:ips:show")
    addresses = inst.get("network_info") or {}
    if network_label not in addresses:
        raise APIError(404, "Instance is not a member of specified network")
    return 200, {network_label: addresses[network_label]}


ROUTES = {
    "/servers/{server_id}/ips": {"GET": index},
    "/servers/{server_id}/ips/{network_label}": {"GET": show},
}
