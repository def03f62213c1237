"""The scheduler's options: [filter_scheduler] (filters and weighers),
[metrics], [pci] (aliases) and [scheduler]."""
from oslo_config import cfg

filter_scheduler_opts = [
    cfg.ListOpt("enabled_filters",
                # Nova's default set plus AvailabilityZoneFilter: zones are not
                # yet turned into placement aggregates here, so the filter
                # is what honours a requested zone.
                default=["AvailabilityZoneFilter", "ComputeFilter",
                         "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
                         "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter"],
                help="Filters (compute_core.scheduler.filters entry points) applied in "
                     "order; put the most restrictive first."),
    cfg.ListOpt("weighers", default=["all"],
                help="Weighers (compute_core.scheduler.weighers entry points); 'all' "
                     "means every installed weigher."),
    cfg.IntOpt("host_subset_size", default=1, min=1,
               help="Pick randomly among this many best-weighed hosts."),
    cfg.FloatOpt("ram_weight_multiplier", default=1.0,
                 help="Multiplier of free RAM; negative stacks instead of spreads."),
    cfg.FloatOpt("cpu_weight_multiplier", default=1.0, help="Multiplier of free vCPUs."),
    cfg.FloatOpt("disk_weight_multiplier", default=1.0, help="Multiplier of free disk."),
    cfg.IntOpt("max_io_ops_per_host", default=8, min=0,
               help="IoOpsFilter: hosts with this many instances doing I/O (building, "
                    "resizing, snapshotting, migrating, rescuing, unshelving) take no more."),
    cfg.IntOpt("max_instances_per_host", default=50, min=1,
               help="NumInstancesFilter: hosts with this many instances take no more."),
    cfg.FloatOpt("io_ops_weight_multiplier", default=-1.0,
                 help="Multiplier of the host's I/O operations; negative prefers idle hosts."),
    cfg.FloatOpt("num_instances_weight_multiplier", default=0.0,
                 help="Multiplier of the host's instance count; negative prefers emptier "
                      "hosts, positive packs; 0 disables the weigher."),
    cfg.FloatOpt("soft_affinity_weight_multiplier", default=1.0, min=0.0,
                 help="Multiplier of the members of a soft-affinity group on the host."),
    cfg.FloatOpt("soft_anti_affinity_weight_multiplier", default=1.0, min=0.0,
                 help="Multiplier of the (negated) members of a soft-anti-affinity group "
                      "on the host."),
    cfg.FloatOpt("build_failure_weight_multiplier", default=1000000.0,
                 help="Multiplier of the host's recent failed builds (subtracted), so a "
                      "host that keeps failing is tried last; 0 disables it."),
    cfg.FloatOpt("cross_cell_move_weight_multiplier", default=1000000.0,
                 help="Multiplier preferring hosts in the instance's current cell during a "
                      "move that may cross cells; negative prefers other cells."),
    cfg.FloatOpt("hypervisor_version_weight_multiplier", default=1.0,
                 help="Multiplier of the hypervisor version; positive prefers newer hosts."),
    cfg.FloatOpt("image_props_weight_multiplier", default=0.0,
                 help="Multiplier of how many of the host's instances share the requested "
                      "image's properties; positive packs, negative spreads, 0 disables."),
    cfg.ListOpt("image_props_weight_setting", default=[],
                help="name=ratio pairs weighing single image properties (e.g. "
                     "os_distro=1,hw_machine_type=-1); empty weighs every property evenly."),
    cfg.StrOpt("image_properties_default_architecture",
               choices=["alpha", "armv6", "armv7l", "armv7b", "aarch64", "cris", "i686",
                        "ia64", "lm32", "m68k", "microblaze", "microblazeel", "mips",
                        "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64",
                        "ppc", "ppcle", "ppc64", "ppc64le", "ppcemb", "s390", "s390x", "sh4",
                        "sh4eb", "sparc", "sparc64", "unicore32", "x86_64", "xtensa",
                        "xtensaeb"],
               help="ImagePropertiesFilter: architecture assumed for images without "
                    "hw_architecture."),
    cfg.ListOpt("isolated_images", default=[],
                help="IsolatedHostsFilter: image IDs that may only run on isolated_hosts."),
    cfg.ListOpt("isolated_hosts", default=[],
                help="IsolatedHostsFilter: hosts that may only run isolated_images."),
    cfg.BoolOpt("restrict_isolated_hosts_to_isolated_images", default=True,
                help="IsolatedHostsFilter: keep non-isolated images off isolated_hosts."),
    cfg.StrOpt("aggregate_image_properties_isolation_namespace",
               help="AggregateImagePropertiesIsolation: only aggregate metadata keys with "
                    "this prefix (plus the separator) are compared to image properties."),
    cfg.StrOpt("aggregate_image_properties_isolation_separator", default=".",
               help="Separator between the namespace and the property name."),
]

metrics_opts = [
    cfg.FloatOpt("weight_multiplier", default=1.0,
                 help="Multiplier of the MetricsWeigher."),
    cfg.ListOpt("weight_setting", default=[],
                help="name=ratio pairs of the host metrics the MetricsWeigher sums (e.g. "
                     "cpu.percent=-1.0); the MetricsFilter requires each of them."),
    cfg.BoolOpt("required", default=True,
                help="A host missing a metric of weight_setting gets weight 0 and an error "
                     "is logged; when false it gets weight_of_unavailable instead."),
    cfg.FloatOpt("weight_of_unavailable", default=-10000.0,
                 help="Weight of a host missing a metric when required is false."),
]

pci_opts = [
    cfg.MultiStrOpt("alias", default=[],
                    help="A PCI alias flavors request through the pci_passthrough:alias "
                         "extra spec, one JSON object per option: name, vendor_id, "
                         "product_id, optional device_type (type-PCI, type-PF, type-VF). "
                         "Several entries may share a name: any of them matches."),
]

scheduler_opts = [
    cfg.IntOpt("max_attempts", default=3, min=1,
               help="Hosts tried for one build (the chosen one plus alternates)."),
    cfg.IntOpt("max_placement_results", default=1000, min=1,
               help="Allocation candidates asked of placement per request."),
    cfg.IntOpt("discover_hosts_in_cells_interval", default=-1, min=-1,
               help="Seconds between automatic host discoveries; -1 disables it."),
]
