"""GET /os-console-auth-tokens/{console_token} (admin): where a console
token leads (the instance, and the host and port of its console), looked
up in every cell. Before 2.31 only RDP tokens could be shown, and RDP is
not served: 400 there, as Nova answers since it dropped RDP."""
from __future__ import annotations

from compute_core import exception
from compute_core.api import policy
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionRange
from compute_core.apispec import keyed, operation
from compute_core.console import access

RULE = "os_compute_api:os-console-auth-tokens"
RULES = (
    policy.rule(RULE, policy.ADMIN, "Show where a console token leads",
                [("GET", "/os-console-auth-tokens/{console_token}")]),
)
ALL_TYPES = VersionRange("2.31")


@operation("showConsoleAuthToken", "Show where a console token leads (admin)",
           ok={200: keyed("console")}, errors=(400, 403, 404), admin=True)
def show(call, console_token):
    call.authorize(RULE)
    if call.version not in ALL_TYPES:
        raise APIError(400, "The requested console type details are not accessible before "
                            "microversion 2.31.")
    try:
        record = access.find_token(call.services, console_token)
    except exception.NotFound:
        raise APIError(404, "Token not found") from None
    return 200, {"console": {"instance_uuid": record["instance_uuid"],
                             "host": record["host"], "port": record["port"],
                             "internal_access_path": record["internal_access_path"]}}


ROUTES = {
    "/os-console-auth-tokens/{console_token}": {"GET": show},
}
