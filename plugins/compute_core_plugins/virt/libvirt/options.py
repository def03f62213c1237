"""The ``[libvirt]`` configuration group, registered by the driver on the
compute service's ConfigOpts when it loads (never on ``cfg.CONF``)."""
from oslo_config import cfg

from compute_core.conf.opts import WAIT_SOFT_REBOOT_SECONDS

GROUP = "libvirt"

OPTS = [
    cfg.StrOpt("virt_type", default="auto",
               choices=[("auto", "kvm when /dev/kvm really accelerates guests here, "
                                 "else qemu"),
                        ("kvm", "hardware virtualisation (refused at start where it does "
                                "not work)"),
                        ("qemu", "QEMU's TCG emulation: slow, works everywhere")],
               help="Domain type of the guests. /dev/kvm may exist without usable "
                    "hardware virtualisation (nested or emulated CPUs without vmx/svm): "
                    "'auto' checks the CPU flags and libvirt's domain capabilities, and "
                    "the driver logs which type it uses at start."),
    cfg.StrOpt("connection_uri", default="qemu:///system",
               help="libvirt connection URI (test:///default: libvirt's built-in test "
                    "driver, no daemon, no guests that run)."),
    cfg.StrOpt("instances_path", default="$state_path/instances",
               help="Directory of the guests' disks and console logs (one directory per "
                    "instance) and of the base image cache (_base). QEMU runs as its own "
                    "user: every directory above it must be traversable by that user."),
    cfg.BoolOpt("fix_path_permissions", default=True,
                help="Add the search (x) permission for others to the directories above "
                     "instances_path that lack it (a 0700 home directory, a mkdtemp "
                     "state directory), logging each one, so that QEMU's user reaches "
                     "the disks. False: refuse to start instead."),
    cfg.StrOpt("images_type", default="qcow2",
               choices=[("qcow2", "a qcow2 overlay on the cached base image"),
                        ("raw", "a full raw copy of the base image")],
               help="How an instance's root disk is made from its image."),
    cfg.StrOpt("cpu_mode", default="default",
               choices=[("default", "host-model with kvm, none with qemu"),
                        ("host-model", "libvirt's model closest to the host CPU"),
                        ("host-passthrough", "the host CPU as is (kvm only)"),
                        ("custom", "the model named by cpu_model"),
                        ("none", "the hypervisor's default CPU")],
               help="CPU model of the guests."),
    cfg.StrOpt("cpu_model", help="CPU model with cpu_mode = custom (e.g. qemu64, Haswell)."),
    cfg.StrOpt("hw_machine_type",
               help="Machine type of the guests (e.g. pc, q35); unset: libvirt's default. "
                    "The image property hw_machine_type wins."),
    # wait_soft_reboot_seconds: compute_core registers it (the compute
    # service's generic soft reboot reads it too); the same object here.
    WAIT_SOFT_REBOOT_SECONDS,
    cfg.IntOpt("wait_for_running_seconds", default=60, min=1,
               help="Seconds spawn, power on and resume wait for the domain to run."),
    cfg.StrOpt("vif_type", default="user",
               choices=[("user", "QEMU user networking (no host set-up, outbound only)"),
                        ("bridge", "a tap on the bridge named by bridge"),
                        ("none", "no network interface")],
               help="How a guest's ports (from the network backend) are plugged."),
    cfg.StrOpt("bridge", default="virbr0", help="Bridge of vif_type = bridge."),
    cfg.BoolOpt("remove_unused_base_images", default=True,
                help="Remove cached base images that no instance of this host uses."),
    cfg.IntOpt("remove_unused_original_minimum_age_seconds", default=86400, min=0,
               help="Seconds a cached base image must be unused before it is removed."),
    cfg.IntOpt("image_cache_manager_interval", default=2400, min=0,
               help="Seconds between runs of the image cache cleanup and the leftover "
                    "check (0: never)."),
    cfg.BoolOpt("import_tiny_guest_image", default=False,
                help="At start, import the image 'tiny-busybox' when it is missing: this "
                     "machine's kernel from /boot with a busybox-static initramfs, booted "
                     "directly (kernel_id, ramdisk_id, os_command_line), which writes "
                     "COMPUTE-CORE-TINY-GUEST-UP on its serial console within seconds. "
                     "compute-aio --driver libvirt sets it."),
    cfg.StrOpt("live_migration_scheme", default="tcp",
               help="Transport of the libvirt URI a live migration's source uses to reach "
                    "the destination's libvirtd (peer-to-peer): "
                    "qemu+<scheme>://<destination address>/system. Ignored when "
                    "live_migration_uri is set."),
    cfg.StrOpt("live_migration_uri",
               help="The destination's libvirt URI for a live migration, with %s for the "
                    "destination's live_migration_inbound_addr (e.g. "
                    "qemu+ssh://%s/system); unset: from live_migration_scheme."),
    cfg.StrOpt("live_migration_inbound_addr",
               help="Address (host, or host:port of its libvirtd) at which the other hosts "
                    "reach this host's libvirtd and send the guest's memory in a live "
                    "migration; unset: [DEFAULT] my_ip."),
    cfg.IntOpt("live_migration_bandwidth", default=0, min=0,
               help="Most MiB/s a live migration may use (0: no limit)."),
    cfg.IntOpt("live_migration_completion_timeout", default=800, min=0,
               help="Seconds per GiB of guest memory (and of disk, for a block migration) "
                    "a live migration may take before it is aborted (0: no limit)."),
    cfg.StrOpt("ovmf_code", default="/usr/share/OVMF/OVMF_CODE_4M.fd",
               help="UEFI firmware for images with hw_firmware_type = uefi (Debian's "
                    "ovmf package); without it such images are refused."),
    cfg.StrOpt("ovmf_vars_template", default="/usr/share/OVMF/OVMF_VARS_4M.fd",
               help="Template of the per-guest UEFI variable store."),
]


def register(conf) -> None:
    """Register ``[libvirt]`` on *conf* (again is harmless)."""
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    # compute_core's namespace lists wait_soft_reboot_seconds
    return [(GROUP, [o for o in OPTS if o is not WAIT_SOFT_REBOOT_SECONDS])]
