"""What every placement handler uses: JSON in and out, the policy check, uuids
in paths and bodies, cache headers, and the marks the app reads off a handler
(:func:`since` for the first microversion, :func:`takes_json` for the 415).
"""
from __future__ import annotations

import datetime
import functools
import json
import re
import uuid as uuidlib

import webob

from compute_core import wsgi
from compute_core.placement import policy
from compute_core.placement.exception import BadRequest, NotFound, PlacementError, ProviderNotFound
from compute_core.placement.objects import resource_provider as rp_obj
from compute_core.placement.schemas import validator

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
RC_RE = re.compile(r"^[A-Z0-9_]+$")


def json_response(data, status=200, headers=None):
    resp = webob.Response(status=status, content_type="application/json", charset="utf-8")
    resp.body = json.dumps(data, allow_nan=False).encode()
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def no_content():
    resp = webob.Response(status=204)
    resp.content_type = None
    return resp


def check_policy(req, state, action, target=None):
    """403 unless the request's context may do *action* (placement.policy)."""
    ctx = req.environ.get(wsgi.CONTEXT_KEY)
    try:
        if ctx is None:
            raise policy.PolicyNotAuthorized(action)
        policy.authorize(state.policy, ctx, action, target)
    except policy.PolicyNotAuthorized as exc:
        raise Forbidden(str(exc)) from None


class Forbidden(PlacementError):
    status = 403
    vary = False  # openstack-placement's dispatcher answers it


def json_body(req, schema):
    if req.content_type != "application/json":
        e = PlacementError("The media type None is not supported, use application/json"
                           if not req.content_type else
                           f"The media type {req.content_type} is not supported, use "
                           "application/json")
        e.status = 415
        raise e
    try:
        data = wsgi.json_body(req)
    except wsgi.BadJSON as exc:
        if exc.field:
            raise BadRequest(f"JSON does not validate: {exc.reason} (at {exc.field})") \
                from None
        # an empty body: the words of Python's parser, as Placement's 400 has them
        reason = exc.reason if req.body else _EMPTY_JSON
        raise BadRequest(f"Malformed JSON: {reason}") from None
    error = validator.first_error(data, schema, validator.BODY_FORMATS)
    if error is not None:
        raise BadRequest(f"JSON does not validate: {error}")
    return data


def _parser_says(text):
    try:
        json.loads(text)
    except ValueError as exc:
        return str(exc)
    return None


_EMPTY_JSON = _parser_says("")


def body_uuid(value, what="uuid"):
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise BadRequest(f"Malformed {what}: {value!r} is not a valid UUID.")
    return str(uuidlib.UUID(value))


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def path_uuid(value):
    # Placement looks the path's uuid up exactly as written: any other
    # spelling than the stored one (hyphenless, upper case) names nothing.
    if not _CANONICAL_UUID.match(value or ""):
        raise ProviderNotFound(f"No resource provider with uuid {value} found")
    return value


def existing_provider(state, value):
    """The path's provider uuid, 404 unless it exists: Placement looks the
    provider up before it reads the body."""
    rp = path_uuid(value)
    rp_obj.get_provider(state.db, rp)
    return rp


def reworded_not_found(fmt):
    """A provider's 404 worded as the handler of openstack-placement words
    it (*fmt* with {uuid} and {detail}), answered by the handler (Vary)."""
    def wrap(fn):
        @functools.wraps(fn)
        def handler(req, state, version, uuid, **kw):
            try:
                return fn(req, state, version, uuid, **kw)
            except ProviderNotFound as exc:
                raise NotFound(fmt.format(uuid=uuid, detail=exc.detail)) from None
        return handler
    return wrap


def link(req, path):
    return req.script_name + path


def takes_json(fn=None, *, until=None):
    """Mark a handler that reads a JSON body: any other Content-Type is a
    415 before anything else is checked (before *until*, if given)."""
    def mark(f):
        f.takes_json = (lambda v: True) if until is None else (lambda v: v < until)
        return f
    return mark(fn) if fn is not None else mark


def cached(resp, version, last_modified=True):
    """Placement's cache headers on a write's answer (1.15 and later)."""
    if version >= (1, 15):
        resp.cache_control = "no-cache"
        if last_modified:
            resp.last_modified = datetime.datetime.now(datetime.timezone.utc)
    return resp


def since(version, older_status=404):
    """Mark a handler as served from microversion *version*: older gets
    *older_status* (404 for a new resource, 405 for a new method)."""
    def mark(fn):
        fn.min_version = version
        fn.older_status = older_status
        return fn
    return mark
