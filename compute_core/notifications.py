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


def usage_exists_payload(instance: dict, begin: str, end: str) -> dict:
    """compute.instance.exists (the usage audit): the instance and the
    audit period it ran in (ISO times, naive UTC)."""
    payload = instance_payload(instance)
    payload["nova_object.data"].update(
        audit_period_beginning=begin, audit_period_ending=end,
        launched_at=_iso(instance.get("launched_at")),
        terminated_at=_iso(instance.get("terminated_at")),
        deleted_at=_iso(instance.get("deleted_at")))
    return payload


def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
