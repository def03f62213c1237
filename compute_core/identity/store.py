"""The identity object layer: users, projects, roles, application
credentials and tokens in the identity database. Handlers call this; they
never touch a session.

Tokens are random strings; the database keeps only their SHA-256, their
scope, roles and expiry, so they outlive a restart of the cloud and a
leaked database file holds no usable token. Passwords and application
credential secrets are kept as salted PBKDF2 hashes.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from typing import NamedTuple

import sqlalchemy as sa

from compute_core import clock, exception
from compute_core.identity import schema

DOMAIN = {"id": "default", "name": "Default"}
REGION = "RegionOne"
INTERFACES = ("public", "internal", "admin")
# Keystone's names of the services whose endpoints the catalog lists.
SERVICE_NAMES = {"compute": "nova", "placement": "placement", "identity": "keystone",
                 "image": "glance"}
_PBKDF2_ROUNDS = 20000


class UserSpec(NamedTuple):
    """A declared user: its password, its project and its roles there
    (``system`` as project: the roles are on the system)."""
    name: str
    password: str
    project: str
    roles: tuple


def parse_user_spec(text: str) -> UserSpec:
    """``NAME:PASSWORD:PROJECT:ROLE[,ROLE...]`` (the [identity] users form)."""
    parts = text.split(":")
    if len(parts) != 4 or not all(p.strip() for p in parts):
        raise exception.ConfigError(
            f"[identity] users: {text!r} is not NAME:PASSWORD:PROJECT:ROLE[,ROLE...]")
    name, password, project, roles = (p.strip() for p in parts)
    return UserSpec(name, password, project,
                    tuple(r.strip() for r in roles.split(",") if r.strip()))


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2-sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        _, rounds, salt, digest = stored.split("$")
        mine = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(rounds))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(mine.hex(), digest)


def _token_key(token_id: str) -> str:
    return hashlib.sha256(token_id.encode("utf-8", "surrogatepass")).hexdigest()


def isotime(ts: float) -> str:
    """Keystone's timestamp form: 2026-12-04T15:00:00.000000Z."""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _new_id() -> str:
    return uuid.uuid4().hex


class Token(NamedTuple):
    id: str  # the token itself (only known when issued)
    user_id: str
    project_id: str | None
    system: bool
    methods: list
    role_ids: list
    application_credential_id: str | None
    audit_id: str
    issued_at: float
    expires_at: float


