"""The host filter contract and the host state filters see.

A filter is a plugin in the ``compute_core.scheduler.filters`` entry-point
group, enabled by name in ``[filter_scheduler] enabled_filters``.
"""
from __future__ import annotations

import abc
import dataclasses
import datetime
import logging
import operator

LOG = logging.getLogger(__name__)
_AGGREGATES = operator.attrgetter("aggregates")


@dataclasses.dataclass(slots=True)
class HostState:
    """What the scheduler knows of one compute node while it decides.

    Filled from the cell database (compute node, service, instances) and
    from placement's provider summary; updated in place by
    :meth:`consume` as the scheduler places instances of one request.
    """

    host: str
    nodename: str
    uuid: str
    cell_uuid: str | None = None
    host_ip: str | None = None
    hypervisor_type: str = ""
    hypervisor_version: int = 0
    cpu_info: str = "{}"
    # [(architecture, hypervisor type, vm mode)] the driver can run; empty
    # means "derive it from cpu_info's arch and hypervisor_type".
    supported_instances: list = dataclasses.field(default_factory=list)
    vcpus_total: int = 0
    vcpus_used: int = 0
    total_usable_ram_mb: int = 0
    free_ram_mb: int = 0
    total_usable_disk_gb: int = 0
    free_disk_mb: int = 0
    disk_mb_used: int = 0
    cpu_allocation_ratio: float = 1.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    num_instances: int = 0
    num_io_ops: int = 0
    instances: dict = dataclasses.field(default_factory=dict)
    aggregates: list = dataclasses.field(default_factory=list)
    traits: set = dataclasses.field(default_factory=set)
    metrics: dict = dataclasses.field(default_factory=dict)
    stats: dict = dataclasses.field(default_factory=dict)
    pci_stats: list = dataclasses.field(default_factory=list)
    numa_topology: dict | None = None
    service: dict = dataclasses.field(default_factory=dict)
    failed_builds: int = 0
    updated: datetime.datetime | None = None
    limits: dict = dataclasses.field(default_factory=dict)
    # Placement's summary of this provider ({RC: {"capacity", "used"}}).
    provider_resources: dict = dataclasses.field(default_factory=dict)

    def consume(self, spec) -> None:
        """Account for one more instance of *spec* on this host."""
        flavor = spec.flavor
        self.vcpus_used += flavor["vcpus"]
        self.free_ram_mb -= flavor["memory_mb"]
        disk_mb = (flavor["root_gb"] + flavor.get("ephemeral_gb", 0)) * 1024 + flavor.get("swap", 0)
        self.free_disk_mb -= disk_mb
        self.disk_mb_used += disk_mb
        self.num_instances += 1
        self.num_io_ops += 1
        if spec.instance_uuid:
            self.instances[spec.instance_uuid] = {"uuid": spec.instance_uuid,
                                                  "project_id": spec.project_id}

    def __repr__(self):
        return f"HostState({self.host}/{self.nodename} ram:{self.free_ram_mb} " \
               f"disk:{self.free_disk_mb} io:{self.num_io_ops} instances:{self.num_instances})"


