"""Glance image backend: images live in an Image API v2 service (a real
Glance, or compute_core's own image service), reached through a
keystoneauth1 session with the service's credentials (``[glance]``:
keystoneauth's auth, session and adapter options; the endpoint comes from
the catalog's ``image`` service unless ``endpoint_override`` names one).

``path()`` gives drivers a local copy: downloaded once into ``[glance]
cache_path``, checked against the image's checksum, then reused.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import re
import threading
import uuid as uuidlib

from compute_core import exception
from compute_core.image import ImageBackend

# Attributes of a Glance image that are not properties.
_CORE = {"id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
         "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_disk",
         "min_ram", "disk_format", "container_format", "created_at", "updated_at", "tags",
         "self", "file", "schema", "direct_url", "locations", "stores"}
CHUNK = 1 << 20


def _error_text(resp) -> str:
    """The message of an Image API error (webob's JSON, HTML or text)."""
    try:
        text = str(resp.json().get("message", ""))
    except ValueError:
        text = resp.text
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join(text.split())[:300]


def _pointer(name: str) -> str:
    """*name* as one JSON pointer segment."""
    return name.replace("~", "~0").replace("/", "~1")


def _time(text):
    if not text:
        return None
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def _view(doc: dict) -> dict:
    """A Glance image document in the backend contract's shape."""
    out = {k: doc.get(k) for k in ("id", "name", "status", "disk_format", "container_format",
                                   "size", "checksum", "owner", "visibility", "os_hash_algo",
                                   "os_hash_value", "virtual_size")}
    out["min_disk"] = doc.get("min_disk") or 0
    out["min_ram"] = doc.get("min_ram") or 0
    out["protected"] = bool(doc.get("protected"))
    out["tags"] = list(doc.get("tags") or [])
    out["created_at"] = _time(doc.get("created_at"))
    out["updated_at"] = _time(doc.get("updated_at"))
    out["properties"] = {k: v for k, v in doc.items() if k not in _CORE}
    out["location"] = None
    return out


class GlanceImageBackend(ImageBackend):
    def __init__(self, conf, api_db):
        super().__init__(conf, api_db)
        self._adapter = None
        self._lock = threading.Lock()
        self._downloads: dict[str, threading.Lock] = {}

    # ------------------------------------------------------------ session
    @property
    def adapter(self):
        """The keystoneauth1 adapter on [glance], made at first use (the
        embedded cloud sets its credentials once its identity listens)."""
        with self._lock:
            if self._adapter is None:
                from keystoneauth1 import loading

                group = "glance"
                auth = loading.load_auth_from_conf_options(self.conf, group)
                session = loading.load_session_from_conf_options(self.conf, group, auth=auth)
                self._adapter = loading.load_adapter_from_conf_options(
                    self.conf, group, session=session, auth=auth)
            return self._adapter

    def _request(self, method, path, image_id=None, **kwargs):
        from keystoneauth1 import exceptions as ks_exc

        try:
            resp = self.adapter.request(path, method, raise_exc=False, **kwargs)
        except ks_exc.ClientException as exc:
            raise exception.ImageServiceUnavailable(reason=str(exc)) from None
        if resp.status_code == 404 and image_id is not None:
            raise exception.ImageNotFound(image_id=image_id)
        if resp.status_code >= 400:
            raise exception.ImageServiceUnavailable(
                reason=f"{method} {path}: {resp.status_code} {_error_text(resp)}")
        return resp

    # ----------------------------------------------------------- contract
    def list(self):
        out = []
        path = "/v2/images?limit=200&sort=created_at:asc,id:asc"
        while path:
            page = self._request("GET", path).json()
            out.extend(_view(i) for i in page["images"])
            path = page.get("next")
        return out

    def get(self, image_id):
        try:
            uuidlib.UUID(image_id)
        except ValueError:
            raise exception.ImageNotFound(image_id=image_id) from None
        return _view(self._request("GET", f"/v2/images/{image_id}", image_id).json())

    def create(self, name, fileobj, disk_format="qcow2", container_format="bare",
               properties=None, min_disk=0, min_ram=0, image_id=None, owner=None,
               visibility="public"):
        image = self._record(name, disk_format, container_format, properties, min_disk,
                             min_ram, owner, visibility, image_id)
        try:
            return self.upload(image["id"], fileobj)
        except BaseException:
            try:
                self._request("DELETE", f"/v2/images/{image['id']}", image["id"])
            except exception.ComputeCoreError:
                pass
            raise

    def _record(self, name, disk_format, container_format, properties, min_disk, min_ram,
                owner, visibility, image_id=None):
        doc = {"name": name, "disk_format": disk_format, "container_format": container_format,
               "min_disk": min_disk, "min_ram": min_ram, "visibility": visibility,
               **{k: str(v) for k, v in (properties or {}).items()}}
        if image_id:
            doc["id"] = image_id
        if owner:
            doc["owner"] = owner
        return self._request("POST", "/v2/images", json=doc).json()

    def set_properties(self, image_id, properties, remove=()):
        current = self.get(image_id)["properties"]
        ops = [{"op": "remove", "path": "/" + _pointer(name)} for name in remove
               if name in current and name not in properties]
        ops += [{"op": "add", "path": "/" + _pointer(str(k)), "value": str(v)}
                for k, v in properties.items()]
        if ops:
            self._request("PATCH", f"/v2/images/{image_id}", image_id, json=ops, headers={
                "Content-Type": "application/openstack-images-v2.1-json-patch"})
        return self.get(image_id)

    def create_record(self, name, disk_format="raw", container_format="bare",
                      properties=None, min_disk=0, min_ram=0, owner=None,
                      visibility="private"):
        return _view(self._record(name, disk_format, container_format, properties, min_disk,
                                  min_ram, owner, visibility))

    def upload(self, image_id, fileobj, disk_format=None):
        if disk_format:  # changeable while the image is queued
            self._request("PATCH", f"/v2/images/{image_id}", image_id, json=[
                {"op": "replace", "path": "/disk_format", "value": disk_format}], headers={
                "Content-Type": "application/openstack-images-v2.1-json-patch"})
        self._request("PUT", f"/v2/images/{image_id}/file", image_id,
                      data=iter(lambda: fileobj.read(CHUNK), b""),
                      headers={"Content-Type": "application/octet-stream"})
        return self.get(image_id)

    def delete(self, image_id):
        self.get(image_id)
        self._request("DELETE", f"/v2/images/{image_id}", image_id)
        self._forget(image_id)

    # -------------------------------------------------------------- cache
    def _cache_file(self, image_id):
        return os.path.join(self.conf.glance.cache_path, image_id)

    def _forget(self, image_id):
        try:
            os.unlink(self._cache_file(image_id))
        except FileNotFoundError:
            pass

    def path(self, image_id):
        image = self.get(image_id)
        if image["status"] != "active":
            raise exception.ImageNotFound(image_id=image_id)
        final = self._cache_file(image_id)
        with self._lock:
            lock = self._downloads.setdefault(image_id, threading.Lock())
        with lock:
            if os.path.exists(final) and os.path.getsize(final) == image["size"]:
                return final
            os.makedirs(os.path.dirname(final), exist_ok=True)
            part = f"{final}.{uuidlib.uuid4().hex}.part"
            md5 = hashlib.md5(usedforsecurity=False)
            try:
                resp = self._request("GET", f"/v2/images/{image_id}/file", image_id,
                                     stream=True)
                with open(part, "wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        md5.update(chunk)
                        out.write(chunk)
                if image["checksum"] and md5.hexdigest() != image["checksum"]:
                    raise exception.ImageServiceUnavailable(
                        reason=f"image {image_id}: the downloaded data does not match its "
                               "checksum")
                os.replace(part, final)
            finally:
                if os.path.exists(part):
                    os.unlink(part)
        return final
