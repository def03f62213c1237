"""Every configuration option compute_core owns, grouped as Nova groups them.

`list_opts` feeds `oslo-config-generator` (entry point `oslo.config.opts`);
`register_all` puts the same options on a given ConfigOpts instance. Nothing
here touches the process-global `cfg.CONF`.

The options of [DEFAULT] and the smaller groups are defined here; the larger
groups in modules beside it (`api`, `database`, `scheduler`, `placement`,
`consoles`), whose option lists this module re-exports under the same names.
"""
import copy

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_middleware import cors, http_proxy_to_wsgi, sizelimit
from oslo_middleware.healthcheck import opts as healthcheck_opts
from oslo_policy import opts as policy_opts

from compute_core import exception
from compute_core.conf.api import api_opts, wsgi_opts
from compute_core.conf.consoles import (console_default_opts, console_opts, consoleauth_opts,
                                        serial_console_opts, spice_opts, vnc_opts)
from compute_core.conf.database import (api_database_opts, database_opts,
                                        placement_database_opts)
from compute_core.conf.placement import (PLACEMENT_AUTH_DEFAULTS,
                                         _placement_keystoneauth_opts, placement_opts)
from compute_core.conf.scheduler import (filter_scheduler_opts, metrics_opts, pci_opts,
                                         scheduler_opts)

