"""Client side of the conductor RPC API (topic ``conductor``).

1.0 - schedule_and_build_instances, build_instances (reschedule),
      instance_update, instance_fault_create, instance_destroy,
      instance_get, instances_on_host, service_update,
      compute_node_update, action_event
1.1 - instance_update takes an optional action event
1.2 - migrate_server, confirm_resize, revert_resize (moves)
1.3 - instance_update takes return_instance (False: answer None on success
      instead of the whole instance, for callers that keep their own copy)
1.4 - migrate_server takes destination (a requested host) and same_host
      (whether the move may stay on its host)
1.5 - instance_get and instance_destroy take an optional action event
      (a delete's start and finish, one call each instead of two)
1.6 - deleted_instances (the deleted instances among guests a compute host
      still runs)
1.7 - the server actions: rebuild_instance, evacuate_instance,
      unshelve_instance, live_migrate_instance (casts); action_event takes
      details (a failure's message, what users may read); migration_update
      and evacuations_from_host (for compute hosts)
1.8 - snapshot_instance (createImage / createBackup: the compute host
      of the instance captures its disk into the queued image)
1.9 - rebuild_instance takes orig_image_ref and orig_sys_metadata: a
      rebuild with a new image asks the scheduler whether the server's
      host may run it, and goes back to them when it may not
1.10 - for the compute hosts' usage audit: task_log_get,
      task_log_begin_task, task_log_end_task, instances_active_in_window
1.11 - unconfirmed_resizes (the moves to a compute host waiting in
      VERIFY_RESIZE longer than its resize_confirm_window)
1.12 - instance_destroy takes start_event: a delete's start and finish
      events recorded with the destroy, so the compute host deletes with
      one call instead of instance_get and instance_destroy
1.13 - schedule_and_build_instances takes builds: the instances the API
      put in the build requests (the conductor then does not read them
      back; a build request deleted meanwhile is still caught when the
      instance reaches its cell); instance_update may be cast (see
      casts_state_updates); an event
      finish (instance_update's, action_event) with start_cast=True records
      the whole event when its start is not there, so a finish that
      overtakes its start's cast still leaves one event
1.14 - deallocate_network (a compute host's build that failed for good, not
      rescheduled, gives its ports back: those it made go, those the user
      brought are free again, the server shows no addresses)
1.15 - instance_update takes expected_vm_state (the update only happens
      from one of those vm_states, as expected_task_state) and fault (an
      instance fault written in the same transaction, only when the update
      is made): a build timeout fails only a server still in BUILD
"""
from compute_core import rpc

TOPIC = "conductor"
VERSION = "1.15"


