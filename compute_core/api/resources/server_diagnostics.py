"""/servers/{server_id}/diagnostics (admin): what the server's host driver
says of the guest. From 2.48 the standard shape every driver gives; before,
the older flat one (cpuN_time, memory, vdX_read ...)."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.api.resources.server_metadata import server
from compute_core.api.server_service import ServerService
from compute_core.apispec import operation
from compute_core.db import cell_db

RULES = (
    policy.rule("os_compute_api:os-server-diagnostics", policy.ADMIN,
                "Show a server's diagnostics", [("GET", "/servers/{server_id}/diagnostics")]),
)
STANDARD = VersionRange("2.48")


def _flat(d: dict) -> dict:
    """The pre-2.48 shape, from the standard one."""
    out = {f"cpu{c['id']}_time": c["time"] for c in d.get("cpu_details") or []}
    out["memory"] = (d.get("memory_details") or {}).get("maximum")
    for i, disk in enumerate(d.get("disk_details") or []):
        name = f"vd{chr(ord('a') + i)}"
        out.update({f"{name}_read": disk["read_bytes"], f"{name}_read_req": disk["read_requests"],
                    f"{name}_write": disk["write_bytes"],
                    f"{name}_write_req": disk["write_requests"],
                    f"{name}_errors": disk["errors_count"]})
    for i, nic in enumerate(d.get("nic_details") or []):
        out.update({f"tap{i}_rx": nic["rx_octets"], f"tap{i}_rx_packets": nic["rx_packets"],
                    f"tap{i}_rx_errors": nic["rx_errors"], f"tap{i}_rx_drop": nic["rx_drop"],
                    f"tap{i}_tx": nic["tx_octets"], f"tap{i}_tx_packets": nic["tx_packets"],
                    f"tap{i}_tx_errors": nic["tx_errors"], f"tap{i}_tx_drop": nic["tx_drop"]})
    return out


@operation("showServerDiagnostics", "Show a server's diagnostics (its host's driver's)",
           ok={200: {"type": "object"}}, errors=(403, 404, 409), admin=True)
def show(call, server_id):
    inst = server(call, server_id, "os_compute_api:os-server-diagnostics")
    if not inst.get("host") or inst.get("cell_uuid") is None:
        raise APIError(409, f"Cannot 'get_diagnostics' instance {server_id} while it is in "
                            f"vm_state {inst['vm_state']}")
    db = call.services.cells.get(inst["cell_uuid"])
    try:
        ServerService._check_driver_supports(db, inst, "get_diagnostics",
                                             "supports_diagnostics")
    except exception.NotSupportedByDriver as exc:
        raise APIError(409, exc.message) from None
    answer = call.services.compute_rpc.get_diagnostics(
        call.ctx, inst["host"], cell_db.get_instance(db, inst["uuid"]))
    if "error" in answer:
        raise APIError(409, answer["error"])
    found = answer["result"]
    return 200, found if call.version in STANDARD else _flat(found)


ROUTES = {
    "/servers/{server_id}/diagnostics": {"GET": show},
}