default_opts = [
    cfg.StrOpt("host", default="localhost", sample_default="<hostname>",
               help="Name of this node: the compute host name of a compute service."),
    cfg.StrOpt("state_path", default="/var/lib/compute_core",
               help="Directory where compute_core keeps its state (SQLite files, images)."),
    cfg.StrOpt("compute_driver", default="fake",
               help="Virt driver plugin, by its name in the compute_core.virt_drivers "
                    "entry-point group (e.g. fake, libvirt)."),
    cfg.StrOpt("my_ip", default="127.0.0.1", help="IP address of this host."),
    cfg.IntOpt("report_interval", default=10, min=1,
               help="Seconds between service heartbeats."),
    cfg.IntOpt("service_down_time", default=60, min=1,
               help="Seconds after the last heartbeat before a service counts as down."),
    cfg.IntOpt("sync_power_state_interval", default=600, min=-1,
               help="Seconds between power state syncs; -1 disables them."),
    cfg.IntOpt("update_resources_interval", default=60, min=1,
               help="Seconds between reports of the compute node's resources."),
    cfg.StrOpt("default_availability_zone", default="nova",
               help="Availability zone of compute hosts not in an aggregate zone."),
    cfg.StrOpt("internal_service_availability_zone", default="internal",
               help="Availability zone shown for the services that are not compute "
                    "hosts (conductor, scheduler); no aggregate may take its name."),
    cfg.FloatOpt("initial_cpu_allocation_ratio", default=4.0, min=0.0,
                 help="vCPU allocation ratio reported for a new compute node."),
    cfg.FloatOpt("initial_ram_allocation_ratio", default=1.0, min=0.0,
                 help="RAM allocation ratio reported for a new compute node."),
    cfg.FloatOpt("initial_disk_allocation_ratio", default=1.0, min=0.0,
                 help="Disk allocation ratio reported for a new compute node."),
    cfg.IntOpt("reserved_host_memory_mb", default=512, min=0,
               help="Memory (MiB) kept for the host, not offered to instances."),
    cfg.IntOpt("reserved_host_disk_mb", default=0, min=0,
               help="Disk (MiB) kept for the host, not offered to instances."),
    cfg.IntOpt("reserved_host_cpus", default=0, min=0,
               help="vCPUs kept for the host, not offered to instances."),
    cfg.BoolOpt("allow_resize_to_same_host", default=False,
                help="Let a resize land on the host the server is on (useful with one "
                     "compute host). A cold migration stays on its host only where the "
                     "host's driver supports it (supports_migrate_to_same_host)."),
    cfg.IntOpt("instance_build_timeout", default=600, min=0,
               help="Seconds a server may stay in BUILD before it is put in ERROR with a "
                    "fault and its allocations are freed (0: never). Compute hosts check "
                    "their own instances, conductors the builds that never reached a "
                    "host; both look at start and then every tenth of this time (at "
                    "most every minute). Also what an interrupted build (a conductor or "
                    "compute service that died) waits at most before it is settled."),
    cfg.IntOpt("shutdown_timeout", default=60, min=0,
               help="Seconds a clean shutdown (os-stop, shelve, soft delete, rescue, resize "
                    "and cold migration) waits for the guest to power itself off after the "
                    "ACPI request, asked again every 10 seconds, before the compute host "
                    "powers it off. 0: power off at once. A server whose image has the "
                    "property os_shutdown_timeout (an integer >= 0) waits that many seconds "
                    "instead. The conductor's call for the power-off of a resize or cold "
                    "migration waits this (its own value) beyond rpc_response_timeout: "
                    "give conductors a value no smaller than their compute hosts'."),
    cfg.IntOpt("reboot_timeout", default=0, min=0,
               help="Seconds a server may stay in a soft reboot (task_state rebooting, "
                    "reboot_pending or reboot_started) before its compute host reboots it "
                    "hard; checked every minute. 0: never."),
    cfg.IntOpt("resize_confirm_window", default=0, min=0,
               help="Seconds a resized or migrated server waits in VERIFY_RESIZE before "
                    "its destination host confirms the move itself; checked every minute. "
                    "0: wait for the user."),
    cfg.IntOpt("rescue_timeout", default=0, min=0,
               help="Seconds a server may stay rescued before its compute host unrescues "
                    "it; checked every minute. 0: never."),
    cfg.StrOpt("running_deleted_instance_action", default="reap",
               choices=[("reap", "destroy the guest"),
                        ("log", "only log a warning naming it"),
                        ("shutdown", "power the guest off, keep its disks"),
                        ("noop", "do nothing")],
               help="What a compute host does with a guest still running on its "
                    "hypervisor whose instance was deleted (for instance while the host "
                    "was down): checked when the compute service starts and every "
                    "running_deleted_instance_poll_interval seconds."),
    cfg.IntOpt("running_deleted_instance_poll_interval", default=1800, min=0,
               help="Seconds between checks for guests of deleted instances (0: only at "
                    "start)."),
    cfg.IntOpt("reclaim_instance_interval", default=0, min=0,
               help="Seconds a deleted server is kept, SOFT_DELETED, before its compute "
                    "host reclaims it (and the period of that check): while kept, "
                    "restore brings it back and forceDelete deletes it at once. 0: "
                    "delete at once (no soft delete)."),
    cfg.IntOpt("shelved_offload_time", default=0, min=-1,
               help="Seconds a shelved server keeps its guest and resources on its host "
                    "before its compute host offloads it (SHELVED_OFFLOADED: the guest "
                    "destroyed, its allocations freed). 0: offload at once when shelved; "
                    "-1: never offload by itself (shelveOffload still does)."),
    cfg.IntOpt("shelved_poll_interval", default=3600, min=-1,
               help="Seconds between a compute host's checks for shelved servers to "
                    "offload (per shelved_offload_time); -1 disables the check."),
    cfg.BoolOpt("instance_usage_audit", default=False,
                help="Whether each compute host audits the usage of its instances once "
                     "per instance_usage_audit_period (checked every minute, as Nova's "
                     "periodic task): a compute.instance.exists notification per instance "
                     "that ran during the last completed period, and a task_log row per "
                     "host and period, what GET /os-instance_usage_audit_log reports."),
    cfg.StrOpt("instance_usage_audit_period", default="month",
               # each offset within what every period has (a day of the month
               # up to 28: February has no 31st)
               regex=r"^(hour(@[0-5]?[0-9])?|day(@([01]?[0-9]|2[0-3]))?"
                     r"|month(@([01]?[0-9]|2[0-8]))?|year(@(0?[0-9]|1[0-2]))?)$",
               help="The period audited: hour, day, month or year, optionally with an "
                    "offset after @ at which each period starts (the minute of an hour, "
                    "0-59; the hour of a day, 0-23; the day of a month, 1-28; the month "
                    "of a year, 1-12): month@15 audits from the 15th to the 15th."),
    cfg.StrOpt("default_ephemeral_format",
               help="Filesystem of a flavor's ephemeral disk (mkfs -t <this>, labelled "
                    "ephemeral0), e.g. ext4, ext3, xfs, vfat, ntfs. Unset: by the image's "
                    "os_type property, as Nova does: ext4 for linux, ntfs for windows, vfat "
                    "for any other or none. virt_mkfs wins over it."),
    cfg.MultiStrOpt("virt_mkfs", default=[],
                    help="Command that makes the filesystem of ephemeral disks for an image "
                         "os_type, as <os_type>=<command> with %(fs_label)s and %(target)s "
                         "in it (e.g. default=mkfs.ext4 -F -L %(fs_label)s %(target)s; "
                         "'default' applies to every os_type without its own). Repeat the "
                         "option for several os_types."),
    cfg.StrOpt("image_backend", default="local",
               help="Image backend plugin (compute_core.image_backends entry point)."),
    cfg.StrOpt("network_backend", default="flat",
               help="Network backend plugin (compute_core.network_backends entry point)."),
]

