"""The compute manager's interface attach and detach (RPC 1.10)."""
from __future__ import annotations

import logging

from compute_core import exception, network, notifications
from compute_core.compute.common import _message

LOG = logging.getLogger(__name__)


class InterfaceSteps:
    """ComputeManager's attach_interface and detach_interface."""

    # -------------------------------------------------------- interfaces
    # RPC 1.10, calls from the API, which binds the network backend's port
    # before the attach and frees it after the detach.
    def attach_interface(self, ctxt, instance, port):
        """Plug *port* (the backend's port dict) into the guest and add its
        address to the instance's network_info: None, or {"error",
        "message"} (the driver failed or cannot)."""
        return self._interface_step(ctxt, instance, port, "attach",
                                    lambda: self.driver.attach_interface(
                                        ctxt, instance, {"id": instance.get("image_ref")},
                                        port), add=True)

    def detach_interface(self, ctxt, instance, port):
        """Unplug *port* from the guest and drop its address from the
        instance's network_info: None, or {"error", "message"}."""
        return self._interface_step(ctxt, instance, port, "detach",
                                    lambda: self.driver.detach_interface(ctxt, instance, port),
                                    add=False)

    def _interface_step(self, ctxt, instance, port, verb, step, add):
        """Run *step* (the driver's), then change network_info; the action
        event and notifications are Nova's: compute_attach_interface,
        instance.interface_attach.start/.end/.error (detach likewise)."""
        uuid = instance["uuid"]
        event, what = f"compute_{verb}_interface", f"interface_{verb}"
        with self.locks(uuid):
            self.notifier.info(ctxt, f"instance.{what}.start",
                               notifications.instance_payload(instance))
            self._event(ctxt, uuid, event)
            try:
                if not self.driver.supports("supports_attach_interface"):
                    raise exception.NotSupportedByDriver(driver=type(self.driver).__name__,
                                                         action="attach interface")
                step()
                current = self.conductor.instance_get(ctxt, uuid)
                if current is None:
                    raise exception.InstanceNotFound(instance_id=uuid)
                name, entry = network.address_entry(port)
                nets = {k: [a for a in v if (a.get("addr"), a.get("OS-EXT-IPS-MAC:mac_addr"))
                            != (entry["addr"], entry["OS-EXT-IPS-MAC:mac_addr"])]
                        for k, v in (current.get("network_info") or {}).items()}
                if add:
                    nets.setdefault(name, []).append(entry)
                self._update(ctxt, uuid, {"network_info": {k: v for k, v in nets.items() if v}},
                             event=event, result="Success", finish=True)
            except Exception as exc:
                LOG.warning("%s of port %s on %s failed: %s", event, port.get("id"), uuid, exc)
                self._event(ctxt, uuid, event, "Error", exc, finish=True)
                self.notifier.error(ctxt, f"instance.{what}.error",
                                    notifications.instance_payload(instance, fault=_message(exc)))
                return {"error": type(exc).__name__, "message": _message(exc)}
            self.notifier.info(ctxt, f"instance.{what}.end",
                               notifications.instance_payload(instance))
            return None
