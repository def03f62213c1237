"""Image backends: where images and their metadata live.

A backend is a plugin in ``compute_core.image_backends`` chosen by
``[DEFAULT] image_backend``, constructed as ``Backend(conf, api_db)``.
Images are dicts in the Image API's shape (``id``, ``name``, ``status``,
``size``, ``min_disk``, ``min_ram``, ``properties``, ...).
"""
from __future__ import annotations

import abc

from compute_core import exception, plugins


class ImageBackend(abc.ABC):
    def __init__(self, conf, api_db):
        self.conf = conf
        self.api_db = api_db

    @abc.abstractmethod
    def list(self) -> list[dict]:
        """Every image, oldest first."""

    @abc.abstractmethod
    def get(self, image_id: str) -> dict:
        """One image; raise ImageNotFound."""

    @abc.abstractmethod
    def create(self, name: str, fileobj, disk_format: str = "qcow2",
               container_format: str = "bare", properties: dict | None = None,
               min_disk: int = 0, min_ram: int = 0, image_id: str | None = None) -> dict:
        """Store a new image from *fileobj*; return it."""

    @abc.abstractmethod
    def delete(self, image_id: str) -> None:
        """Remove an image and its data."""

    @abc.abstractmethod
    def path(self, image_id: str) -> str:
        """A local file with the image's data (for drivers that need one)."""

    def visible(self, image: dict, project_id: str | None, is_admin: bool = False) -> bool:
        """May *project_id* see *image* (the Compute API's image proxy
        lists only those)? Admins see all; others public and community
        images and their own. A backend that knows image members says yes
        to shared images' members too."""
        return (is_admin or image.get("visibility") in ("public", "community")
                or (image.get("owner") is not None and image.get("owner") == project_id))

    def set_properties(self, image_id: str, properties: dict, remove=()) -> dict:
        """Set *properties* and remove the names in *remove* (the image
        proxy's metadata); return the image."""
        raise exception.Invalid(f"the {type(self).__name__} image backend cannot change "
                                "image properties")

    # Snapshots: a backend that takes them creates the image's record first
    # (status queued, so the API can answer with its id at once), then the
    # compute host streams the disk into it. Optional: the default refuses.
    def create_record(self, name: str, disk_format: str = "raw",
                      container_format: str = "bare", properties: dict | None = None,
                      min_disk: int = 0, min_ram: int = 0, owner: str | None = None,
                      visibility: str = "private") -> dict:
        """A new queued image without data; return it."""
        raise exception.Invalid(f"the {type(self).__name__} image backend does not take "
                                "snapshots")

    def upload(self, image_id: str, fileobj, disk_format: str | None = None) -> dict:
        """Store *fileobj* as the data of the queued image *image_id*
        (queued -> saving -> active), in *disk_format* when given (the
        format a driver's snapshot wrote); return the image. Raise
        ImageNotFound when it is gone."""
        raise exception.Invalid(f"the {type(self).__name__} image backend does not take "
                                "snapshots")


def load_image_backend(conf, api_db) -> ImageBackend:
    return plugins.load_plugin(plugins.IMAGE_BACKENDS, conf.image_backend, ImageBackend,
                               conf, api_db)


# What an instance keeps of the image it booted from, as Nova keeps it in
# its system_metadata: image_<property> for each property, and the image's
# disk and container formats and minimums; values are strings of at most
# 255 characters.
_SYSTEM_METADATA_FIELDS = ("min_disk", "min_ram", "disk_format", "container_format")


def system_metadata(image: dict) -> dict:
    """The ``image_*`` system_metadata items of an instance booted from
    *image* (a backend's image dict)."""
    out = {f"image_{k}": str(v)[:255] for k, v in (image.get("properties") or {}).items()
           if v is not None}
    for field in _SYSTEM_METADATA_FIELDS:
        if image.get(field) is not None:
            out[f"image_{field}"] = str(image[field])
    out["image_base_image_ref"] = image["id"]
    return out