# The compute service's generic soft reboot (any driver that can ask its
# guest to shut down) reads it under Nova's name; the libvirt driver too.
WAIT_SOFT_REBOOT_SECONDS = cfg.IntOpt(
    "wait_soft_reboot_seconds", default=120, min=0,
    help="Seconds a soft reboot waits for the guest to shut down after the ACPI request "
         "before the compute host reboots it hard.")
libvirt_opts = [WAIT_SOFT_REBOOT_SECONDS]
# Groups with options of compute_core's and of a plugin's: an override of
# one of the plugin's waits for the plugin to load.
SHARED_GROUPS = {"libvirt"}

fake_driver_opts = [
    cfg.IntOpt("vcpus", default=16, min=0, help="vCPUs a fake host reports."),
    cfg.IntOpt("memory_mb", default=32768, min=0, help="Memory (MiB) a fake host reports."),
    cfg.IntOpt("disk_gb", default=1024, min=0, help="Disk (GiB) a fake host reports."),
    cfg.FloatOpt("spawn_delay", default=0.0, min=0,
                 help="Seconds each spawn takes (a host that is slow to build)."),
    cfg.StrOpt("fail_metadata_key", default="fake_fail",
               help="Server metadata key that makes the fake driver fail: its value "
                    "names the operation (spawn, destroy, power_off, power_on, reboot)."),
    cfg.StrOpt("guests_path",
               help="Directory where a fake host keeps its guests (one JSON file per "
                    "host), so that they outlive a restart of the compute service as a "
                    "hypervisor's would; unset: in memory only. The embedded cloud sets "
                    "it to $state_path/fake_driver."),
    cfg.BoolOpt("migrate_to_same_host", default=False,
                help="Declare supports_migrate_to_same_host: a cold migration may stay on "
                     "its host (off, as with libvirt: it needs another host)."),
]

