"""What each API handler declares about itself for the OpenAPI documents.

A handler is marked with :func:`operation`; the request schemas it names are
the very objects (or functions of the microversion) it validates with, so
:mod:`compute_core.openapi` documents exactly what the code checks. This
module imports nothing of the APIs, so every handler module can use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Operation:
    op_id: str
    summary: str
    # {status: schema of the body, or None for no body}, or a function of
    # the microversion giving that mapping
    ok: Any = 200
    errors: tuple = ()
    # the JSON schema of the request body, or a function of the microversion
    body: Any = None
    # {name: schema} of the query parameters, or a function of the microversion
    query: Any = None
    # {name: schema} of path parameters whose values this operation limits
    path: dict = field(default_factory=dict)
    required_query: tuple = ()
    min_version: str | None = None
    max_version: str | None = None
    public: bool = False
    admin: bool = False
    # {link name: (operationId, {parameter: runtime expression})}
    links: dict = field(default_factory=dict)

    def at(self, value, version):
        return value(version) if callable(value) else value


def operation(op_id: str, summary: str, **kwargs) -> Callable:
    """Attach an :class:`Operation` to a handler (as ``handler.openapi``)."""
    op = Operation(op_id, summary, **kwargs)

    def mark(fn):
        fn.openapi = op
        return fn
    return mark


def keyed(*keys: str, required: bool = True) -> dict:
    """The schema of a JSON object holding *keys* (an API's usual wrapper
    such as ``{"server": {...}}``)."""
    out = {"type": "object", "properties": {k: {} for k in keys}}
    if required:
        out["required"] = list(keys)
    return out
