"""The compute manager's recovery at start, its periodic tasks (build timeouts,
reclaim, the usage audit, polls, heartbeat, resource reports, power sync) and
the driver's lifecycle events."""
from __future__ import annotations

import datetime
import logging
import threading
import time

from compute_core import context as ctx_mod
from compute_core import clock, exception, notifications
from compute_core.compute import audit
from compute_core.compute import rpcapi, states
from compute_core.compute.common import BINARY, _utcnow
from compute_core.virt.driver import DEFAULT_CAPABILITIES, PowerState

LOG = logging.getLogger(__name__)


class PeriodicTasks:
    """ComputeManager's start-up recovery and periodic tasks."""

    # --------------------------------------------------------- recovery
    # What this host finds when it starts (init_instances) and then
    # periodically: builds interrupted or too long, deletes and power
    # actions that died with the service, guests of deleted instances.

    def init_instances(self):
        """At start, no work of this host is running: a build that was
        spawning here was interrupted (ERROR with a fault, as Nova does; its
        ports given back, as a failed spawn's); a delete is finished; a
        power action is dropped (task_state cleared, power state read from
        the hypervisor). A build still to run here (scheduling) is left to
        its cast, or to the build timeout."""
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            uuid, task = inst["uuid"], inst["task_state"]
            try:
                if inst["vm_state"] == states.BUILDING and task == states.SPAWNING:
                    self._fail_build(ctxt, inst, f"Build of instance {uuid} was interrupted "
                                                 f"by a restart of compute host {self.host}.",
                                     expected=[states.SPAWNING])
                    self._cleanup_failed_spawn(ctxt, inst)
                    # Failed for good, as a spawn that raised: its ports go
                    # back. (Not on a build timeout: that update, which
                    # takes task_state None, could land on a build that just
                    # finished.)
                    self._free_network(ctxt, uuid)
                elif task == states.DELETING:
                    LOG.info("finishing the interrupted delete of %s", uuid)
                    self.terminate_instance(ctxt, inst)
                elif task in _POWER_TASKS:
                    LOG.info("dropping the interrupted %s of %s", task, uuid)
                    self._update(ctxt, uuid, {"task_state": None,
                                              "power_state": int(self._power_state(inst))},
                                 expected_task_state=task)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue

    def check_instance_build_time(self):
        """Builds of this host in BUILD longer than instance_build_timeout
        go to ERROR with a fault, their allocations freed (a spawn still
        running then finds its instance changed and drops its guest)."""
        timeout = self.conf.instance_build_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        limit = clock.utcnow() - datetime.timedelta(seconds=timeout)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            started = states.build_started(inst)
            if inst["vm_state"] == states.BUILDING and started is not None and started < limit:
                try:
                    self._fail_build(ctxt, inst, f"Build of instance {inst['uuid']} timed "
                                                 f"out. Set to error state.",
                                     expected=[states.SCHEDULING, states.SPAWNING, None])
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    continue

    def _fail_build(self, ctxt, inst, message, expected):
        """Put a build still in BUILD (and in a task state of *expected*)
        in ERROR with *message* as its fault, free its allocations and tell;
        InstanceNotFound or InstanceInvalidState, and nothing done, when it
        is gone or no longer building."""
        uuid = inst["uuid"]
        # Guarded by BUILDING too: a build that finished since the listing
        # is ACTIVE with task_state None, which *expected* alone matches.
        # The fault is written with ERROR, in its transaction: whoever sees
        # ERROR sees why, and a server the update leaves alone gets none.
        self._update(ctxt, uuid, {"vm_state": states.ERROR, "task_state": None},
                     expected_task_state=expected, expected_vm_state=[states.BUILDING],
                     fault=self._fault_record(exception.ComputeCoreError(message)))
        LOG.warning("%s", message)
        self.placement.delete_allocations(uuid)
        self.notifier.error(ctxt, "instance.create.error",
                            notifications.instance_payload(dict(inst, vm_state=states.ERROR),
                                                           fault=message))

    def cleanup_running_deleted_instances(self):
        """Guests still on the hypervisor whose instances were deleted (say
        while this host was down) are handled per
        [DEFAULT] running_deleted_instance_action."""
        action = self.conf.running_deleted_instance_action
        if action == "noop":
            return
        guests = self.driver.list_instances()
        if not guests:
            return
        ctxt = ctx_mod.get_admin_context()
        deleted = self.conductor.deleted_instances(ctxt, guests)
        self._report_unknown_guests(ctxt, guests, deleted)
        for inst in deleted:
            uuid = inst["uuid"]
            with self.locks(uuid):
                if action == "log":
                    LOG.warning("guest %s runs on %s but its instance is deleted", uuid,
                                self.host)
                    continue
                try:
                    if action == "shutdown":
                        if self._power_state(inst) != PowerState.SHUTDOWN:
                            LOG.info("powering off guest %s of deleted instance", uuid)
                            self.driver.power_off(inst)
                    else:
                        LOG.info("destroying guest %s of deleted instance", uuid)
                        self.driver.destroy(ctxt, inst, inst.get("network_info") or {}, True)
                except Exception:
                    LOG.exception("could not %s guest %s of a deleted instance", action, uuid)

    def _report_unknown_guests(self, ctxt, guests, deleted):
        known = {i["uuid"] for i in self.conductor.instances_on_host(ctxt, self.host)}
        known.update(i["uuid"] for i in deleted)
        unknown = sorted(set(guests) - known)
        for uuid in unknown:
            if uuid not in self.unknown_guests:
                LOG.warning("guest %s on %s belongs to no instance of this host (left "
                            "behind by a crash?): not touched", uuid, self.host)
        self.unknown_guests = unknown

    def reclaim_queued_deletes(self):
        """Periodic: delete the servers of this host SOFT_DELETED longer
        than [DEFAULT] reclaim_instance_interval."""
        interval = self.conf.reclaim_instance_interval
        if interval <= 0:
            return
        ctxt = ctx_mod.get_admin_context()
        oldest = _utcnow() - datetime.timedelta(seconds=interval)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.SOFT_DELETED or inst["task_state"] is not None:
                continue
            since = states._as_datetime(inst.get("deleted_at"))
            if since is not None and since > oldest:
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.DELETING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.info("reclaiming soft-deleted instance %s", inst["uuid"])
            self.terminate_instance(ctxt, inst)

    def instance_usage_audit(self):
        """Periodic (Nova's _instance_usage_audit): with [DEFAULT]
        instance_usage_audit, once per completed
        instance_usage_audit_period, a compute.instance.exists notification
        for each instance of this host that ran during that period (deleted
        ones too), recorded in the cell's task log: RUNNING with the number
        of instances, then DONE with the errors and a message."""
        if not self.conf.instance_usage_audit:
            return
        ctxt = ctx_mod.get_admin_context()
        begin, end = audit.last_completed_period(self.conf.instance_usage_audit_period,
                                                 _utcnow())
        period = (audit.TASK_NAME, begin.isoformat(), end.isoformat(), self.host)
        if self.conductor.task_log_get(ctxt, *period):
            return  # audited already
        instances = self.conductor.instances_active_in_window(ctxt, self.host, period[1],
                                                              period[2])
        LOG.info("Running instance usage audit for host %s from %s to %s. %d instances.",
                 self.host, begin, end, len(instances))
        started = time.monotonic()
        row = self.conductor.task_log_begin_task(ctxt, *period, len(instances),
                                                 "Instance usage audit started...")
        if isinstance(row, dict) and row.get("error"):
            LOG.info("usage audit of %s: %s", self.host, row.get("message"))
            return
        errors = 0
        for inst in instances:
            try:
                self.notifier.info(ctxt, "compute.instance.exists",
                                   notifications.usage_exists_payload(inst, period[1],
                                                                      period[2]))
            except Exception:
                LOG.exception("usage audit of instance %s on %s failed", inst.get("uuid"),
                              self.host)
                errors += 1
        self.conductor.task_log_end_task(
            ctxt, *period, errors,
            f"Instance usage audit ran for host {self.host}, {len(instances)} instances "
            f"in {time.monotonic() - started:.3f} seconds.")
    # ----------------------------------------------- timeouts (periodic)
    # Nova's _poll_rebooting_instances, _poll_unconfirmed_resizes and
    # _poll_rescued_instances; each does nothing while its timeout is 0.

    def _older_than(self, when, seconds) -> bool:
        when = states._as_datetime(when)
        return when is not None and when < _utcnow() - datetime.timedelta(seconds=seconds)

    def poll_rebooting_instances(self):
        """Servers of this host in a soft reboot longer than [DEFAULT]
        reboot_timeout (a guest that hung, a message lost) are rebooted hard."""
        timeout = self.conf.reboot_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            task = inst["task_state"]
            if task not in _SOFT_REBOOT_TASKS or not self._older_than(inst.get("updated_at"),
                                                                      timeout):
                continue
            if self.locks.held(inst["uuid"]):
                continue  # a reboot is running: its own timeout ends it
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.REBOOTING_HARD},
                             expected_task_state=task)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.warning("%s was rebooting for more than %s s: rebooting it hard",
                        inst["uuid"], timeout)
            self.reboot_instance(ctxt, dict(inst, task_state=states.REBOOTING_HARD), "HARD")

    def poll_unconfirmed_resizes(self):
        """Moves to this host waiting in VERIFY_RESIZE longer than
        [DEFAULT] resize_confirm_window are confirmed."""
        window = self.conf.resize_confirm_window
        if not window:
            return
        ctxt = ctx_mod.get_admin_context()
        for migration in self.conductor.unconfirmed_resizes(ctxt, self.host, window):
            uuid = migration["instance_uuid"]
            inst = self.conductor.instance_get(ctxt, uuid)
            if inst is None or inst["vm_state"] != states.RESIZED or inst["task_state"]:
                continue
            LOG.info("confirming the move of %s (waiting more than %s s)", uuid, window)
            self.conductor.confirm_resize(ctxt, uuid)

    def poll_rescued_instances(self):
        """Servers of this host rescued longer than [DEFAULT] rescue_timeout
        are unrescued."""
        timeout = self.conf.rescue_timeout
        if not timeout:
            return
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.RESCUED or inst["task_state"] is not None or \
                    not self._older_than(inst.get("launched_at"), timeout):
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.UNRESCUING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            LOG.info("unrescuing %s (rescued more than %s s)", inst["uuid"], timeout)
            self.unrescue_instance(ctxt, dict(inst, task_state=states.UNRESCUING))

    # --------------------------------------------------------- periodic
    def heartbeat(self):
        self.conductor.service_update(ctx_mod.get_admin_context(), self.host, BINARY,
                                      f"compute.{self.host}")

    def update_available_resource(self):
        """Report the node to the cell DB and its inventory to placement."""
        ctxt = ctx_mod.get_admin_context()
        res = self.driver.get_available_resource()
        conf = self.conf
        node = self.conductor.compute_node_update(ctxt, self.host, res.hypervisor_hostname, {
            "vcpus": res.vcpus, "memory_mb": res.memory_mb, "local_gb": res.local_gb,
            "vcpus_used": res.vcpus_used, "memory_mb_used": res.memory_mb_used,
            "local_gb_used": res.local_gb_used, "hypervisor_type": res.hypervisor_type,
            "hypervisor_version": res.hypervisor_version, "cpu_info": res.cpu_info,
            "host_ip": conf.my_ip, "running_vms": len(self.driver.list_instances()),
            "cpu_allocation_ratio": conf.initial_cpu_allocation_ratio,
            "ram_allocation_ratio": conf.initial_ram_allocation_ratio,
            "disk_allocation_ratio": conf.initial_disk_allocation_ratio,
            "stats": self._driver_stats(),
        })
        self.node = node
        tree = {"inventories": self._inventories(res), "traits": set()}
        if self.driver.supports("supports_migrate_to_same_host"):
            tree["traits"].add("COMPUTE_SAME_HOST_COLD_MIGRATE")  # as Nova reports it
        self.driver.update_provider_tree(tree, res.hypervisor_hostname)
        self.placement.ensure_provider(node["uuid"], res.hypervisor_hostname)
        self.placement.set_inventory(node["uuid"], tree["inventories"])
        self.placement.set_traits(node["uuid"], tree["traits"])

    def _driver_stats(self) -> dict:
        """What the API reads to refuse an action the driver cannot do
        (without asking this host), and ComputeCapabilitiesFilter can match
        (``capabilities:driver_capabilities:supports_pause``)."""
        stats = {"virt_driver": type(self.driver).__name__,
                 "driver_capabilities": {name: self.driver.supports(name)
                                         for name in DEFAULT_CAPABILITIES}}
        uptime = self.driver.get_host_uptime()
        if uptime:
            stats["uptime"] = uptime  # os-hypervisors shows it
        return stats

    def _inventories(self, res) -> dict:
        conf = self.conf
        inv = {}
        if res.vcpus:
            inv["VCPU"] = {"total": res.vcpus, "reserved": min(conf.reserved_host_cpus, res.vcpus),
                           "min_unit": 1, "max_unit": res.vcpus, "step_size": 1,
                           "allocation_ratio": conf.initial_cpu_allocation_ratio}
        if res.memory_mb:
            inv["MEMORY_MB"] = {"total": res.memory_mb,
                                "reserved": min(conf.reserved_host_memory_mb, res.memory_mb),
                                "min_unit": 1, "max_unit": res.memory_mb, "step_size": 1,
                                "allocation_ratio": conf.initial_ram_allocation_ratio}
        if res.local_gb:
            reserved = -(-conf.reserved_host_disk_mb // 1024)
            inv["DISK_GB"] = {"total": res.local_gb, "reserved": min(reserved, res.local_gb),
                              "min_unit": 1, "max_unit": res.local_gb, "step_size": 1,
                              "allocation_ratio": conf.initial_disk_allocation_ratio}
        return inv

    def sync_power_states(self):
        ctxt = ctx_mod.get_admin_context()
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            self._sync_power_state(ctxt, inst)

    def _sync_power_state(self, ctxt, inst):
        """Record the hypervisor's power state of *inst* (an instance of
        this host with no task running), stopping an ACTIVE one found off."""
        if inst["task_state"] is not None or inst["vm_state"] in (states.BUILDING,
                                                                 states.ERROR):
            return
        with self.locks(inst["uuid"]):
            actual = self._power_state(inst)
            if int(actual) == inst["power_state"]:
                return
            values = {"power_state": int(actual)}
            if inst["vm_state"] == states.ACTIVE and actual in (PowerState.SHUTDOWN,
                                                                PowerState.NOSTATE,
                                                                PowerState.CRASHED):
                values["vm_state"] = states.STOPPED
            LOG.info("power state of %s: database %s, hypervisor %s", inst["uuid"],
                     inst["power_state"], int(actual))
            try:
                self._update(ctxt, inst["uuid"], values, expected_task_state=None)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass

    def handle_lifecycle_event(self, uuid, state):
        """A guest changed power state by itself (the driver's event): sync
        that one instance, in a thread of its own (the driver's event thread
        must not wait for an instance lock or the conductor). An instance
        with a task running is left to that task, as in the periodic sync."""
        def sync():
            ctxt = ctx_mod.get_admin_context()
            try:
                inst = self.conductor.instance_get(ctxt, uuid)
                if inst is None or inst.get("host") != self.host:
                    return
                self._sync_power_state(ctxt, inst)
            except Exception:
                LOG.exception("lifecycle event of %s (%s) not recorded", uuid, state)

        threading.Thread(target=sync, name=f"event-{uuid[:8]}", daemon=True).start()


_SOFT_REBOOT_TASKS = (states.REBOOTING, states.REBOOT_PENDING, states.REBOOT_STARTED)
_POWER_TASKS = (states.POWERING_OFF, states.POWERING_ON, states.REBOOTING,
                states.REBOOTING_HARD, rpcapi.PAUSING, rpcapi.UNPAUSING, rpcapi.SUSPENDING,
                rpcapi.RESUMING, states.RESCUING, states.UNRESCUING, states.SHELVING,
                states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING,
                states.SHELVING_OFFLOADING, states.UPDATING_PASSWORD, states.SOFT_DELETING,
                states.RESTORING)