quota_opts = [
    cfg.IntOpt("instances", default=10, min=-1, help="Servers per project (-1: unlimited)."),
    cfg.IntOpt("cores", default=20, min=-1, help="vCPUs per project (-1: unlimited)."),
    cfg.IntOpt("ram", default=50 * 1024, min=-1, help="MiB of RAM per project (-1: unlimited)."),
    cfg.IntOpt("metadata_items", default=128, min=-1, help="Metadata items per server."),
    cfg.IntOpt("key_pairs", default=100, min=-1, help="Key pairs per user."),
    cfg.IntOpt("server_groups", default=10, min=-1, help="Server groups per project."),
    cfg.IntOpt("server_group_members", default=10, min=-1, help="Servers per server group."),
    cfg.IntOpt("injected_files", default=5, min=-1, help="Injected files per server."),
    cfg.IntOpt("injected_file_content_bytes", default=10240, min=-1,
               help="Bytes per injected file."),
    cfg.IntOpt("injected_file_path_length", default=255, min=-1,
               help="Characters in an injected file's path."),
]

flat_network_opts = [
    cfg.StrOpt("cidr", default="10.0.0.0/24",
               help="Subnet the flat network hands fixed IPs from."),
    cfg.StrOpt("network_name", default="private", help="Name of the flat network."),
    cfg.ListOpt("security_groups", default=["default"],
                help="Names of the security groups every project has on the flat network "
                     "(what addSecurityGroup may add to a server; the flat network filters "
                     "no traffic: the groups are recorded, not enforced). default is always "
                     "one of them."),
]

image_opts = [
    cfg.StrOpt("images_path", default="$state_path/images",
               help="Directory of the image store: the data of every image of the image "
                    "service and of the local image backend, one file per image."),
    cfg.IntOpt("image_size_cap", default=1 << 40, min=1,
               help="Largest image upload (bytes) the image service takes (Glance's "
                    "image_size_cap); a larger one is a 413."),
    cfg.IntOpt("user_storage_quota", default=0, min=0,
               help="Bytes of image data each project may keep in the image store "
                    "(0: unlimited); an upload past it is a 413."),
    cfg.IntOpt("limit_param_default", default=25, min=1,
               help="Images per page of the image service's list when none is asked."),
    cfg.IntOpt("api_limit_max", default=1000, min=1,
               help="Most images per page of the image service's list."),
    cfg.IntOpt("upload_timeout", default=3600, min=1,
               help="Seconds the image service's HTTP server waits for a request body "
                    "(an image upload) after its headers; [wsgi] body_timeout for the "
                    "other APIs."),
]

glance_opts = [
    cfg.StrOpt("cache_path", default="$state_path/image_cache",
               help="Directory where the glance image backend keeps the images it "
                    "downloaded for the drivers (one file per image, checked against its "
                    "checksum)."),
]

aio_opts = [
    cfg.HostAddressOpt("listen", default="127.0.0.1", help="Address the APIs listen on."),
    cfg.PortOpt("compute_port", default=8774, help="Compute API port (0: any free port)."),
    cfg.PortOpt("placement_port", default=8778, help="Placement API port (0: any free port)."),
    cfg.PortOpt("image_port", default=9292, help="Image API port (0: any free port)."),
    cfg.PortOpt("identity_port", default=5000,
                help="Identity API port of the embedded Keystone v3 subset (0: any free "
                     "port); used with auth = keystone."),
    cfg.StrOpt("auth", default="keystone",
               choices=[("keystone", "the embedded identity endpoint issues tokens; the "
                                     "compute and placement APIs validate them through "
                                     "keystonemiddleware, as with a real Keystone"),
                        ("noauth2", "no identity endpoint; X-Auth-Token: user:project")],
               help="How the embedded cloud authenticates. compute-aio follows it; the "
                    "Python Cloud object defaults to noauth2 unless told otherwise "
                    "(Cloud(auth=...)). [api] auth_strategy set in the configuration "
                    "still wins for the APIs."),
    cfg.IntOpt("hosts", default=1, min=0, help="Fake compute hosts started (host1, host2...)."),
    cfg.StrOpt("default_image_name", default="default-raw",
               help="Name of the small image imported on first start."),
    cfg.IntOpt("wsgi_threads", default=16, min=1, help="Threads serving each API."),
    cfg.ListOpt("console_proxies", default=["novnc", "serial"],
                help="Console proxy plugins (compute_core.console_proxies) the embedded "
                     "cloud runs, each on a free port of [aio] listen; the console URLs "
                     "the API hands out point at them."),
    cfg.BoolOpt("placement_in_process", default=True,
                help="The embedded services (scheduler, conductor, compute hosts, API) "
                     "reach placement by calling its WSGI pipeline inside the process, "
                     "through the same middleware and handlers as an HTTP request, "
                     "instead of over a loopback socket (the way fake:// stands in for "
                     "a message bus). The placement port still serves outside clients. "
                     "False: every placement call goes over HTTP."),
    cfg.BoolOpt("control_api", default=False,
                help="Serve the embedded cloud's test control API under /cloud-control "
                     "on the compute port (admin only): fault injection rules and their "
                     "log, the call log, and the virtual clock. Only the embedded cloud "
                     "(Cloud, compute-aio) has it; the production services never do."),
    cfg.StrOpt("clock", default="real",
               choices=[("real", "wall-clock time"),
                        ("virtual", "wall-clock time plus an offset that moves only when "
                                    "told (Cloud.clock.advance, POST /cloud-control/clock)")],
               help="The embedded cloud's clock (Cloud(clock=...) wins)."),
]