class HostStates(list):
    """The candidate hosts of one request, as filters and weighers receive
    them: a list of :class:`HostState`, plus what the host manager knows
    across hosts, so that a filter need not read every host to learn it.

    :meth:`hosts_running` answers "which hosts may run any of these
    instances" from the index the host manager keeps of where each instance
    runs (updated from the cell's changed rows, not rebuilt per request),
    together with the instances this request has placed so far
    (:meth:`note_placed`). The answer narrows which hosts a group filter
    checks against their own ``instances``; a host it does not name runs
    none of them. It is None when no index was given (host states built by
    hand): a filter then checks every host.
    """

    def __init__(self, states=(), locate=None, placed=None):
        super().__init__(states)
        #: uuid -> name of the host the instance runs on, or None.
        self.locate = locate
        self._placed = {} if placed is None else placed
        self._overrides = None

    def derive(self, states) -> HostStates:
        """A new collection of *states* (a subset) sharing this one's index."""
        return HostStates(states, self.locate, self._placed)

    def note_placed(self, uuid: str, host: str) -> None:
        """Record that this request put instance *uuid* on *host*."""
        self._placed.setdefault(uuid, set()).add(host)

    def hosts_running(self, uuids) -> set[str] | None:
        """Names of the hosts that run any of *uuids* (a host of this list
        not named runs none of them), or None when there is no index."""
        locate = self.locate
        if locate is None:
            return None
        found = set()
        placed = self._placed
        for uuid in uuids:
            host = locate(uuid)
            if host is not None:
                found.add(host)
            if placed:
                found.update(placed.get(uuid, ()))
        return found

    def multiplier_overrides(self) -> dict[int, dict[str, set[str]]]:
        """{index: {key: raw values}} of the hosts whose aggregates set a
        ``*_weight_multiplier`` metadata key (a per-aggregate multiplier),
        worked out once for every weigher of the request."""
        if self._overrides is None:
            found = {}
            # Many hosts share few aggregates: read each aggregate once. Most
            # hosts are in none: their lists are fetched in one C-level pass
            # and skipped without a Python step each.
            by_aggregate = {}
            for i, aggregates in enumerate(map(_AGGREGATES, self)):
                if not aggregates:
                    continue
                for agg in aggregates:
                    pairs = by_aggregate.get(id(agg))
                    if pairs is None:
                        pairs = by_aggregate[id(agg)] = [
                            (k, v) for k, v in (agg.get("metadata") or {}).items()
                            if k.endswith("weight_multiplier")]
                    for key, value in pairs:
                        found.setdefault(i, {}).setdefault(key, set()).add(value)
            self._overrides = found
        return self._overrides


class BaseHostFilter(abc.ABC):
    """Decides whether one host can take the request.

    Constructed once per scheduler with the scheduler's ConfigOpts; must be
    safe to call from several threads. Returning False removes the host; an
    exception is logged and counts as False.
    """

    #: Run only for the first instance of a multi-instance request.
    run_filter_once_per_request = False
    #: Run when rebuilding onto the same host (most filters need not).
    RUN_ON_REBUILD = False

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def host_passes(self, host_state: HostState, spec_obj) -> bool:
        """True if the host can take an instance of *spec_obj* (a RequestSpec)."""

    def run_filter_for_index(self, index: int) -> bool:
        return not (self.run_filter_once_per_request and index > 0)

    def filter_all(self, host_states, spec_obj):
        """The hosts of *host_states* that pass (an iterable of them).

        *host_states* is a :class:`HostStates` when the scheduler calls it
        (its :meth:`HostStates.hosts_running` may spare a per-host look-up);
        override to decide for all hosts at once, keeping host_passes as
        the meaning. A host whose host_passes raises fails; if an override
        raises, the scheduler judges each host by host_passes instead."""
        failures = []
        for state in host_states:
            try:
                ok = self.host_passes(state, spec_obj)
            except Exception as exc:
                failures.append((state.host, exc))
                ok = False
            if ok:
                yield state
        if failures:
            log_plugin_failures("filter", self, spec_obj, failures, "counting them as failing")


def log_plugin_failures(kind: str, plugin, spec_obj, failures, outcome: str) -> None:
    """One line for every host a plugin failed on in one request (the first
    error's traceback only at debug level), instead of a traceback per host."""
    hosts = [host for host, _ in failures]
    first = failures[0][1]
    shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
    LOG.warning("%s %s raised on %d host(s) (%s) for instance %s, %s: %s: %s",
                kind, type(plugin).__name__, len(hosts), shown,
                getattr(spec_obj, "instance_uuid", None), outcome, type(first).__name__, first)
    LOG.debug("first failure of %s %s", kind, type(plugin).__name__, exc_info=first)


def run_filter(flt: BaseHostFilter, host_states, spec_obj) -> list:
    """The hosts *flt* keeps. A filter_all override that raises is logged
    once and the hosts are judged by host_passes one by one (a host whose
    host_passes raises too fails), so one broken plugin never fails a whole
    request."""
    try:
        return list(flt.filter_all(host_states, spec_obj))
    except Exception as exc:
        LOG.warning("filter %s raised in filter_all for instance %s (%s: %s); judging "
                    "each host by its host_passes instead", type(flt).__name__,
                    getattr(spec_obj, "instance_uuid", None), type(exc).__name__, exc)
        LOG.debug("filter_all of %s failed", type(flt).__name__, exc_info=exc)
        return list(BaseHostFilter.filter_all(flt, host_states, spec_obj))
