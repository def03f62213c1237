"""Local image backend: image files under ``[image] images_path``, their
metadata in the API database."""
from __future__ import annotations

import hashlib
import os
import uuid

from compute_core import exception
from compute_core.db import api_db
from compute_core.image import ImageBackend


def _view(row):
    return {"id": row["uuid"], "name": row["name"], "status": row["status"],
            "disk_format": row["disk_format"], "container_format": row["container_format"],
            "size": row["size"], "checksum": row["checksum"], "min_disk": row["min_disk"],
            "min_ram": row["min_ram"], "owner": row["owner"], "visibility": row["visibility"],
            "properties": row["properties"] or {}, "created_at": row["created_at"],
            "updated_at": row["updated_at"], "location": row["location"]}


class LocalImageBackend(ImageBackend):
    def __init__(self, conf, db):
        super().__init__(conf, db)
        self.root = conf.image.images_path

    def list(self):
        return [_view(r) for r in api_db.list_images(self.api_db)]

    def get(self, image_id):
        return _view(api_db.get_image(self.api_db, image_id))

    def create(self, name, fileobj, disk_format="qcow2", container_format="bare",
               properties=None, min_disk=0, min_ram=0, image_id=None):
        image_id = image_id or str(uuid.uuid4())
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, image_id)
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with open(path + ".part", "wb") as out:
            for chunk in iter(lambda: fileobj.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        os.replace(path + ".part", path)
        row = api_db.create_image(self.api_db, {
            "uuid": image_id, "name": name, "status": "active", "disk_format": disk_format,
            "container_format": container_format, "size": size, "checksum": digest.hexdigest(),
            "min_disk": min_disk, "min_ram": min_ram, "visibility": "public",
            "location": path, "properties": properties or {}})
        return _view(row)

    def delete(self, image_id):
        image = self.get(image_id)
        api_db.delete_image(self.api_db, image_id)
        if image["location"] and os.path.exists(image["location"]):
            os.unlink(image["location"])

    def path(self, image_id):
        image = self.get(image_id)
        if not image["location"] or not os.path.exists(image["location"]):
            raise exception.ImageNotFound(image_id=image_id)
        return image["location"]

