"""ComputeCapabilitiesFilter: the host's capabilities satisfy the flavor's
``capabilities:*`` extra specs.

``capabilities:cpu_info:arch`` walks the host state: first an attribute of
the host (or, failing that, a key of its ``stats``), then into dicts, a JSON
string (like ``cpu_info``) being decoded on the way. Extra specs without a
namespace are checked too when the host has such an attribute or stat; any
other namespace is not this filter's business. ``hw:maxphysaddr_bits=N``
means ``capabilities:cpu_info:maxphysaddr:bits >= N``.
"""
from __future__ import annotations

import json
import logging

from compute_core_plugins.filters.extra_spec_match import matches
from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)

_MISSING = object()


def requirements(flavor) -> list[tuple[list[str], str]]:
    """[(path, requirement)] this filter checks for *flavor*."""
    out = []
    for key, req in ((flavor or {}).get("extra_specs") or {}).items():
        if key == "hw:maxphysaddr_bits":
            out.append((["cpu_info", "maxphysaddr", "bits"], f">= {req}"))
            continue
        path = key.split(":")
        if len(path) == 1:
            out.append((path, req))
        elif path[0] == "capabilities" and len(path) > 1:
            out.append((path[1:], req))
    return out


def capability(host_state, path):
    """The value at *path* in the host state, or _MISSING."""
    head = getattr(host_state, path[0], None)
    if head is None:
        head = (host_state.stats or {}).get(path[0])
    cap = head
    for name in path[1:]:
        if isinstance(cap, str):
            try:
                cap = json.loads(cap)
            except ValueError:
                return _MISSING
        if not isinstance(cap, dict):
            return _MISSING
        cap = cap.get(name)
        if cap is None:
            return _MISSING
    return _MISSING if cap is None else cap


class ComputeCapabilitiesFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        return requirements(spec_obj.flavor) or None

    def passes(self, host_state, wanted):
        for path, req in wanted:
            if len(path) == 1 and not (hasattr(host_state, path[0])
                                       or path[0] in (host_state.stats or {})):
                continue  # an unscoped extra spec meant for someone else
            cap = capability(host_state, path)
            if cap is _MISSING:
                LOG.debug("%s lacks capability %s", host_state, ":".join(path))
                return False
            if not matches(str(cap), req):
                LOG.debug("%s: capability %s=%s does not match %r", host_state,
                          ":".join(path), cap, req)
                return False
        return True