identity_opts = [
    cfg.MultiStrOpt("users",
                    default=["admin:admin:admin:admin,member,reader",
                             "demo:demo:demo:member,reader"],
                    help="Users of the embedded identity endpoint, one per option, as "
                         "NAME:PASSWORD:PROJECT:ROLE[,ROLE...] (PROJECT 'system' gives "
                         "system roles). Projects and roles are created as named; a "
                         "declared user's password is set again at every start. A service "
                         "user for keystonemiddleware and the placement client is added "
                         "with a new random password at every start."),
    cfg.IntOpt("token_expiration", default=3600, min=1,
               help="Seconds an identity token stays valid (Keystone's [token] "
                    "expiration)."),
]

GROUPS = [
    (None, default_opts + console_default_opts),
    ("api", api_opts),
    ("wsgi", wsgi_opts),
    ("api_database", api_database_opts),
    ("placement_database", placement_database_opts),
    ("filter_scheduler", filter_scheduler_opts),
    ("metrics", metrics_opts),
    ("pci", pci_opts),
    ("scheduler", scheduler_opts),
    ("placement", placement_opts + _placement_keystoneauth_opts()),
    ("fake_driver", fake_driver_opts),
    ("quota", quota_opts),
    ("flat_network", flat_network_opts),
    ("image", image_opts),
    ("aio", aio_opts),
    ("identity", identity_opts),
    ("consoleauth", consoleauth_opts),
    ("console", console_opts),
    ("vnc", vnc_opts),
    ("spice", spice_opts),
    ("serial_console", serial_console_opts),
    ("libvirt", libvirt_opts),
]

# Groups whose options other libraries own but that we register ourselves.
_EXTERNAL = [("database", database_opts),
             # [oslo_middleware] max_request_body_size, read by the sizelimit
             # filter of every API pipeline and by the embedded HTTP server;
             # enable_proxy_headers_parsing, by http_proxy_to_wsgi.
             ("oslo_middleware", sizelimit.OPTS + http_proxy_to_wsgi.OPTS),
             # oslo.middleware's CORS and healthcheck, in every API pipeline.
             ("cors", cors.OPTS),
             ("healthcheck", healthcheck_opts.HEALTHCHECK_OPTS),
             # The glance image backend's keystoneauth1 session: auth type
             # (its plugin's options are registered when it loads), TLS and
             # timeout, and the adapter's endpoint choice (service_type
             # image from the catalog, or endpoint_override).
             ("glance", glance_opts + ks_loading.get_auth_common_conf_options()
              + ks_loading.get_session_conf_options()
              + ks_loading.get_adapter_conf_options(include_deprecated=False))]

