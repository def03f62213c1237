"""What the compute manager's modules share: the service's binary name and
clock, an exception's message, the upload function a snapshot writes to."""
from __future__ import annotations

from compute_core import clock

BINARY = "compute-compute"


def _uploader(images, image_id):
    """The upload(fileobj, disk_format=None) a driver's snapshot writes to."""
    def upload(fileobj, disk_format=None):
        if disk_format is None:  # what any backend takes
            return images.upload(image_id, fileobj)
        return images.upload(image_id, fileobj, disk_format=disk_format)
    return upload


def _utcnow():
    # the service's clock (virtual in a Cloud(clock="virtual"))
    return clock.utcnow()


def ctx_now():
    return clock.utcnow().isoformat()


def _message(exc) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__
