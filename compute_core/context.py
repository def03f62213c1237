"""The request context: who is asking, carried through API, RPC and DB code."""
from __future__ import annotations

import dataclasses
import uuid


def new_request_id() -> str:
    return "req-" + str(uuid.uuid4())


@dataclasses.dataclass
class RequestContext:
    user_id: str | None = None
    project_id: str | None = None
    roles: list = dataclasses.field(default_factory=list)
    is_admin: bool = False
    request_id: str = dataclasses.field(default_factory=new_request_id)
    auth_token: str | None = None
    read_deleted: str = "no"
    # "all" for a system-scoped token (OpenStack-System-Scope), else None:
    # read by placement's policy (scope types); not sent over RPC.
    system_scope: str | None = None
    # Filled by the cell-targeting helpers; never serialised.
    cell_uuid: str | None = None

    def to_dict(self) -> dict:
        # Every RPC message carries one: written out rather than through
        # dataclasses.asdict, which deep-copies field by field.
        return {"user_id": self.user_id, "project_id": self.project_id,
                "roles": list(self.roles), "is_admin": self.is_admin,
                "request_id": self.request_id, "auth_token": self.auth_token,
                "read_deleted": self.read_deleted}

    @classmethod
    def from_dict(cls, values: dict) -> "RequestContext":
        names = _FIELD_NAMES
        return cls(**{k: v for k, v in values.items() if k in names})

    def redacted_copy(self) -> "RequestContext":
        """A copy without secrets, for notifications and logs."""
        return dataclasses.replace(self, auth_token=None, roles=list(self.roles))

    def elevated(self) -> "RequestContext":
        ctx = dataclasses.replace(self, is_admin=True, roles=list(self.roles))
        if "admin" not in ctx.roles:
            ctx.roles.append("admin")
        return ctx


def get_admin_context() -> RequestContext:
    return RequestContext(user_id=None, project_id=None, roles=["admin"], is_admin=True)


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(RequestContext))
