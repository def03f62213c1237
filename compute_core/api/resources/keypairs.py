"""/os-keypairs: a user's key pairs (create or import, list, show, delete).

Key pairs belong to a user; from 2.10 an administrator names another user
with ``user_id``. Types ``ssh`` and ``x509`` from 2.2; from 2.92 a key must
be imported (no more generated private keys). Pages (limit, marker) from
2.35. The ``key_pairs`` quota counts a user's pairs.
"""
from __future__ import annotations

from urllib.parse import urlencode

from compute_core import exception, keypairs
from compute_core.api import policy, query, schemas, views
from compute_core.api.faults import APIError
from compute_core.api.microversion import VersionedSchemas, VersionRange
from compute_core.api.quota import Quota
from compute_core.apispec import keyed, operation
from compute_core.db import keypairs as keypairs_db

_OWNER = f"({policy.ADMIN}) or user_id:%(user_id)s"  # Nova's default
RULES = tuple(
    policy.rule(f"os_compute_api:os-keypairs:{name}", _OWNER, summary, ops)
    for name, summary, ops in (
        ("index", "List the key pairs of a user", [("GET", "/os-keypairs")]),
        ("create", "Create or import a key pair", [("POST", "/os-keypairs")]),
        ("show", "Show a key pair", [("GET", "/os-keypairs/{keypair_name}")]),
        ("delete", "Delete a key pair", [("DELETE", "/os-keypairs/{keypair_name}")]),
    ))

# ----------------------------------------------------------------- schemas

_NAME = {"allOf": [schemas.NAME, {"type": "string", "pattern": r"^[_\- a-zA-Z0-9]+$"}]}
_NAME_292 = {"allOf": [schemas.NAME, {"type": "string", "pattern": r"^[_\-@. a-zA-Z0-9]+$"}]}


def _create_schema(name, with_type=False, with_user=False, key_required=False):
    props = {"name": name, "public_key": {"type": "string"}}
    if with_type:
        props["type"] = {"type": "string", "enum": list(keypairs.KEY_TYPES)}
    if with_user:
        props["user_id"] = {"type": "string"}
    inner = {"type": "object", "properties": props,
             "required": ["name", "public_key"] if key_required else ["name"],
             "additionalProperties": False}
    return {"type": "object", "properties": {"keypair": inner}, "required": ["keypair"],
            "additionalProperties": False}


CREATE = VersionedSchemas(
    ("2.1", "2.1", _create_schema(_NAME)),
    ("2.2", "2.9", _create_schema(_NAME, with_type=True)),
    ("2.10", "2.91", _create_schema(_NAME, with_type=True, with_user=True)),
    ("2.92", None, _create_schema(_NAME_292, with_type=True, with_user=True,
                                  key_required=True)),
)

_PAGES = {"limit": {"type": "integer", "minimum": 0}, "marker": {"type": "string"}}
LIST_QUERY = VersionedSchemas(
    ("2.1", "2.9", {}),
    ("2.10", "2.34", {"user_id": {"type": "string"}}),
    ("2.35", None, {"user_id": {"type": "string"}, **_PAGES}),
)
_ONE_QUERY = VersionedSchemas(("2.1", "2.9", {}), ("2.10", None, {"user_id": {"type": "string"}}))

WITH_TYPE = VersionRange("2.2")
OTHER_USERS = VersionRange("2.10")
PAGES = VersionRange("2.35")
CREATED = VersionRange("2.2")  # 201 (and 204 on delete) from 2.2; 200 / 202 before


# ------------------------------------------------------------------- views

def _brief(call, kp, with_user=False):
    out = {"name": kp["name"], "public_key": kp["public_key"],
           "fingerprint": kp["fingerprint"]}
    if with_user:
        out["user_id"] = kp["user_id"]
    if call.version in WITH_TYPE:
        out["type"] = kp["type"]
    return out


def _detail(call, kp):
    out = _brief(call, kp, with_user=True)
    out.update(id=kp["id"], created_at=views.iso_usec(kp["created_at"]),
               updated_at=views.iso_usec(kp.get("updated_at")),
               deleted=False, deleted_at=None)
    return out


# ---------------------------------------------------------------- handlers