class IdentityServices:
    """What the identity handlers reach through the environ: the database,
    the token lifetime and the endpoints of the catalog (set by the cloud
    as each API starts listening)."""

    def __init__(self, conf, db, token_expiration: int = 3600):
        self.conf = conf
        self.db = db
        self.token_expiration = token_expiration
        self._endpoints: dict[str, str] = {}
        self._lock = threading.Lock()
        schema.metadata.create_all(db.engine)

    def close(self):
        self.db.dispose()

    # ----------------------------------------------------------- catalog
    def set_endpoint(self, service_type: str, url: str) -> None:
        with self._lock:
            self._endpoints[service_type] = url.rstrip("/")

    def catalog(self) -> list:
        with self._lock:
            endpoints = dict(self._endpoints)
        catalog = []
        for stype, url in sorted(endpoints.items()):
            service_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{stype}").hex
            catalog.append({
                "id": service_id, "type": stype, "name": SERVICE_NAMES.get(stype, stype),
                "endpoints": [{"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{stype}/{iface}").hex,
                               "interface": iface, "region": REGION, "region_id": REGION,
                               "url": url} for iface in INTERFACES]})
        return catalog

    # ------------------------------------------------------- declaration
    def declare_users(self, specs) -> None:
        """Create or update the declared users, their projects, roles and
        role assignments (the passwords given win over stored ones)."""
        with self.db.begin() as conn:
            for spec in specs:
                project_id = None
                if spec.project != "system":
                    project_id = self._ensure(conn, schema.projects, spec.project)
                row = conn.execute(sa.select(schema.users.c.id)
                                   .where(schema.users.c.name == spec.name)).first()
                pw = hash_secret(spec.password)
                if row is None:
                    user_id = _new_id()
                    conn.execute(schema.users.insert().values(
                        id=user_id, name=spec.name, password_hash=pw,
                        default_project_id=project_id, enabled=True))
                else:
                    user_id = row.id
                    conn.execute(schema.users.update().where(schema.users.c.id == user_id)
                                 .values(password_hash=pw, enabled=True))
                for role in spec.roles:
                    role_id = self._ensure(conn, schema.roles, role)
                    exists = conn.execute(sa.select(schema.assignments.c.role_id).where(
                        schema.assignments.c.user_id == user_id,
                        schema.assignments.c.project_id.is_(None) if project_id is None
                        else schema.assignments.c.project_id == project_id,
                        schema.assignments.c.role_id == role_id)).first()
                    if exists is None:
                        conn.execute(schema.assignments.insert().values(
                            user_id=user_id, project_id=project_id, role_id=role_id))
            # Tokens nobody can use any more.
            conn.execute(schema.tokens.delete().where(
                schema.tokens.c.expires_at < clock.current().time() - 86400))

    @staticmethod
    def _ensure(conn, table, name) -> str:
        row = conn.execute(sa.select(table.c.id).where(table.c.name == name)).first()
        if row is not None:
            return row.id
        new_id = _new_id()
        values = {"id": new_id, "name": name}
        if table is schema.projects:
            values.update(description="", enabled=True)
        conn.execute(table.insert().values(**values))
        return new_id

    # ----------------------------------------------------------- reading
    def _one(self, table, id=None, name=None):
        query = sa.select(table)
        query = query.where(table.c.id == id) if id is not None else \
            query.where(table.c.name == name)
        with self.db.connect() as conn:
            row = conn.execute(query).first()
        return row._asdict() if row is not None else None

    def user(self, id=None, name=None):
        return self._one(schema.users, id, name)

    def project(self, id=None, name=None):
        return self._one(schema.projects, id, name)

    def role(self, id=None, name=None):
        return self._one(schema.roles, id, name)

    def _list(self, table, name=None):
        query = sa.select(table).order_by(table.c.name)
        if name is not None:
            query = query.where(table.c.name == name)
        with self.db.connect() as conn:
            return [r._asdict() for r in conn.execute(query)]

    def users(self, name=None):
        return self._list(schema.users, name)

    def projects(self, name=None):
        return self._list(schema.projects, name)

    def roles(self, name=None):
        return self._list(schema.roles, name)

    def role_ids(self, user_id, project_id=None) -> list:
        """Roles of the user on the project (``None``: on the system)."""
        a = schema.assignments
        cond = a.c.project_id.is_(None) if project_id is None else a.c.project_id == project_id
        with self.db.connect() as conn:
            return [r.role_id for r in conn.execute(
                sa.select(a.c.role_id).where(a.c.user_id == user_id, cond))]

    def roles_by_id(self, role_ids) -> list:
        if not role_ids:
            return []
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(schema.roles)
                                .where(schema.roles.c.id.in_(list(role_ids)))
                                .order_by(schema.roles.c.name))
            return [{"id": r.id, "name": r.name} for r in rows]

    def projects_of_user(self, user_id) -> list:
        a, p = schema.assignments, schema.projects
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(p).distinct().join(a, a.c.project_id == p.c.id)
                                .where(a.c.user_id == user_id).order_by(p.c.name))
            return [r._asdict() for r in rows]

    def check_password(self, user: dict, password: str) -> bool:
        return user["enabled"] and check_secret(password, user["password_hash"])

    # ------------------------------------------- application credentials
    def create_application_credential(self, user_id, project_id, name, role_ids,
                                      description=None, expires_at=None, secret=None,
                                      unrestricted=False):
        secret = secret or secrets.token_urlsafe(48)
        cred_id = _new_id()
        with self.db.begin() as conn:
            taken = conn.execute(sa.select(schema.application_credentials.c.id).where(
                schema.application_credentials.c.user_id == user_id,
                schema.application_credentials.c.name == name)).first()
            if taken is not None:
                raise exception.Conflict(f"an application credential named {name!r} exists")
            conn.execute(schema.application_credentials.insert().values(
                id=cred_id, name=name, description=description, user_id=user_id,
                project_id=project_id, secret_hash=hash_secret(secret),
                roles=json.dumps(list(role_ids)), expires_at=expires_at,
                unrestricted=unrestricted))
        return self.application_credential(cred_id), secret

    def application_credential(self, cred_id=None, user_id=None, name=None):
        ac = schema.application_credentials
        query = sa.select(ac)
        if cred_id is not None:
            query = query.where(ac.c.id == cred_id)
        else:
            query = query.where(ac.c.user_id == user_id, ac.c.name == name)
        with self.db.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        cred = row._asdict()
        cred["roles"] = json.loads(cred["roles"])
        return cred

    def application_credentials(self, user_id) -> list:
        ac = schema.application_credentials
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(ac.c.id).where(ac.c.user_id == user_id)
                                .order_by(ac.c.name)).all()
        return [self.application_credential(r.id) for r in rows]

    def delete_application_credential(self, cred_id) -> None:
        with self.db.begin() as conn:
            conn.execute(schema.application_credentials.delete()
                         .where(schema.application_credentials.c.id == cred_id))
            # Its tokens end with it, as in Keystone.
            conn.execute(schema.tokens.update()
                         .where(schema.tokens.c.application_credential_id == cred_id)
                         .values(revoked=True))

    # ------------------------------------------------------------ tokens
    def issue_token(self, user_id, project_id=None, system=False, methods=("password",),
                    role_ids=None, application_credential_id=None, expires_at=None,
                    audit_id=None) -> Token:
        now = clock.current().time()
        if role_ids is None:
            role_ids = self.role_ids(user_id, None if system else project_id) \
                if (project_id or system) else []
        expires = now + self.token_expiration
        if expires_at is not None:
            expires = min(expires, expires_at)
        token = Token(secrets.token_urlsafe(32), user_id, project_id, bool(system),
                      list(methods), list(role_ids), application_credential_id,
                      audit_id or secrets.token_urlsafe(16), now, expires)
        with self.db.begin() as conn:
            conn.execute(schema.tokens.insert().values(
                id=_token_key(token.id), user_id=user_id, project_id=project_id,
                system=token.system, methods=json.dumps(token.methods),
                roles=json.dumps(token.role_ids),
                application_credential_id=application_credential_id,
                audit_id=token.audit_id, issued_at=now, expires_at=expires, revoked=False))
        return token

    def token(self, token_id: str | None) -> Token | None:
        """The token if it is valid now (issued here, not revoked, not
        expired, its user still enabled), else None."""
        if not token_id:
            return None
        t = schema.tokens
        with self.db.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == _token_key(token_id))).first()
            if row is None or row.revoked or row.expires_at <= clock.current().time():
                return None
            user = conn.execute(sa.select(schema.users.c.enabled)
                                .where(schema.users.c.id == row.user_id)).first()
        if user is None or not user.enabled:
            return None
        return Token(token_id, row.user_id, row.project_id, row.system,
                     json.loads(row.methods), json.loads(row.roles),
                     row.application_credential_id, row.audit_id, row.issued_at,
                     row.expires_at)

    def revoke_token(self, token_id: str) -> bool:
        with self.db.begin() as conn:
            done = conn.execute(schema.tokens.update()
                                .where(schema.tokens.c.id == _token_key(token_id),
                                       schema.tokens.c.revoked.is_(False))
                                .values(revoked=True))
        return done.rowcount > 0

    def token_body(self, token: Token, catalog: bool = True) -> dict:
        """The ``token`` object of Keystone v3's token responses."""
        user = self.user(id=token.user_id)
        body = {
            "methods": token.methods,
            "user": {"id": user["id"], "name": user["name"], "domain": dict(DOMAIN),
                     "password_expires_at": None},
            "audit_ids": [token.audit_id],
            "issued_at": isotime(token.issued_at),
            "expires_at": isotime(token.expires_at),
        }
        scoped = False
        if token.project_id is not None:
            project = self.project(id=token.project_id)
            body["project"] = {"id": project["id"], "name": project["name"],
                               "domain": dict(DOMAIN)}
            body["is_domain"] = False
            scoped = True
        elif token.system:
            body["system"] = {"all": True}
            scoped = True
        if scoped:
            body["roles"] = self.roles_by_id(token.role_ids)
            if catalog:
                body["catalog"] = self.catalog()
        if token.application_credential_id:
            cred = self.application_credential(token.application_credential_id)
            body["application_credential"] = {
                "id": token.application_credential_id,
                "name": cred["name"] if cred else None,
                "restricted": not (cred and cred["unrestricted"])}
        return body
