"""/extensions: the v2.0-era extension list Nova still serves (clients
such as novaclient's ``list-extensions`` read it). The list names the
extensions whose behaviour this API has; the text of each is ours."""
from __future__ import annotations

from compute_core.api import policy
from compute_core.api.faults import APIError
from compute_core.apispec import keyed, operation

RULES = (
    policy.rule("os_compute_api:extensions", policy.ANY, "List the API's extensions",
                [("GET", "/extensions"), ("GET", "/extensions/{alias}")]),
)

# (alias, name, what it is): the extensions whose behaviour this API has
_EXTENSIONS = (
    ("OS-DCF", "DiskConfig", "A server's disk configuration field."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "A server's availability zone."),
    ("OS-EXT-IPS", "ExtendedIps", "The type of each of a server's addresses."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each of a server's addresses."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "A server's host and hypervisor."),
    ("OS-EXT-STS", "ExtendedStatus", "A server's VM, task and power states."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "A flavor's ephemeral disk."),
    ("OS-SCH-HNT", "SchedulerHints", "Hints to the scheduler when creating a server."),
    ("OS-SRV-USG", "ServerUsage", "When a server was launched and terminated."),
    ("os-access-ips", "AccessIPs", "A server's access addresses."),
    ("os-admin-actions", "AdminActions", "Administrator actions on servers."),
    ("os-admin-password", "AdminPassword", "Changing a server's administrator password."),
    ("os-aggregates", "Aggregates", "Host aggregates."),
    ("os-availability-zone", "AvailabilityZone", "Availability zones."),
    ("os-config-drive", "ConfigDrive", "A server's configuration drive."),
    ("os-console-output", "ConsoleOutput", "A server's console log."),
    ("os-create-server-ext", "Createserverext", "Extended server creation."),
    ("os-deferred-delete", "DeferredDelete", "Restoring or force-deleting a deleted server."),
    ("os-evacuate", "Evacuate", "Rebuilding a server of a failed host elsewhere."),
    ("os-extended-quotas", "ExtendedQuotas", "Deleting a project's quotas."),
    ("os-extended-services", "ExtendedServices", "Disabling a service with a reason."),
    ("os-extended-services-delete", "ExtendedServicesDelete", "Deleting services."),
    ("os-extended-status", "ExtendedStatus", "A server's extended status."),
    ("os-extended-volumes", "ExtendedVolumes", "A server's attached volumes."),
    ("os-flavor-access", "FlavorAccess", "Private flavors and their projects."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavor extra specs."),
    ("os-flavor-manage", "FlavorManage", "Creating and deleting flavors."),
    ("os-flavor-rxtx", "FlavorRxtx", "A flavor's network bandwidth factor."),
    ("os-flavor-swap", "FlavorSwap", "A flavor's swap disk."),
    ("os-hide-server-addresses", "HideServerAddresses", "Hiding addresses in some states."),
    ("os-hosts", "Hosts", "Compute hosts."),
    ("os-hypervisor-status", "HypervisorStatus", "A hypervisor's state and status."),
    ("os-hypervisors", "Hypervisors", "Hypervisors."),
    ("os-instance-actions", "InstanceActions", "The actions taken on a server."),
    ("os-keypairs", "Keypairs", "Key pairs."),
    ("os-lock-server", "LockServer", "Locking and unlocking servers."),
    ("os-migrate-server", "MigrateServer", "Cold and live migration of servers."),
    ("os-migrations", "Migrations", "Server migrations."),
    ("os-multiple-create", "MultipleCreate", "Creating several servers at once."),
    ("os-pause-server", "PauseServer", "Pausing and unpausing servers."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes."),
    ("os-quota-sets", "Quotas", "Quotas."),
    ("os-rescue", "Rescue", "Rescuing servers."),
    ("os-security-groups", "SecurityGroups", "A server's security groups."),
    ("os-server-diagnostics", "ServerDiagnostics", "A server's diagnostics."),
    ("os-server-external-events", "ServerExternalEvents", "Events from other services."),
    ("os-server-group-quotas", "ServerGroupQuotas", "Quotas of server groups."),
    ("os-server-groups", "ServerGroups", "Server groups."),
    ("os-server-list-multi-status", "ServerListMultiStatus", "Listing by several statuses."),
    ("os-server-password", "ServerPassword", "A server's encrypted password."),
    ("os-server-sort-keys", "ServerSortKeys", "Sorting server listings."),
    ("os-server-start-stop", "ServerStartStop", "Starting and stopping servers."),
    ("os-services", "Services", "Services."),
    ("os-shelve", "Shelve", "Shelving servers."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Usage of projects over a period."),
    ("os-suspend-server", "SuspendServer", "Suspending and resuming servers."),
    ("os-used-limits", "UsedLimits", "Usage beside the limits."),
    ("os-user-data", "UserData", "User data of a server."),
    ("os-user-quotas", "UserQuotas", "Quotas of a project's users."),
)
EXTENSIONS = tuple(
    {"alias": alias, "name": name, "description": description, "links": [],
     "namespace": "http://docs.openstack.org/compute/ext/fake_xml",
     "updated": "2014-12-03T00:00:00Z"} for alias, name, description in _EXTENSIONS)


@operation("listExtensions", "List the API's extensions", ok={200: keyed("extensions")})
def index(call):
    call.authorize("os_compute_api:extensions", {})
    return 200, {"extensions": [dict(e) for e in EXTENSIONS]}


@operation("showExtension", "Show an extension", ok={200: keyed("extension")}, errors=(404,))
def show(call, alias):
    call.authorize("os_compute_api:extensions", {})
    for ext in EXTENSIONS:
        if ext["alias"] == alias:
            return 200, {"extension": dict(ext)}
    raise APIError(404, f"Extension {alias} could not be found.")


ROUTES = {
    "/extensions": {"GET": index},
    "/extensions/{alias}": {"GET": show},
}
