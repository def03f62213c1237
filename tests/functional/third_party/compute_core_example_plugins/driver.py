"""``example``: a virt driver whose guests live in memory.

It implements only what :class:`compute_core.virt.ComputeDriver` requires
(lifecycle, power on/off, reboot, power state, host resources) and declares
that it cannot pause or suspend: the Compute API refuses those actions on
its servers with a 409 instead of asking the host.
"""
from __future__ import annotations

import threading

from compute_core import exception
from compute_core.virt import ComputeDriver, HostResources, InstanceInfo, PowerState

from compute_core_example_plugins import options


class ExampleDriver(ComputeDriver):
    # Only what differs from the defaults (all False) needs saying; saying
    # the False ones too documents the choice.
    capabilities = {
        "supports_pause": False,
        "supports_suspend": False,
        "supports_console_log": True,
    }

    def __init__(self, conf, host):
        super().__init__(conf, host)
        options.register(conf)
        opts = conf.example_plugins
        self.vcpus = opts.host_vcpus
        self.memory_mb = opts.host_memory_mb
        self.disk_gb = opts.host_disk_gb
        # The compute service calls us from several threads.
        self._lock = threading.Lock()
        self.guests: dict[str, dict] = {}

    def set_host_size(self, vcpus=None, memory_mb=None, disk_gb=None):
        """Sizes from Cloud(host_resources=...) or the pytest plugin's
        compute_cloud_hosts marker win over [example_plugins]."""
        self.vcpus = vcpus or self.vcpus
        self.memory_mb = memory_mb or self.memory_mb
        self.disk_gb = disk_gb or self.disk_gb

    def _guest(self, instance) -> dict:
        try:
            return self.guests[instance["uuid"]]
        except KeyError:
            raise exception.InstanceNotFound(instance_id=instance["uuid"]) from None

    # ---------------------------------------------------------- lifecycle
    def init_host(self) -> None:
        pass  # a real driver connects to its hypervisor here

    def list_instances(self) -> list[str]:
        with self._lock:
            return list(self.guests)

    def spawn(self, context, instance, image_meta, network_info, admin_password=None):
        with self._lock:
            self.guests[instance["uuid"]] = {
                "state": PowerState.RUNNING, "vcpus": instance["vcpus"],
                "memory_mb": instance["memory_mb"],
                "disk_gb": (instance.get("root_gb") or 0) + (instance.get("ephemeral_gb") or 0),
                "log": [f"example guest {instance['uuid']} started\n"]}

    def destroy(self, context, instance, network_info, destroy_disks=True):
        with self._lock:
            self.guests.pop(instance["uuid"], None)  # already gone is fine

    # -------------------------------------------------------------- power
    def get_info(self, instance) -> InstanceInfo:
        return InstanceInfo(state=self._guest(instance)["state"])

    def power_off(self, instance, timeout=0, retry_interval=0):
        guest = self._guest(instance)
        guest["state"] = PowerState.SHUTDOWN
        guest["log"].append("powered off\n")

    def power_on(self, context, instance, network_info):
        guest = self._guest(instance)
        guest["state"] = PowerState.RUNNING
        guest["log"].append("powered on\n")

    def reboot(self, context, instance, network_info, reboot_type):
        guest = self._guest(instance)
        guest["state"] = PowerState.RUNNING
        guest["log"].append(f"{reboot_type.lower()} reboot\n")

    # ------------------------------------------------------------ console
    def get_console_output(self, context, instance) -> str:
        return "".join(self._guest(instance)["log"])

    # ---------------------------------------------------------- resources
    def get_available_resource(self) -> HostResources:
        with self._lock:
            guests = list(self.guests.values())
        return HostResources(
            vcpus=self.vcpus, memory_mb=self.memory_mb, local_gb=self.disk_gb,
            hypervisor_type="example", hypervisor_version=1, hypervisor_hostname=self.host,
            vcpus_used=sum(g["vcpus"] for g in guests),
            memory_mb_used=sum(g["memory_mb"] for g in guests),
            local_gb_used=sum(g["disk_gb"] for g in guests))

    def update_provider_tree(self, provider_tree, nodename):
        provider_tree["traits"].add("CUSTOM_EXAMPLE_HYPERVISOR")
