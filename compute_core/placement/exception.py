"""The errors of the placement service: each carries its HTTP status, the
error ``code`` (1.23+) and the ``detail`` text; the app renders them
(:func:`compute_core.placement.app.fault`).
"""
from __future__ import annotations


class PlacementError(Exception):
    status = 400
    code = "placement.undefined_code"
    vary = True  # raised by the handler itself (see app.fault)

    def __init__(self, detail, code=None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class NotFound(PlacementError):
    status = 404


class ProviderNotFound(NotFound):
    """openstack-placement lets its object layer's NotFound through to its
    dispatcher: no error code, no Vary."""
    vary = False


class ResourceClassNotFound(NotFound):
    vary = False  # through openstack-placement's dispatcher, as ProviderNotFound


class Conflict(PlacementError):
    status = 409


class GenerationConflict(Conflict):
    code = "placement.concurrent_update"


class ProviderRaced(GenerationConflict):
    """A provider's generation moved under a write: retried where the API
    says the service retries (allocations), a 409 elsewhere."""


class InventoryInUse(Conflict):
    code = "placement.inventory.inuse"


class BadRequest(PlacementError):
    status = 400


class ObjectActionError(BadRequest):
    """A provider that cannot be created or changed so; the handler words
    the 400 around it, as openstack-placement does."""

    def __init__(self, action, reason):
        super().__init__(f"Object action {action} failed because: {reason}")


class InvalidInventoryCapacity(BadRequest):
    """An inventory whose reserved amount is over its total; *reason* is
    what the handlers quote (creating, or updating)."""

    def __init__(self, rp_uuid, reason):
        super().__init__(f"Unable to update inventory for resource provider {rp_uuid}: {reason}")
        self.reason = reason


class TraitNotFound(BadRequest):
    """A query names a trait that does not exist."""
