"""/limits: the project's absolute limits and what it uses of them."""
from __future__ import annotations

from compute_core.api import policy
from compute_core.api.quota import Quota
from compute_core.api.views import ViewFields
from compute_core.apispec import keyed, operation
from compute_core.db import server_groups as groups_db

RULES = (
    policy.rule("os_compute_api:limits", policy.ANY, "Show the project's limits",
                [("GET", "/limits")]),
    policy.rule("os_compute_api:limits:other_project", policy.ADMIN,
                "Show another project's limits (?tenant_id=)", [("GET", "/limits")]),
)

# The absolute limits that leave at a version: personality (injected files)
# at 2.57, image metadata at 2.39, the network proxies' at 2.36.
FIELDS = ViewFields(
    ("maxPersonality", None, "2.56", lambda lim: lim["injected_files"]),
    ("maxPersonalitySize", None, "2.56", lambda lim: lim["injected_file_content_bytes"]),
    ("maxImageMeta", None, "2.38", lambda lim: lim["metadata_items"]),
    ("maxSecurityGroups", None, "2.35", lambda lim: 10),
    ("maxSecurityGroupRules", None, "2.35", lambda lim: 20),
    ("maxTotalFloatingIps", None, "2.35", lambda lim: 10),
    ("totalFloatingIpsUsed", None, "2.35", lambda lim: 0),
    ("totalSecurityGroupsUsed", None, "2.35", lambda lim: 1),
)


def absolute_view(version, lim, used):
    out = {
        "maxServerMeta": lim["metadata_items"], "maxTotalKeypairs": lim["key_pairs"],
        "maxServerGroups": lim["server_groups"],
        "maxServerGroupMembers": lim["server_group_members"],
        "maxTotalCores": lim["cores"], "maxTotalInstances": lim["instances"],
        "maxTotalRAMSize": lim["ram"], "totalCoresUsed": used["cores"],
        "totalInstancesUsed": used["instances"], "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used.get("server_groups", 0),
    }
    return FIELDS.add(out, version, lim)


@operation("showLimits", "Show the project's limits and usage", ok={200: keyed("limits")},
           query={"tenant_id": {"type": "string"}})
def show(call):
    call.authorize("os_compute_api:limits")
    project = call.ctx.project_id
    if "tenant_id" in call.req.GET and call.allowed("os_compute_api:limits:other_project"):
        project = call.req.GET["tenant_id"]
    quota = Quota(call.services)
    used = dict(quota.usage(project),
                server_groups=groups_db.count(call.services.api_db, project))
    return 200, {"limits": {"rate": [], "absolute": absolute_view(
        call.version, quota.limits(project), used)}}


ROUTES = {
    "/limits": {"GET": show},
}