# What a browser client of the OpenStack APIs sends and reads (Nova's and
# Placement's defaults for [cors]).
CORS_ALLOW_HEADERS = ["X-Auth-Token", "X-Openstack-Request-Id", "X-Identity-Status",
                      "X-Roles", "X-Service-Catalog", "X-User-Id", "X-Tenant-Id",
                      "X-OpenStack-Nova-API-Version", "OpenStack-API-Version"]
CORS_EXPOSE_HEADERS = ["X-Auth-Token", "X-Openstack-Request-Id", "X-Subject-Token",
                       "X-Service-Token", "X-OpenStack-Nova-API-Version",
                       "OpenStack-API-Version", "X-Compute-Request-Id"]
CORS_ALLOW_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]


_OUR_DEFAULTS = {("cors", "allow_headers"): CORS_ALLOW_HEADERS,
                 ("cors", "expose_headers"): CORS_EXPOSE_HEADERS,
                 ("cors", "allow_methods"): CORS_ALLOW_METHODS,
                 ("glance", "service_type"): "image",
                 **{("placement", name): value
                    for name, value in PLACEMENT_AUTH_DEFAULTS.items()}}


def list_opts():
    """Option lists for oslo-config-generator, (group name, options) pairs,
    with the defaults register_all sets on a ConfigOpts (on copies: the
    library's own options stay as they are)."""
    out = []
    # The sample shows the password plugin's options in [placement].
    plugin = {"placement": ks_loading.get_auth_plugin_conf_options("password")}
    for group, opts in GROUPS + _EXTERNAL:
        opts = opts + plugin.get(group, [])
        listed = []
        for opt in opts:
            default = _OUR_DEFAULTS.get((group, opt.dest))
            if default is not None:
                opt = copy.deepcopy(opt)
                opt.default = default
            listed.append(opt)
        out.append((group or "DEFAULT", listed))
    return out


def register_all(conf: cfg.ConfigOpts) -> None:
    """Register every compute_core option on *conf*."""
    for group, opts in GROUPS:
        conf.register_opts(opts, group=group)
    for group, opts in _EXTERNAL:
        conf.register_opts(opts, group=group)
    # [oslo_policy] (enforce_new_defaults, policy_file ...): oslo.policy's
    # Enforcer registers them when an API starts; registered here as well, so
    # a config file or an override setting them is checked when it is read.
    # (oslo-config-generator lists them under its "oslo.policy" namespace.)
    for group, opts in policy_opts.list_opts():
        conf.register_opts(opts, group=group)
    # Per ConfigOpts (cors.set_defaults would change the library's globals).
    for (group, name), default in _OUR_DEFAULTS.items():
        try:
            conf.set_default(name, default, group=group)
        except cfg.NoSuchOptError:
            pass  # an auth plugin's option: register_placement_auth_plugin


def register_placement_auth_plugin(conf: cfg.ConfigOpts) -> None:
    """The options of the auth plugin [placement] auth_type names
    (password's: auth_url, username, password, project_name ...), on *conf*
    once its files are read (registered before, a plugin's required options
    would be demanded of every service, noauth2 or not), with our defaults.
    keystoneauth1 registers the same definitions again when it loads the
    plugin. Nothing with auth_section: that section holds them."""
    if conf.placement.auth_section or not conf.placement.auth_type:
        return
    try:
        opts = ks_loading.get_auth_plugin_conf_options(conf.placement.auth_type)
    except ks_exceptions.NoMatchingPlugin:
        names = ", ".join(sorted(ks_loading.get_available_plugin_names()))
        raise exception.ConfigError(
            f"invalid value for [placement] auth_type: no keystoneauth1 plugin named "
            f"{conf.placement.auth_type!r} (installed: {names})") from None
    conf.register_opts(opts, group="placement")
    names = {opt.dest for opt in opts}
    for name, value in PLACEMENT_AUTH_DEFAULTS.items():
        if name in names:
            conf.set_default(name, value, group="placement")
