"""Payloads of versioned notifications (instance.create.start/end ...)."""
from __future__ import annotations


def instance_payload(instance: dict, fault: str | None = None) -> dict:
    data = {
        "uuid": instance.get("uuid"),
        "display_name": instance.get("display_name"),
        "tenant_id": instance.get("project_id"),
        "user_id": instance.get("user_id"),
        "host": instance.get("host"),
        "node": instance.get("node"),
        "state": instance.get("vm_state"),
        "task_state": instance.get("task_state"),
        "power_state": instance.get("power_state"),
        "flavor": (instance.get("flavor") or {}).get("name"),
        "image_uuid": instance.get("image_ref"),
        "fault": fault,
    }
    return {"nova_object.name": "InstanceActionPayload", "nova_object.namespace": "nova",
            "nova_object.version": "1.0", "nova_object.data": data}
