"""NUMATopologyFilter: the host's NUMA cells can hold the guest's NUMA
topology.

The guest asks for a topology with ``hw:numa_nodes`` (or the image's
``hw_numa_nodes``) and/or dedicated CPUs with ``hw:cpu_policy=dedicated``
(``hw_cpu_policy``); a dedicated guest without ``numa_nodes`` is one cell.
vCPUs and memory are split evenly over the cells unless
``hw:numa_cpus.N`` (a CPU set such as ``0-3,^2``) and ``hw:numa_mem.N``
(MiB) give each cell's share. Each guest cell needs its own host cell.

The host's cells are the driver's report in ``numa_topology``:
``{"cells": [{"id", "cpus", "memory_mb", "pinned_cpus", "cpu_usage",
"memory_usage"}]}`` (the last two optional). A dedicated guest cell needs
that many unpinned CPUs; a shared one no more vCPUs than the cell's unpinned
CPUs, within ``cpu_allocation_ratio`` of them counting ``cpu_usage``.
Memory, counting ``memory_usage``, is within ``ram_allocation_ratio``.
"""
from __future__ import annotations

import logging

from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)


def parse_cpu_set(text: str) -> set[int]:
    """``"0-3,^2,6"`` -> {0, 1, 3, 6}."""
    wanted, excluded = set(), set()
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        target = excluded if part.startswith("^") else wanted
        part = part.lstrip("^")
        first, _, last = part.partition("-")
        target.update(range(int(first), int(last or first) + 1))
    return wanted - excluded


def _setting(spec_obj, name):
    """A flavor extra spec ``hw:name``, else the image property ``hw_name``."""
    specs = (spec_obj.flavor or {}).get("extra_specs") or {}
    value = specs.get(f"hw:{name}")
    return spec_obj.image_properties.get(f"hw_{name}") if value is None else value


def guest_cells(spec_obj) -> tuple[list[tuple[int, int]], bool] | None:
    """([(vcpus, memory_mb)] per guest cell, dedicated) or None when the
    request asks for no NUMA placement. Raises ValueError when the split is
    impossible."""
    dedicated = str(_setting(spec_obj, "cpu_policy") or "").lower() == "dedicated"
    nodes = _setting(spec_obj, "numa_nodes")
    if nodes is None and not dedicated:
        return None
    nodes = int(nodes or 1)
    vcpus, memory = spec_obj.flavor["vcpus"], spec_obj.flavor["memory_mb"]
    if nodes < 1:
        raise ValueError(f"hw:numa_nodes must be at least 1, not {nodes}")
    cpus = [_setting(spec_obj, f"numa_cpus.{i}") for i in range(nodes)]
    mems = [_setting(spec_obj, f"numa_mem.{i}") for i in range(nodes)]
    if all(c is not None for c in cpus) and all(m is not None for m in mems):
        cells = [(len(parse_cpu_set(c)), int(m)) for c, m in zip(cpus, mems)]
        if sum(c for c, _ in cells) != vcpus or sum(m for _, m in cells) != memory:
            raise ValueError("hw:numa_cpus.N/hw:numa_mem.N do not add up to the flavor")
    else:
        if vcpus % nodes or memory % nodes:
            raise ValueError(f"{vcpus} vCPUs and {memory} MiB do not split over {nodes} nodes")
        cells = [(vcpus // nodes, memory // nodes)] * nodes
    return cells, dedicated


def _cell_fits(host_cell, guest, dedicated, cpu_ratio, ram_ratio) -> bool:
    vcpus, memory = guest
    free_cpus = len(set(host_cell.get("cpus") or ()) - set(host_cell.get("pinned_cpus") or ()))
    used_memory = host_cell.get("memory_usage", 0)
    if used_memory + memory > host_cell.get("memory_mb", 0) * ram_ratio:
        return False
    if dedicated:
        return vcpus <= free_cpus
    return vcpus <= free_cpus and \
        host_cell.get("cpu_usage", 0) + vcpus <= free_cpus * cpu_ratio


def fits(host_cells, cells, dedicated, cpu_ratio, ram_ratio) -> bool:
    """Whether each guest cell can have a host cell of its own (a
    backtracking search, as cell counts are small)."""
    if len(cells) > len(host_cells):
        return False

    def place(i, used):
        if i == len(cells):
            return True
        for j, host_cell in enumerate(host_cells):
            if j not in used and _cell_fits(host_cell, cells[i], dedicated, cpu_ratio,
                                            ram_ratio):
                if place(i + 1, used | {j}):
                    return True
        return False

    return place(0, frozenset())


class NUMATopologyFilter(PerRequestFilter):
    # As in Nova: the host's usage counts the rebuilt server already.
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        return guest_cells(spec_obj)

    def passes(self, host_state, wanted):
        cells, dedicated = wanted
        host_cells = (host_state.numa_topology or {}).get("cells") or []
        if not host_cells:
            LOG.debug("%s reports no NUMA topology", host_state)
            return False
        return fits(host_cells, cells, dedicated, host_state.cpu_allocation_ratio,
                    host_state.ram_allocation_ratio)