def _user(call, rule, allowed_query) -> str:
    """The user whose pairs are meant: ?user_id= from 2.10 (policy decides
    whether the caller may name another user), else the caller."""
    query.refuse_unknown(call, allowed_query)
    user_id = call.ctx.user_id
    if call.version in OTHER_USERS and call.req.GET.get("user_id"):
        user_id = call.req.GET["user_id"]
    call.authorize(rule, {"user_id": user_id, "project_id": call.ctx.project_id})
    return user_id


@operation("listKeypairs", "List the key pairs of a user", ok={200: keyed("keypairs")},
           errors=(400, 403), query=LIST_QUERY)
def index(call):
    user_id = _user(call, "os_compute_api:os-keypairs:index", LIST_QUERY.at(call.version))
    limit = marker = None
    if call.version in PAGES:
        limit = query.page_limit(call)
        marker = call.req.GET.get("marker")
    try:
        pairs = keypairs_db.list_for_user(call.services.api_db, user_id, limit=limit,
                                          marker=marker)
    except exception.KeypairNotFound:
        raise APIError(400, f"Marker {marker} could not be found.") from None
    body = {"keypairs": [{"keypair": _brief(call, kp)} for kp in pairs]}
    if call.version in PAGES and pairs and limit and len(pairs) == limit:
        qs = dict(call.req.GET)
        qs.update(limit=str(limit), marker=pairs[-1]["name"])
        body["keypairs_links"] = [{"rel": "next", "href": f"{call.req.application_url}/"
                                   f"os-keypairs?{urlencode(qs)}"}]
    return 200, body


@operation("createKeypair", "Create (generate) or import a key pair",
           ok={200: keyed("keypair"), 201: keyed("keypair")}, errors=(400, 403, 409),
           body=CREATE,
           links={"GetKeypair": ("showKeypair",
                                 {"keypair_name": "$response.body#/keypair/name"})})
def create(call):
    body = call.json()
    schemas.validate(body, CREATE.at(call.version))
    fields = body["keypair"]
    user_id = call.ctx.user_id
    if call.version in OTHER_USERS and fields.get("user_id"):
        user_id = fields["user_id"]
    call.authorize("os_compute_api:os-keypairs:create",
                   {"user_id": user_id, "project_id": call.ctx.project_id})
    key_type = fields.get("type", "ssh")
    name = fields["name"]
    limit = Quota(call.services).limits(call.ctx.project_id)["key_pairs"]
    db = call.services.api_db
    if limit >= 0 and keypairs_db.count(db, user_id) >= limit:
        raise APIError(403, "Quota exceeded, too many key pairs.")
    private = None
    try:
        if fields.get("public_key") is not None:
            public = fields["public_key"]
            fingerprint = keypairs.fingerprint(public, key_type)
        else:
            if key_type != "ssh":
                raise APIError(400, "Keypair data is invalid: only ssh keys can be generated")
            private, public, fingerprint = keypairs.generate(name, user_id)
        kp = keypairs_db.create(db, user_id, name, public, fingerprint, key_type)
    except keypairs.InvalidKey as exc:
        raise APIError(400, exc.message) from None
    except keypairs_db.KeypairExists as exc:
        raise APIError(409, exc.message) from None
    out = _brief(call, kp, with_user=True)
    if private is not None:
        out["private_key"] = private
    return (201 if call.version in CREATED else 200), {"keypair": out}


def _get(call, rule, name):
    user_id = _user(call, rule, _ONE_QUERY.at(call.version))
    try:
        return keypairs_db.get(call.services.api_db, user_id, name)
    except exception.KeypairNotFound as exc:
        raise APIError(404, exc.message) from None


@operation("showKeypair", "Show a key pair", ok={200: keyed("keypair")}, errors=(403, 404),
           query=_ONE_QUERY)
def show(call, keypair_name):
    return 200, {"keypair": _detail(call, _get(call, "os_compute_api:os-keypairs:show",
                                               keypair_name))}


@operation("deleteKeypair", "Delete a key pair", ok={202: None, 204: None},
           errors=(403, 404), query=_ONE_QUERY)
def delete(call, keypair_name):
    kp = _get(call, "os_compute_api:os-keypairs:delete", keypair_name)
    try:
        keypairs_db.delete(call.services.api_db, kp["user_id"], kp["name"])
    except exception.KeypairNotFound as exc:
        raise APIError(404, exc.message) from None
    return (204 if call.version in CREATED else 202), None


ROUTES = {
    "/os-keypairs": {"GET": index, "POST": create},
    "/os-keypairs/{keypair_name}": {"GET": show, "DELETE": delete},
}
