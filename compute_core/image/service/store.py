"""The image service's object layer: image records in the API database
(``images``, ``image_members``, ``image_tags``) and image data in the store
directory (``[image] images_path``, one file per image, named by its id).

Handlers never touch SQL or files; the ``local`` image backend the compute
services use reads and writes through this same module, so both see one
set of images.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.db import api_schema as t

CHUNK = 1 << 20
HASH_ALGO = "sha512"
STATUSES = ("queued", "saving", "active", "killed", "deleted", "deactivated",
            "uploading", "importing", "pending_delete")
VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
# Core attributes: everything else an image carries is a property.
CORE = ("id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
        "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_disk",
        "min_ram", "disk_format", "container_format", "created_at", "updated_at", "tags")


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class ImageError(Exception):
    """A refusal the API turns into an HTTP status (Glance's codes)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class NotFound(ImageError):
    def __init__(self, image_id):
        super().__init__(404, f"No image found with ID {image_id}")


class TooLarge(ImageError):
    def __init__(self, message):
        super().__init__(413, message)


class Truncated(ImageError):
    def __init__(self, got, expected=None):
        if expected is None:
            super().__init__(400, f"The image data was truncated: the client went away "
                                  f"after {got} bytes.")
        else:
            super().__init__(400, f"The image data was truncated: {got} of {expected} "
                                  "bytes arrived.")


# Built once: the boot path reads an image per request, with its tags in
# the same statement (one row per tag, one with _tag NULL when it has none).
_GET = (sa.select(t.images, t.image_tags.c.value.label("_tag"))
        .select_from(t.images.outerjoin(t.image_tags,
                                        t.image_tags.c.image_uuid == t.images.c.uuid))
        .where(t.images.c.uuid == sa.bindparam("b_uuid")))


def _image(row, tags=()) -> dict:
    d = dict(row._mapping)
    d["id"] = d.pop("uuid")
    d.pop("location", None)
    d["properties"] = dict(d.get("properties") or {})
    d["tags"] = sorted(tags)
    return d


class ImageStore:
    """Images of one API database and one store directory."""

    def __init__(self, conf, db):
        self.conf = conf
        self.db = db
        self.root = conf.image.images_path

    # ---------------------------------------------------------- records
    def data_path(self, image_id: str) -> str:
        return os.path.join(self.root, image_id)

    def _tags(self, conn, ids) -> dict:
        out = {i: [] for i in ids}
        if ids:
            for image_uuid, value in conn.execute(
                    sa.select(t.image_tags.c.image_uuid, t.image_tags.c.value)
                    .where(t.image_tags.c.image_uuid.in_(list(ids)))):
                out[image_uuid].append(value)
        return out

    def get(self, image_id: str) -> dict:
        with self.db.connect() as conn:
            rows = conn.execute(_GET, {"b_uuid": image_id}).all()
        if not rows:
            raise NotFound(image_id)
        image = _image(rows[0], [r._tag for r in rows if r._tag is not None])
        del image["_tag"]
        return image

    def all(self) -> list[dict]:
        """Every image, oldest first (the local backend's list)."""
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t.images).order_by(t.images.c.created_at,
                                                             t.images.c.id)).all()
            tags = self._tags(conn, [r.uuid for r in rows])
        return [_image(r, tags[r.uuid]) for r in rows]

    def create(self, values: dict, tags=()) -> dict:
        values = dict(values)
        image_id = values.pop("id", None) or str(uuidlib.uuid4())
        stamp = now()
        values.setdefault("status", "queued")
        values.setdefault("visibility", "shared")
        values.setdefault("min_disk", 0)
        values.setdefault("min_ram", 0)
        values.setdefault("properties", {})
        try:
            with self.db.begin() as conn:
                conn.execute(t.images.insert().values(uuid=image_id, created_at=stamp,
                                                      updated_at=stamp, **values))
                for tag in set(tags):
                    conn.execute(t.image_tags.insert().values(image_uuid=image_id, value=tag,
                                                              created_at=stamp))
        except db_exc.DBDuplicateEntry:
            raise ImageError(409, f"Image with identifier {image_id} already exists!") from None
        return self.get(image_id)

    def update(self, image_id: str, values: dict, tags=None, expect_status=None) -> dict:
        """Change columns (and replace the tags when given). With
        *expect_status* (a set), only while the image is in one of them:
        False-y result (None) otherwise."""
        with self.db.begin() as conn:
            query = t.images.update().where(t.images.c.uuid == image_id)
            if expect_status is not None:
                query = query.where(t.images.c.status.in_(list(expect_status)))
            changed = conn.execute(query.values(updated_at=now(), **values)).rowcount
            if not changed:
                return None
            if tags is not None:
                conn.execute(t.image_tags.delete().where(t.image_tags.c.image_uuid == image_id))
                stamp = now()
                for tag in set(tags):
                    conn.execute(t.image_tags.insert().values(image_uuid=image_id, value=tag,
                                                              created_at=stamp))
        return self.get(image_id)

    def delete(self, image_id: str) -> None:
        """Forget the image and remove its data (an upload in progress
        finds its record gone and removes what it wrote)."""
        with self.db.begin() as conn:
            conn.execute(t.image_members.delete().where(t.image_members.c.image_uuid == image_id))
            conn.execute(t.image_tags.delete().where(t.image_tags.c.image_uuid == image_id))
            gone = conn.execute(t.images.delete().where(t.images.c.uuid == image_id)).rowcount
        if not gone:
            raise NotFound(image_id)
        self._unlink(self.data_path(image_id))

    @staticmethod
    def _unlink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------- tags
    def add_tag(self, image_id: str, tag: str) -> None:
        try:
            with self.db.begin() as conn:
                conn.execute(t.image_tags.insert().values(image_uuid=image_id, value=tag,
                                                          created_at=now()))
        except db_exc.DBDuplicateEntry:
            pass  # adding a tag twice is a success, as in Glance

    def delete_tag(self, image_id: str, tag: str) -> bool:
        with self.db.begin() as conn:
            return bool(conn.execute(t.image_tags.delete().where(
                t.image_tags.c.image_uuid == image_id, t.image_tags.c.value == tag)).rowcount)

    # ---------------------------------------------------------- members
    @staticmethod
    def _member(row) -> dict:
        return {"image_id": row.image_uuid, "member_id": row.member, "status": row.status,
                "created_at": row.created_at, "updated_at": row.updated_at}

    def members(self, image_id: str) -> list[dict]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(t.image_members)
                                .where(t.image_members.c.image_uuid == image_id)
                                .order_by(t.image_members.c.id))
            return [self._member(r) for r in rows]

    def member(self, image_id: str, member: str) -> dict | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(t.image_members).where(
                t.image_members.c.image_uuid == image_id,
                t.image_members.c.member == member)).first()
        return None if row is None else self._member(row)

    def add_member(self, image_id: str, member: str) -> dict:
        stamp = now()
        try:
            with self.db.begin() as conn:
                conn.execute(t.image_members.insert().values(
                    image_uuid=image_id, member=member, status="pending", created_at=stamp,
                    updated_at=stamp))
        except db_exc.DBDuplicateEntry:
            raise ImageError(409, f"Member {member} already exists for image "
                                  f"{image_id}.") from None
        return self.member(image_id, member)

    def set_member_status(self, image_id: str, member: str, status: str) -> dict | None:
        with self.db.begin() as conn:
            changed = conn.execute(t.image_members.update().where(
                t.image_members.c.image_uuid == image_id,
                t.image_members.c.member == member).values(status=status,
                                                           updated_at=now())).rowcount
        return self.member(image_id, member) if changed else None

    def delete_member(self, image_id: str, member: str) -> bool:
        with self.db.begin() as conn:
            return bool(conn.execute(t.image_members.delete().where(
                t.image_members.c.image_uuid == image_id,
                t.image_members.c.member == member)).rowcount)

    # ------------------------------------------------------- visibility
    def visible(self, ctx, image: dict) -> bool:
        """May *ctx* see *image* (show, download, its tags)?"""
        if ctx.is_admin or image["visibility"] in ("public", "community"):
            return True
        if image["owner"] == ctx.project_id:
            return True
        return (image["visibility"] == "shared"
                and self.member(image["id"], ctx.project_id) is not None)

    def query(self, ctx, visibility=None, member_status="accepted", filters=None,
              hidden=False) -> list[dict]:
        """The images *ctx* may list, narrowed by column *filters*
        (``{column: [(op, value), ...]}``) in SQL; tags and properties are
        the caller's to filter."""
        c = t.images.c
        q = sa.select(t.images)
        me = ctx.project_id
        mine = c.owner == me
        member_of = sa.select(t.image_members.c.image_uuid).where(
            t.image_members.c.member == me)
        if member_status != "all":
            member_of = member_of.where(t.image_members.c.status == member_status)
        shared_to_me = sa.and_(c.visibility == "shared", c.uuid.in_(member_of))
        if visibility is None:
            if not ctx.is_admin:
                q = q.where(sa.or_(c.visibility == "public", mine, shared_to_me))
        elif visibility == "all":
            if not ctx.is_admin:
                q = q.where(sa.or_(c.visibility.in_(("public", "community")), mine,
                                   shared_to_me))
        else:
            q = q.where(c.visibility == visibility)
            if visibility == "shared" and not ctx.is_admin:
                q = q.where(sa.or_(mine, shared_to_me))
            elif visibility == "private" and not ctx.is_admin:
                q = q.where(mine)
        if hidden is not None:
            q = q.where(c.os_hidden == hidden)
        ops = {"eq": lambda col, v: col == v, "neq": lambda col, v: col != v,
               "gt": lambda col, v: col > v, "gte": lambda col, v: col >= v,
               "lt": lambda col, v: col < v, "lte": lambda col, v: col <= v,
               "in": lambda col, v: col.in_(v)}
        for column, conditions in (filters or {}).items():
            col = c.uuid if column == "id" else c[column]
            for op, value in conditions:
                q = q.where(ops[op](col, value))
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
            tags = self._tags(conn, [r.uuid for r in rows])
        return [_image(r, tags[r.uuid]) for r in rows]

    # ------------------------------------------------------------ quota
    def usage(self, owner: str) -> int:
        """Bytes of image data *owner* holds in the store."""
        with self.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(t.images.c.size), 0))
                                    .where(t.images.c.owner == owner)).scalar())

    def room(self, owner: str | None) -> int | None:
        """Bytes *owner* may still upload under ``[image]
        user_storage_quota``; None: no quota."""
        quota = self.conf.image.user_storage_quota
        if quota <= 0 or owner is None:
            return None
        return max(0, quota - self.usage(owner))

    # ------------------------------------------------------------- data
    def write(self, image_id: str, stream, length: int | None, limit: int, too_large: str):
        """Copy *stream* into the store as *image_id*'s data, hashing on
        the way. *length*: the bytes announced (None: to the end of the
        stream). Over *limit* bytes: TooLarge(*too_large*); fewer than
        *length*: Truncated. Returns (size, md5, sha512); on any failure
        nothing is left in the store."""
        os.makedirs(self.root, exist_ok=True)
        final = self.data_path(image_id)
        part = f"{final}.{uuidlib.uuid4().hex}.part"
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha512()
        size = 0
        # sha512 runs in a thread beside md5 and the write (hashlib lets go
        # of the GIL on large buffers): the two hashes cost one pass of time.
        pool = ThreadPoolExecutor(1, thread_name_prefix="image-hash")
        pending = None
        try:
            with open(part, "wb") as out:
                while length is None or size < length:
                    want = CHUNK if length is None else min(CHUNK, length - size)
                    try:
                        chunk = stream.read(want)
                    except OSError:  # the client went away (mod_wsgi)
                        chunk = b""
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(too_large)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(sha.update, chunk)
                    md5.update(chunk)
                    out.write(chunk)
            if pending is not None:
                pending.result()
            if length is not None and size < length:
                raise Truncated(size, length)
            os.replace(part, final)
        except BaseException:
            self._unlink(part)
            raise
        finally:
            pool.shutdown(wait=True)
        return size, md5.hexdigest(), sha.hexdigest()

    def discard(self, image_id: str) -> None:
        self._unlink(self.data_path(image_id))

    def finish_upload(self, image_id, size, md5, sha512, status="active"):
        """saving -> *status* with the data's size and hashes; False (the
        data removed) when the image was deleted or changed meanwhile."""
        image = self.update(image_id, {"status": status, "size": size, "checksum": md5,
                                       "os_hash_algo": HASH_ALGO, "os_hash_value": sha512,
                                       "location": self.data_path(image_id)},
                            expect_status={"saving"})
        if image is None:
            self.discard(image_id)
        return image
