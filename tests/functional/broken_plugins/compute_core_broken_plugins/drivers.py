"""Virt drivers that cannot be used, each for one reason."""
from oslo_config import cfg

from compute_core.virt import ComputeDriver, HostResources, InstanceInfo, PowerState


class HalfDriver(ComputeDriver):
    """Implements only some of the abstract methods."""

    def init_host(self):
        pass

    def list_instances(self):
        return []


class _Complete(ComputeDriver):
    def init_host(self):
        pass

    def list_instances(self):
        return []

    def spawn(self, context, instance, image_meta, network_info, admin_password=None):
        pass

    def destroy(self, context, instance, network_info, destroy_disks=True):
        pass

    def get_info(self, instance):
        return InstanceInfo(state=PowerState.NOSTATE)

    def power_off(self, instance, timeout=0, retry_interval=0):
        pass

    def power_on(self, context, instance, network_info):
        pass

    def reboot(self, context, instance, network_info, reboot_type):
        pass

    def get_available_resource(self):
        return HostResources(vcpus=1, memory_mb=512, local_gb=1, hypervisor_type="broken",
                             hypervisor_version=1, hypervisor_hostname=self.host)


class OneArgumentDriver(_Complete):
    """Forgets that drivers are built as Driver(conf, host)."""

    def __init__(self, conf):
        super().__init__(conf, "nowhere")


class NotADriver:
    """Not a ComputeDriver at all."""

    def __init__(self, conf, host):
        self.conf = conf


class OptionDriver(_Complete):
    """Complete, with an option of its own ([broken_plugins] slots, >= 1)."""

    def __init__(self, conf, host):
        super().__init__(conf, host)
        conf.register_opts([cfg.IntOpt("slots", default=1, min=1)], group="broken_plugins")
