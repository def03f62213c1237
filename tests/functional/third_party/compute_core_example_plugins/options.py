"""The ``[example_plugins]`` configuration group.

Each plugin registers these on the ConfigOpts it is constructed with (never
on the global ``cfg.CONF``), so values from the service's configuration
files are read when the plugin is loaded.
"""
from oslo_config import cfg

GROUP = "example_plugins"

OPTS = [
    cfg.ListOpt("preferred_hosts", default=[],
                help="Hosts PreferredHostWeigher puts first."),
    cfg.FloatOpt("preferred_host_weight_multiplier", default=1.0,
                 help="Multiplier of PreferredHostWeigher; negative to avoid the "
                      "preferred hosts instead."),
    cfg.IntOpt("host_vcpus", default=8, min=1, help="vCPUs the example driver reports."),
    cfg.IntOpt("host_memory_mb", default=16384, min=1,
               help="Memory the example driver reports."),
    cfg.IntOpt("host_disk_gb", default=200, min=1, help="Disk the example driver reports."),
]


def register(conf) -> None:
    """Register the group on *conf* (again is harmless)."""
    conf.register_opts(OPTS, group=GROUP)
