"""/servers/{server_id}/os-server-password: the password a guest posted
(encrypted with the server's key) to the metadata service; an empty string
until it has; clearing it empties it."""
from __future__ import annotations

from compute_core.api import policy
from compute_core.api.resources.server_metadata import server
from compute_core.apispec import keyed, operation
from compute_core.db import cell_db

_ROOT = "os_compute_api:os-server-password:"
_PATH = "/servers/{server_id}/os-server-password"
RULES = (
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN,
                "Show a server's encrypted password", [("GET", _PATH)]),
    policy.rule(_ROOT + "clear", policy.PROJECT_MEMBER_OR_ADMIN,
                "Clear a server's encrypted password", [("DELETE", _PATH)]),
)
# Where the metadata service keeps a guest's password: a key of the
# instance's system metadata.
PASSWORD_KEY = "password"


@operation("showServerPassword", "Show a server's encrypted password",
           ok={200: keyed("password")}, errors=(404,))
def show(call, server_id):
    inst = server(call, server_id, _ROOT + "show")
    return 200, {"password": (inst.get("system_metadata") or {}).get(PASSWORD_KEY) or ""}


@operation("clearServerPassword", "Clear a server's encrypted password", ok={204: None},
           errors=(404,))
def clear(call, server_id):
    inst = server(call, server_id, _ROOT + "clear")
    if inst.get("cell_uuid") is not None:
        sysmeta = dict(inst.get("system_metadata") or {})
        if sysmeta.pop(PASSWORD_KEY, None) is not None:
            cell_db.update_instance(call.services.cells.get(inst["cell_uuid"]), inst["uuid"],
                                    {"system_metadata": sysmeta})
    return 204, None


ROUTES = {
    _PATH: {"GET": show, "DELETE": clear},
}