class ConductorAPI:
    def __init__(self, transport, timeout=None):
        self.client = rpc.get_client(transport, TOPIC, VERSION, timeout=timeout)

    def _cctx(self):
        return self.client.prepare(version="1.0")

    # casts: the long-running orchestration
    def schedule_and_build_instances(self, ctxt, instance_uuids, request_spec, image,
                                     requested_networks, builds=None):
        """*builds* ({uuid: the instance of its build request}, 1.13): what
        the API just wrote, so that the conductor need not read it back."""
        kwargs = {"instance_uuids": instance_uuids, "request_spec": request_spec,
                  "image": image, "requested_networks": requested_networks}
        if builds is not None and self.client.can_send_version("1.13"):
            self.client.prepare(version="1.13").cast(
                ctxt, "schedule_and_build_instances", builds=builds, **kwargs)
            return
        self._cctx().cast(ctxt, "schedule_and_build_instances", **kwargs)

    def build_instances(self, ctxt, instance_uuid, request_spec, image, alternates,
                        attempt):
        self._cctx().cast(ctxt, "build_instances", instance_uuid=instance_uuid,
                          request_spec=request_spec, image=image, alternates=alternates,
                          attempt=attempt)

    def migrate_server(self, ctxt, instance_uuid, flavor, migration_type, destination=None,
                       same_host=False):
        kwargs = {"instance_uuid": instance_uuid, "flavor": flavor,
                  "migration_type": migration_type}
        version = "1.2"
        if destination or same_host:
            # An older conductor would drop them silently: better it refuses.
            version = "1.4"
            kwargs.update(destination=destination, same_host=same_host)
        self.client.prepare(version=version).cast(ctxt, "migrate_server", **kwargs)

    def snapshot_instance(self, ctxt, instance_uuid, image_id, backup_type=None,
                          rotation=None):
        self.client.prepare(version="1.8").cast(ctxt, "snapshot_instance",
                                                instance_uuid=instance_uuid,
                                                image_id=image_id, backup_type=backup_type,
                                                rotation=rotation)

    def confirm_resize(self, ctxt, instance_uuid):
        self.client.prepare(version="1.2").cast(ctxt, "confirm_resize",
                                                instance_uuid=instance_uuid)

    def revert_resize(self, ctxt, instance_uuid):
        self.client.prepare(version="1.2").cast(ctxt, "revert_resize",
                                                instance_uuid=instance_uuid)

    # 1.7: the server actions that need a host chosen, or go through the
    # conductor as in Nova.
    def _cast17(self, ctxt, method, **kwargs):
        self.client.prepare(version="1.7").cast(ctxt, method, **kwargs)

    def rebuild_instance(self, ctxt, instance_uuid, image, admin_password, orig_image_ref=None,
                         orig_sys_metadata=None):
        if orig_image_ref is None or orig_image_ref == image.get("id"):
            # The same image: no scheduler check, what a 1.7 conductor does.
            self._cast17(ctxt, "rebuild_instance", instance_uuid=instance_uuid, image=image,
                         admin_password=admin_password)
            return
        self.client.prepare(version="1.9").cast(
            ctxt, "rebuild_instance", instance_uuid=instance_uuid, image=image,
            admin_password=admin_password, orig_image_ref=orig_image_ref,
            orig_sys_metadata=orig_sys_metadata)

    def evacuate_instance(self, ctxt, instance_uuid, image, admin_password, host=None,
                          force=False):
        self._cast17(ctxt, "evacuate_instance", instance_uuid=instance_uuid, image=image,
                     admin_password=admin_password, host=host, force=force)

    def unshelve_instance(self, ctxt, instance_uuid, image, availability_zone=None,
                          host=None):
        self._cast17(ctxt, "unshelve_instance", instance_uuid=instance_uuid, image=image,
                     availability_zone=availability_zone, host=host)

    def live_migrate_instance(self, ctxt, instance_uuid, host=None, force=False):
        self._cast17(ctxt, "live_migrate_instance", instance_uuid=instance_uuid, host=host,
                     force=force)

    # calls: DB access on behalf of compute hosts
    def instance_update(self, ctxt, instance_uuid, values, expected_task_state="__any__",
                        event=None, return_instance=True, expected_vm_state=None,
                        fault=None):
        """The updated instance, or with return_instance=False None (from a
        1.3 conductor; an older one still answers with the instance). A
        refusal is {"error": ..., "message": ...} either way.

        *expected_vm_state* (a list) and *fault* ({"code", "message",
        "details", "host"}) need 1.15 (see guards_vm_state): the update is
        refused unless the instance is in one of those vm_states, and the
        fault is written with it, only when it is made. An older conductor
        gets the fault in a call of its own first and the update guarded by
        the task state alone, as before."""
        kwargs = {"instance_uuid": instance_uuid, "values": values,
                  "expected_task_state": expected_task_state}
        if expected_vm_state is not None or fault is not None:
            if self.guards_vm_state():
                kwargs.update(return_instance=return_instance, event=event,
                              expected_vm_state=expected_vm_state, fault=fault)
                return self.client.prepare(version="1.15").call(ctxt, "instance_update",
                                                                **kwargs)
            if fault is not None:
                self.instance_fault_create(ctxt, instance_uuid, **fault)
        if not return_instance and self.client.can_send_version("1.3"):
            kwargs["return_instance"] = False
            if event is not None:
                kwargs["event"] = event
            return self.client.prepare(version="1.3").call(ctxt, "instance_update", **kwargs)
        if event is not None:
            if not self.client.can_send_version("1.1"):
                # An older conductor: record the event separately.
                self.action_event(ctxt, instance_uuid, **event)
            else:
                kwargs["event"] = event
                return self.client.prepare(version="1.1").call(ctxt, "instance_update", **kwargs)
        return self._cctx().call(ctxt, "instance_update", **kwargs)

    def instance_update_cast(self, ctxt, instance_uuid, values, expected_task_state, event):
        """instance_update as a cast (1.13, see casts_state_updates): no
        answer, and the caller goes on at once; a refusal (the instance
        gone, or no longer in *expected_task_state*) changes nothing and
        records no event."""
        self.client.prepare(version="1.13").cast(
            ctxt, "instance_update", instance_uuid=instance_uuid, values=values,
            expected_task_state=expected_task_state, event=event, return_instance=False)

    def casts_state_updates(self) -> bool:
        """Whether an update may be cast (1.13): the conductor may then apply
        it after the caller's next, called, update, which must therefore
        accept the state from before the cast too."""
        return self.client.can_send_version("1.13")

    def guards_vm_state(self) -> bool:
        """Whether instance_update takes expected_vm_state and fault (1.15)."""
        return self.client.can_send_version("1.15")

    def _with_event(self, ctxt, method, instance_uuid, event):
        """Call *method* with *event* (1.5); an older conductor gets the
        event in a call of its own first."""
        if event is not None and self.client.can_send_version("1.5"):
            return self.client.prepare(version="1.5").call(
                ctxt, method, instance_uuid=instance_uuid, event=event)
        if event is not None:
            self.action_event(ctxt, instance_uuid, **event)
        return self._cctx().call(ctxt, method, instance_uuid=instance_uuid)

    def instance_get(self, ctxt, instance_uuid, event=None):
        return self._with_event(ctxt, "instance_get", instance_uuid, event)

    def instance_fault_create(self, ctxt, instance_uuid, code, message, details, host):
        return self._cctx().call(ctxt, "instance_fault_create", instance_uuid=instance_uuid,
                                 code=code, message=message, details=details, host=host)

    def instance_destroy(self, ctxt, instance_uuid, event=None, start_event=None):
        """Finish a delete; *start_event* (1.12, see destroys_with_start):
        the delete's start event, recorded before *event* in the same call."""
        if start_event is not None:
            if self.destroys_with_start():
                return self.client.prepare(version="1.12").call(
                    ctxt, "instance_destroy", instance_uuid=instance_uuid, event=event,
                    start_event=start_event)
            self.action_event(ctxt, instance_uuid, **start_event)
        return self._with_event(ctxt, "instance_destroy", instance_uuid, event)

    def destroys_with_start(self) -> bool:
        """Whether instance_destroy records a start event too (1.12)."""
        return self.client.can_send_version("1.12")

    def deallocate_network(self, ctxt, instance_uuid):
        """Free the ports of a build that failed for good (1.14, a call: they
        are free when the server shows ERROR); a conductor older than 1.14
        leaves them to the server's delete, as it did."""
        if not self.client.can_send_version("1.14"):
            return
        self.client.prepare(version="1.14").call(ctxt, "deallocate_network",
                                                 instance_uuid=instance_uuid)

    def instances_on_host(self, ctxt, host):
        return self._cctx().call(ctxt, "instances_on_host", host=host)

    def deleted_instances(self, ctxt, instance_uuids):
        """The deleted instances among *instance_uuids* ([] from a conductor
        older than 1.6, which cannot tell)."""
        if not self.client.can_send_version("1.6"):
            return []
        return self.client.prepare(version="1.6").call(ctxt, "deleted_instances",
                                                       instance_uuids=instance_uuids)

    def service_update(self, ctxt, host, binary, topic):
        return self._cctx().call(ctxt, "service_update", host=host, binary=binary, topic=topic)

    def compute_node_update(self, ctxt, host, nodename, values):
        return self._cctx().call(ctxt, "compute_node_update", host=host, nodename=nodename,
                                 values=values)

    def action_event(self, ctxt, instance_uuid, event, result=None, host=None, tb=None,
                     finish=False, details=None, start_cast=False):
        kwargs = {"instance_uuid": instance_uuid, "event": event, "result": result,
                  "host": host, "tb": tb, "finish": finish}
        if start_cast and self.casts_state_updates():
            return self.client.prepare(version="1.13").call(
                ctxt, "action_event", details=details, start_cast=True, **kwargs)
        if details is not None and self.client.can_send_version("1.7"):
            return self.client.prepare(version="1.7").call(ctxt, "action_event",
                                                           details=details, **kwargs)
        return self._cctx().call(ctxt, "action_event", **kwargs)

    def migration_update(self, ctxt, migration_uuid, values):
        return self.client.prepare(version="1.7").call(
            ctxt, "migration_update", migration_uuid=migration_uuid, values=values)

    def unconfirmed_resizes(self, ctxt, host, window):
        """[] from a conductor older than 1.11."""
        if not self.client.can_send_version("1.11"):
            return []
        return self.client.prepare(version="1.11").call(ctxt, "unconfirmed_resizes",
                                                        host=host, window=window)

    def evacuations_from_host(self, ctxt, host):
        """[] from a conductor older than 1.7 (it records no evacuations)."""
        if not self.client.can_send_version("1.7"):
            return []
        return self.client.prepare(version="1.7").call(ctxt, "evacuations_from_host",
                                                       host=host)

    # 1.10: the usage audit's task log and the instances it covers. Times
    # travel as ISO strings (naive UTC).
    def _call110(self, ctxt, method, **kwargs):
        return self.client.prepare(version="1.10").call(ctxt, method, **kwargs)

    def task_log_get(self, ctxt, task_name, begin, end, host):
        return self._call110(ctxt, "task_log_get", task_name=task_name, begin=begin, end=end,
                             host=host)

    def task_log_begin_task(self, ctxt, task_name, begin, end, host, task_items, message):
        """The row, or {"error": "TaskAlreadyRunning", "message"}."""
        return self._call110(ctxt, "task_log_begin_task", task_name=task_name, begin=begin,
                             end=end, host=host, task_items=task_items, message=message)

    def task_log_end_task(self, ctxt, task_name, begin, end, host, errors, message):
        return self._call110(ctxt, "task_log_end_task", task_name=task_name, begin=begin,
                             end=end, host=host, errors=errors, message=message)

    def instances_active_in_window(self, ctxt, host, begin, end):
        return self._call110(ctxt, "instances_active_in_window", host=host, begin=begin,
                             end=end)
