"""PUT and GET /v2/images/{id}/file: image data, streamed both ways.

An upload is written to a part file while its md5 (``checksum``) and
sha512 (``os_hash_value``) are computed, then renamed into place: the
image goes queued -> saving -> active. Too large (over ``[image]
image_size_cap`` or the project's ``user_storage_quota``): 413 and the
image is queued again; a ``Content-MD5`` header that does not match: 400,
queued again; a body shorter than announced, or a client gone
before the end of its body (the HTTP server still hands such a request to
this app): 400 and the image is ``killed``. None of them leaves data
behind.
"""
from __future__ import annotations

import base64
import binascii
import os

import webob
from webob.static import FileIter

from compute_core import httpserver
from compute_core.image.service import store as st
from compute_core.image.service.handlers import (check_owner, context, empty, image_or_404,
                                                 services)
from compute_core.image.service.store import ImageError


class _DataIter(FileIter):
    """A file's data in 1 MiB blocks (webob's 64 KiB cost more turns of the
    server's loop per byte), whole or a range."""

    def app_iter_range(self, seek=None, limit=None, block_size=None):
        return super().app_iter_range(seek, limit, block_size or st.CHUNK)

    __iter__ = app_iter_range


def _expected_md5(req) -> str | None:
    header = req.headers.get("Content-MD5")
    if header is None:
        return None
    try:
        raw = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 16:
        return raw.hex()
    if len(header) == 32 and all(c in "0123456789abcdefABCDEF" for c in header):
        return header.lower()
    raise ImageError(400, "Content-MD5: expected the base64 (or hex) MD5 digest of the "
                          "body.")


def upload(req, image_id):
    svc = services(req)
    image = image_or_404(req, image_id)
    check_owner(req, image, "upload data to")
    if req.content_type != "application/octet-stream":
        raise ImageError(415, f"Unsupported Content-Type '{req.content_type}': image data "
                              "is application/octet-stream.")
    if image["status"] != "queued":
        raise ImageError(409, f"Image status transition from {image['status']} to saving "
                              "is not allowed")
    missing = [k for k in ("disk_format", "container_format") if not image[k]]
    if missing:
        raise ImageError(400, f"Properties {', '.join(missing)} must be set prior to saving "
                              "data.")
    expected_md5 = _expected_md5(req)
    length = req.content_length
    if length is None and not req.environ.get("wsgi.input_terminated"):
        raise ImageError(411, "A Content-Length or a chunked body is required.")
    cap = svc.conf.image.image_size_cap
    room = svc.store.room(image["owner"])
    if room is not None and room < cap:
        limit, why = room, (f"Denying attempt to upload image because it exceeds the quota: "
                            f"the project may store {room} more bytes.")
    else:
        limit, why = cap, f"Image exceeds the size limit of {cap} bytes."
    if length is not None and length > limit:
        raise ImageError(413, why)
    if svc.store.update(image_id, {"status": "saving"}, expect_status={"queued"}) is None:
        raise ImageError(409, f"Image {image_id} is not queued any more (another upload?).")
    try:
        size, md5, sha512 = svc.store.write(image_id, req.environ["wsgi.input"], length,
                                            limit, why)
        if req.environ.get(httpserver.TRUNCATED):
            # A chunked body whose client went away: it ended, but not at
            # its end.
            svc.store.discard(image_id)
            raise st.Truncated(size, length)
    except st.Truncated:
        svc.store.update(image_id, {"status": "killed"}, expect_status={"saving"})
        raise
    except BaseException:
        svc.store.update(image_id, {"status": "queued"}, expect_status={"saving"})
        raise
    if expected_md5 is not None and md5 != expected_md5:
        svc.store.discard(image_id)
        svc.store.update(image_id, {"status": "queued"}, expect_status={"saving"})
        raise ImageError(400, f"Checksum verification failed: the data's MD5 is {md5}, "
                              f"Content-MD5 said {expected_md5}.")
    if svc.store.finish_upload(image_id, size, md5, sha512) is None:
        raise ImageError(409, f"Image {image_id} was deleted during the upload.")
    return empty()


def download(req, image_id):
    ctx = context(req)
    svc = services(req)
    image = image_or_404(req, image_id)
    if image["status"] == "deactivated" and not ctx.is_admin:
        raise ImageError(403, "The requested image has been deactivated. Image data "
                              "download is forbidden.")
    path = svc.store.data_path(image_id)
    if image["status"] not in ("active", "deactivated") or not os.path.exists(path):
        return empty()  # no data (yet): Glance's 204
    try:
        handle = open(path, "rb")
    except FileNotFoundError:  # deleted meanwhile
        return empty()
    size = os.fstat(handle.fileno()).st_size
    resp = webob.Response(content_type="application/octet-stream",
                          app_iter=_DataIter(handle), conditional_response=True)
    resp.content_length = size
    resp.headers["Accept-Ranges"] = "bytes"
    if image["checksum"]:
        resp.headers["Content-MD5"] = image["checksum"]
    return resp
