"""/v2/images/{id}/members[/{member_id}]: the projects a shared image is
shared with. The owner adds and removes members; a member accepts or
rejects (and only then sees the image in its default list)."""
from __future__ import annotations

from compute_core.image.service import store as st
from compute_core.image.service.handlers import (body, check_owner, context, empty,
                                                 image_or_404, isotime, json_response,
                                                 services)
from compute_core.image.service.store import ImageError


def _view(member):
    return {"image_id": member["image_id"], "member_id": member["member_id"],
            "status": member["status"], "created_at": isotime(member["created_at"]),
            "updated_at": isotime(member["updated_at"]), "schema": "/v2/schemas/member"}


def _is_owner(ctx, image):
    return ctx.is_admin or image["owner"] == ctx.project_id


def list_members(req, image_id):
    ctx = context(req)
    image = image_or_404(req, image_id)
    store = services(req).store
    found = store.members(image_id)
    if not _is_owner(ctx, image):  # a member sees itself only
        found = [m for m in found if m["member_id"] == ctx.project_id]
    return json_response({"members": [_view(m) for m in found],
                          "schema": "/v2/schemas/members"})


def _shared(image):
    if image["visibility"] != "shared":
        raise ImageError(403, f"Only shared images have members (image {image['id']} is "
                              f"{image['visibility']}).")


def add_member(req, image_id):
    image = image_or_404(req, image_id)
    check_owner(req, image, "share")
    _shared(image)
    doc = body(req)
    member = doc.get("member")
    if not isinstance(member, str) or not member or len(member) > 255:
        raise ImageError(400, "member: a project id (a non-empty string of at most 255 "
                              "characters) is required.")
    return json_response(_view(services(req).store.add_member(image_id, member)))


def _member_or_404(req, image, member_id):
    ctx = context(req)
    if not _is_owner(ctx, image) and member_id != ctx.project_id:
        raise ImageError(404, f"Member {member_id} not found for image {image['id']}.")
    member = services(req).store.member(image["id"], member_id)
    if member is None:
        raise ImageError(404, f"Member {member_id} not found for image {image['id']}.")
    return member


def show_member(req, image_id, member_id):
    image = image_or_404(req, image_id)
    return json_response(_view(_member_or_404(req, image, member_id)))


def update_member(req, image_id, member_id):
    ctx = context(req)
    image = image_or_404(req, image_id)
    _member_or_404(req, image, member_id)
    if member_id != ctx.project_id and not ctx.is_admin:
        raise ImageError(403, "Only the member itself accepts or rejects a shared image.")
    doc = body(req)
    status = doc.get("status")
    if status not in st.MEMBER_STATUSES:
        raise ImageError(400, f"status: must be one of {', '.join(st.MEMBER_STATUSES)} "
                              f"(not {status!r}).")
    member = services(req).store.set_member_status(image_id, member_id, status)
    if member is None:
        raise ImageError(404, f"Member {member_id} not found for image {image_id}.")
    return json_response(_view(member))


def delete_member(req, image_id, member_id):
    image = image_or_404(req, image_id)
    check_owner(req, image, "unshare")
    _member_or_404(req, image, member_id)
    if not services(req).store.delete_member(image_id, member_id):
        raise ImageError(404, f"Member {member_id} not found for image {image_id}.")
    return empty()
