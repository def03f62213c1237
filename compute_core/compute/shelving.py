"""The compute manager's shelve, shelve offload and unshelve, and the periodic
offload of shelved instances."""
from __future__ import annotations

import datetime
import logging

from compute_core import context as ctx_mod
from compute_core import exception, notifications
from compute_core.compute import states
from compute_core.compute.common import _uploader, _utcnow, ctx_now
from compute_core.image import snapshots
from compute_core.virt.driver import PowerState

LOG = logging.getLogger(__name__)


class Shelving:
    """ComputeManager's shelving RPC methods and the periodic offload."""

    # ---------------------------------------------------------- shelving
    def shelve_instance(self, ctxt, instance, offload, image_id=None):
        """Power the guest off and, with *image_id* (1.7), capture its root
        disk into that queued image (task_state shelving ->
        shelving_image_pending_upload -> shelving_image_uploading), as
        Nova does; then SHELVED, with shelved_at, shelved_image_id and
        shelved_host in the system_metadata. With *offload* ([DEFAULT]
        shelved_offload_time = 0) the guest is offloaded at once. A failure
        deletes the image and leaves the server in its vm_state (task
        cleared) with a fault and the action event in Error."""
        uuid = instance["uuid"]
        event = "compute_shelve_instance"
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            task = states.SHELVING
            try:
                self._power_off_unless_off(instance)
                if image_id is not None:
                    images = self.images()
                    for task, previous in (
                            (states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING),
                            (states.SHELVING_IMAGE_UPLOADING,
                             states.SHELVING_IMAGE_PENDING_UPLOAD)):
                        self._update(ctxt, uuid, {"task_state": task},
                                     expected_task_state=previous)
                    self.driver.snapshot(ctxt, instance, image_id,
                                         _uploader(images, image_id))
            except Exception as exc:  # driver, backend, or the instance changed
                LOG.warning("shelve of %s on %s failed: %s", uuid, self.host, exc)
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                if image_id is not None:
                    self._drop_image(image_id)
                try:
                    self._update(ctxt, uuid, {"task_state": None,
                                              "power_state": int(self._power_state(instance))},
                                 expected_task_state=task)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return
            sysmeta = dict(instance.get("system_metadata") or {}, shelved_at=ctx_now(),
                           shelved_host=self.host)
            if image_id is not None:
                sysmeta["shelved_image_id"] = image_id
            values = {"vm_state": states.SHELVED, "system_metadata": sysmeta,
                      "task_state": states.SHELVING_OFFLOADING if offload else None,
                      "power_state": int(self._power_state(instance))}
            try:
                self._update(ctxt, uuid, values, expected_task_state=task, event=event,
                             result="Success", finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                if image_id is not None:  # deleted meanwhile: nobody else will
                    self._drop_image(image_id)
                return
        self.notifier.info(ctxt, "instance.shelve.end", notifications.instance_payload(
            dict(instance, **values)))
        if offload:
            self.shelve_offload_instance(ctxt, dict(instance, **values))

    def shelve_offload_instance(self, ctxt, instance):
        """Drop the guest of a shelved server and free its resources: the
        server keeps its addresses and waits, on no host, for unshelve."""
        uuid = instance["uuid"]
        event = "compute_shelve_offload_instance"
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                self.driver.destroy(ctxt, instance, instance.get("network_info") or {}, True)
            except Exception as exc:
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                self._update(ctxt, uuid, {"task_state": None},
                             expected_task_state=states.SHELVING_OFFLOADING)
                return
            self.placement.delete_allocations(uuid)
            try:
                self._update(ctxt, uuid, {
                    "vm_state": states.SHELVED_OFFLOADED, "task_state": None, "host": None,
                    "node": None, "power_state": int(PowerState.SHUTDOWN)},
                    expected_task_state=states.SHELVING_OFFLOADING, event=event,
                    result="Success", finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                pass

    def unshelve_instance(self, ctxt, instance, image):
        """Bring a shelved server back on this host (the conductor chose it
        and claimed its resources when it was offloaded): power its guest
        on, or spawn it anew from *image* (the shelve's snapshot, else the
        server's image). Then the snapshot image is deleted and the
        shelved_* system_metadata dropped, as in Nova."""
        uuid = instance["uuid"]
        event = "compute_unshelve_instance"
        offloaded = instance["vm_state"] == states.SHELVED_OFFLOADED
        sysmeta = {k: v for k, v in (instance.get("system_metadata") or {}).items()
                   if k not in snapshots.SHELVED_KEYS}
        with self.locks(uuid):
            self._event(ctxt, uuid, event)
            try:
                if offloaded:
                    self.driver.spawn(ctxt, instance, image or {"id": instance.get("image_ref")},
                                      instance.get("network_info") or {})
                else:
                    self.driver.power_on(ctxt, instance, instance.get("network_info") or {})
            except Exception as exc:
                LOG.warning("unshelve of %s on %s failed: %s", uuid, self.host, exc)
                self._fault(ctxt, uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                values = {"task_state": None}
                if offloaded:  # back on no host, its claim freed
                    self._cleanup_failed_spawn(ctxt, instance)
                    values.update(host=None, node=None)
                try:
                    self._update(ctxt, uuid, values, expected_task_state=states.UNSHELVING)
                except (exception.InstanceNotFound, exception.InstanceInvalidState):
                    pass
                return
            try:
                self._update(ctxt, uuid, {
                    "vm_state": states.ACTIVE, "task_state": None, "system_metadata": sysmeta,
                    "power_state": int(self._power_state(instance))},
                    expected_task_state=states.UNSHELVING, event=event, result="Success",
                    finish=True)
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                return
            if self.images is not None:
                snapshots.delete_shelved_image(self.images(), instance)
        self.notifier.info(ctxt, "instance.unshelve.end",
                           notifications.instance_payload(instance))

    def offload_shelved_instances(self):
        """Periodic: offload the servers shelved here longer than
        [DEFAULT] shelved_offload_time (never when it is -1)."""
        limit = self.conf.shelved_offload_time
        if limit < 0:
            return
        ctxt = ctx_mod.get_admin_context()
        oldest = _utcnow() - datetime.timedelta(seconds=limit)
        for inst in self.conductor.instances_on_host(ctxt, self.host):
            if inst["vm_state"] != states.SHELVED or inst["task_state"] is not None:
                continue
            shelved_at = states._as_datetime((inst.get("system_metadata") or {})
                                             .get("shelved_at"))
            if shelved_at is not None and shelved_at > oldest:
                continue
            try:
                self._update(ctxt, inst["uuid"], {"task_state": states.SHELVING_OFFLOADING},
                             expected_task_state=[None])
            except (exception.InstanceNotFound, exception.InstanceInvalidState):
                continue
            self.shelve_offload_instance(ctxt, dict(inst,
                                                    task_state=states.SHELVING_OFFLOADING))
