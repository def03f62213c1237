"""Local image backend: the embedded image service's images, read and
written through its object layer (records in the API database, data under
``[image] images_path``), so an image uploaded with ``openstack image
create`` boots a server and a snapshot shows up in ``openstack image list``."""
from __future__ import annotations

import os

from compute_core import exception
from compute_core.image import ImageBackend
from compute_core.image.service import store as image_store


def _view(image):
    out = dict(image)
    out["location"] = None if image["status"] not in ("active", "deactivated") else \
        image.get("location")
    return out


class LocalImageBackend(ImageBackend):
    def __init__(self, conf, db):
        super().__init__(conf, db)
        if db is None:
            raise exception.ConfigError("the local image backend needs the API database "
                                        "([api_database] connection); a compute host "
                                        "without it uses the glance backend")
        self.store = image_store.ImageStore(conf, db)

    def _get(self, image_id):
        try:
            image = self.store.get(image_id)
        except image_store.NotFound:
            raise exception.ImageNotFound(image_id=image_id) from None
        image["location"] = self.store.data_path(image_id)
        return image

    def list(self):
        return [dict(i, location=self.store.data_path(i["id"])) for i in self.store.all()]

    def get(self, image_id):
        return _view(self._get(image_id))

    def create(self, name, fileobj, disk_format="qcow2", container_format="bare",
               properties=None, min_disk=0, min_ram=0, image_id=None, owner=None,
               visibility="public"):
        image = self.store.create({"id": image_id, "name": name, "disk_format": disk_format,
                                   "container_format": container_format, "owner": owner,
                                   "min_disk": min_disk, "min_ram": min_ram,
                                   "visibility": visibility, "status": "saving",
                                   "properties": dict(properties or {})})
        try:
            size, md5, sha512 = self.store.write(image["id"], fileobj, None, 1 << 62,
                                                 "image too large")
        except BaseException:
            self.store.update(image["id"], {"status": "killed"})
            raise
        self.store.finish_upload(image["id"], size, md5, sha512)
        return self.get(image["id"])

    def visible(self, image, project_id, is_admin=False):
        if super().visible(image, project_id, is_admin):
            return True
        return (image.get("visibility") == "shared" and project_id is not None
                and self.store.member(image["id"], project_id) is not None)

    def set_properties(self, image_id, properties, remove=()):
        image = self._get(image_id)
        props = dict(image["properties"])
        for name in remove:
            props.pop(name, None)
        props.update({str(k): str(v) for k, v in properties.items()})
        if self.store.update(image_id, {"properties": props}) is None:
            raise exception.ImageNotFound(image_id=image_id)
        return self.get(image_id)

    def create_record(self, name, disk_format="raw", container_format="bare",
                      properties=None, min_disk=0, min_ram=0, owner=None,
                      visibility="private"):
        image = self.store.create({"name": name, "disk_format": disk_format,
                                   "container_format": container_format, "owner": owner,
                                   "min_disk": min_disk, "min_ram": min_ram,
                                   "visibility": visibility,
                                   "properties": {k: str(v) for k, v in
                                                  (properties or {}).items()}})
        return self.get(image["id"])

    def upload(self, image_id, fileobj, disk_format=None):
        """As the image API's upload: within [image] image_size_cap and the
        owner's user_storage_quota (a snapshot counts like any upload)."""
        image = self._get(image_id)
        cap = self.conf.image.image_size_cap
        room = self.store.room(image["owner"])
        limit = cap if room is None else min(cap, room)
        values = {"status": "saving"}
        if disk_format:
            values["disk_format"] = disk_format
        if self.store.update(image_id, values, expect_status={"queued"}) is None:
            self._get(image_id)  # ImageNotFound when gone
            raise exception.Conflict(f"image {image_id} is not queued")
        try:
            size, md5, sha512 = self.store.write(
                image_id, fileobj, None, limit,
                f"image {image_id} is over the size cap ({cap} bytes) or its project's "
                "image storage quota")
        except image_store.TooLarge as exc:
            self.store.update(image_id, {"status": "killed"}, expect_status={"saving"})
            raise exception.Invalid(exc.message) from None
        except BaseException:
            self.store.update(image_id, {"status": "killed"}, expect_status={"saving"})
            raise
        if self.store.finish_upload(image_id, size, md5, sha512) is None:
            raise exception.ImageNotFound(image_id=image_id)
        return self.get(image_id)

    def delete(self, image_id):
        try:
            self.store.delete(image_id)
        except image_store.NotFound:
            raise exception.ImageNotFound(image_id=image_id) from None

    def path(self, image_id):
        image = self._get(image_id)
        if image["status"] not in ("active", "deactivated") or \
                not os.path.exists(image["location"]):
            raise exception.ImageNotFound(image_id=image_id)
        return image["location"]
