"""Console authorisation tokens, kept in the cell database.

A token is 256 random bits handed to the user once (in the console URL);
the ``console_auth_tokens`` table keeps only its SHA-256 with what it opens:
the instance, the console type, and the host and port of the guest's
console. A proxy takes the host and port from that row, never from the
request, so a token reaches that one console and nothing else. A token
lives ``[consoleauth] token_ttl`` seconds and may be used again until then
(a browser reconnects after a page reload, as with Nova); the rows of an
instance go when it is deleted, moved to another host or rebuilt.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
import time

import sqlalchemy as sa

from compute_core import exception
from compute_core.db import cell_schema as t

LOG = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 bits, well over the 128 the threat model asks for


class InvalidToken(exception.ComputeCoreError):
    """A console token that opens nothing: unknown, expired, or for another
    kind of console. The message is the reason, for the proxy's log (never
    the token itself)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(db, instance_uuid: str, console_type: str, host: str, port: int,
           ttl: int, internal_access_path: str | None = None,
           access_url_base: str | None = None, now: float | None = None) -> tuple[str, dict]:
    """Make a token for one console of one instance; returns ``(token,
    record)``, the record being what :func:`validate` will return. Expired
    rows of every instance are dropped in the same transaction, so the table
    holds only live tokens however many are asked for."""
    if not host or not isinstance(port, int) or not 0 < port < 65536:
        raise exception.Invalid(f"console of {instance_uuid} has no usable address "
                                f"({host!r}, port {port!r})")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = time.time() if now is None else now
    row = {"token_hash": hash_token(token), "console_type": console_type, "host": host,
           "port": port, "internal_access_path": internal_access_path,
           "instance_uuid": instance_uuid, "access_url_base": access_url_base,
           "expires": int(now) + int(ttl)}
    with db.begin() as conn:
        conn.execute(t.console_auth_tokens.delete()
                     .where(t.console_auth_tokens.c.expires <= int(now)))
        conn.execute(t.console_auth_tokens.insert().values(created_at=_utcnow(), **row))
    return token, _record(row)


def validate(db, token: str | None, console_types=None, now: float | None = None) -> dict:
    """The record of a live *token*: ``{"instance_uuid", "console_type",
    "host", "port", "internal_access_path", "access_url_base", "expires"}``.
    With *console_types* the token must be for one of them. Raises
    :class:`InvalidToken` with the reason otherwise."""
    if not token:
        raise InvalidToken("no console token in the request")
    if len(token) > 256:
        raise InvalidToken("console token too long")
    with db.connect() as conn:
        row = conn.execute(sa.select(t.console_auth_tokens).where(
            t.console_auth_tokens.c.token_hash == hash_token(token))).first()
    if row is None:
        raise InvalidToken("unknown console token")
    record = _record(row._mapping)
    now = time.time() if now is None else now
    if record["expires"] <= now:
        raise InvalidToken(f"console token of instance {record['instance_uuid']} expired")
    if console_types is not None and record["console_type"] not in console_types:
        raise InvalidToken(f"console token of instance {record['instance_uuid']} is for a "
                           f"{record['console_type']} console, not "
                           f"{' or '.join(console_types)}")
    return record


def delete_for_instance(db_or_conn, instance_uuid: str) -> int:
    """Drop every token of an instance (deleted, moved or rebuilt); returns
    how many there were. Takes a Database or a connection already in a
    transaction (to go with the instance change that causes it)."""
    stmt = t.console_auth_tokens.delete().where(
        t.console_auth_tokens.c.instance_uuid == instance_uuid)
    if isinstance(db_or_conn, sa.engine.Connection):
        count = db_or_conn.execute(stmt).rowcount
    else:
        with db_or_conn.begin() as conn:
            count = conn.execute(stmt).rowcount
    if count:
        LOG.info("dropped %d console token(s) of instance %s", count, instance_uuid)
    return count


def delete_expired(db, now: float | None = None) -> int:
    now = time.time() if now is None else now
    with db.begin() as conn:
        return conn.execute(t.console_auth_tokens.delete()
                            .where(t.console_auth_tokens.c.expires <= int(now))).rowcount


def _record(row) -> dict:
    return {k: row[k] for k in ("instance_uuid", "console_type", "host", "port",
                                "internal_access_path", "access_url_base", "expires")}


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
