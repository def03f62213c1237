"""The scheduler service: picks hosts for instances.

For each request: allocation candidates from placement, host states for
those providers, the enabled filters, the weighers, then an atomic claim in
placement; a claim conflict moves on to the next host. Returns, per
instance, the chosen host followed by alternates (up to max_attempts in all)
with the allocation request each would use.
"""
from __future__ import annotations

import logging
import random
import time

import oslo_messaging as messaging

from compute_core import exception, plugins
from compute_core.scheduler import filters as filters_mod
from compute_core.scheduler import weights as weights_mod
from compute_core.scheduler.host_manager import HostManager
from compute_core.scheduler.request_spec import RequestSpec

LOG = logging.getLogger(__name__)


def load_filters(conf) -> list:
    return plugins.load_plugins(plugins.FILTERS, conf.filter_scheduler.enabled_filters,
                                filters_mod.BaseHostFilter, conf)


def load_weighers(conf) -> list:
    """The weighers named in ``[filter_scheduler] weighers``; ``all`` means
    the in-tree ones (a third-party weigher runs only when named)."""
    return plugins.load_plugins(plugins.WEIGHERS, conf.filter_scheduler.weighers,
                                weights_mod.BaseHostWeigher, conf)


class FilterScheduler:
    """The scheduling algorithm, independent of RPC (bench/ drives it directly)."""

    def __init__(self, conf, host_manager, placement=None):
        self.conf = conf
        self.host_manager = host_manager
        self.placement = placement
        self.filters = load_filters(conf)
        self.weighers = load_weighers(conf)
        self._random = random.Random()

    @staticmethod
    def _restrict(states, spec, dest):
        """(the host states the request may use, whether they are forced).
        A requested destination keeps its host (and node), the filters still
        judging it; force_hosts / force_nodes keep theirs and skip the
        filters, as Nova does for an admin's forced host."""
        if dest:
            states = states.derive(
                st for st in states if st.host == dest.get("host", st.host)
                and st.nodename == dest.get("node", st.nodename)
                and st.uuid == dest.get("node_uuid", st.uuid))
        forced = False
        if spec.force_hosts or spec.force_nodes:
            hosts, nodes = set(spec.force_hosts or ()), set(spec.force_nodes or ())
            states = states.derive(st for st in states if (not hosts or st.host in hosts)
                                   and (not nodes or st.nodename in nodes))
            forced = True
        if not states:
            raise exception.NoValidHost(reason="The requested host is not available.")
        return states, forced

    def filter_and_weigh(self, host_states, spec, index=0, forced=False, once=None):
        """The hosts that pass the enabled filters (all of them when
        *forced*), weighed, best first.

        *once* is the request's memory of its once-per-request filters
        ({filter: uuids of the hosts it kept}): the first instance runs
        them and records what each kept; the later instances of the same
        request do not run them again but keep only those hosts, so such a
        filter still holds for every instance (as in Nova)."""
        hosts = host_states.derive(host_states) \
            if isinstance(host_states, filters_mod.HostStates) else \
            filters_mod.HostStates(host_states)
        for f in () if forced else self.filters:
            if f.run_filter_for_index(index):
                hosts = hosts.derive(filters_mod.run_filter(f, hosts, spec))
                if once is not None and f.run_filter_once_per_request:
                    once[f] = {h.uuid for h in hosts}
            elif once is not None and f in once:
                kept = once[f]
                hosts = hosts.derive(h for h in hosts if h.uuid in kept)
            if not hosts:
                LOG.info("filter %s returned no hosts for %s", type(f).__name__,
                         spec.instance_uuid)
                break
        if not hosts:
            return []
        return [h for _, h in weights_mod.weigh_hosts(self.weighers, hosts, spec)]

    def _pick(self, weighed: list):
        """Move one of the best host_subset_size hosts to the front."""
        size = min(self.conf.filter_scheduler.host_subset_size, len(weighed))
        if size > 1:
            i = self._random.randrange(size)
            weighed.insert(0, weighed.pop(i))
        return weighed

    # Rounds of (allocation candidates, claims) one request gets when its
    # claims lose races (placement's 409 "placement.concurrent_update"),
    # rather than a lack of room.
    CLAIM_ROUNDS = 4

    def select(self, ctxt, spec: RequestSpec, instance_uuids, return_alternates=True):
        if spec.is_rebuild():
            return [self.check_rebuild(spec)]
        for round_ in range(1, self.CLAIM_ROUNDS + 1):
            try:
                return self._select_once(spec, instance_uuids, return_alternates)
            except _ClaimsRaced as exc:
                if round_ == self.CLAIM_ROUNDS:
                    raise exception.NoValidHost(reason=exc.reason) from None
                LOG.info("claims for %s lost %d races (round %d): asking placement for "
                         "fresh allocation candidates", instance_uuids, exc.races, round_)
                # A short random pause, so the claims that raced do not meet again.
                time.sleep(self._random.uniform(0, 0.02 * round_))

    def _select_once(self, spec: RequestSpec, instance_uuids, return_alternates):
        resources = spec.resources()
        dest = spec.destination()
        alloc_reqs, summaries = self.placement.allocation_candidates(
            resources, self.conf.scheduler.max_placement_results, spec.required_traits(),
            in_tree=dest.get("node_uuid"))
        if not alloc_reqs:
            raise exception.NoValidHost(reason="There are not enough hosts available.")
        by_provider = {}
        for ar in alloc_reqs:
            for rp in ar["allocations"]:
                by_provider.setdefault(rp, ar)
        states = self.host_manager.host_states(summaries)
        if spec.ignore_hosts:  # a move never lands where it starts (Nova's ignore_hosts)
            states = states.derive(st for st in states if st.host not in spec.ignore_hosts)
        states, forced = self._restrict(states, spec, dest)
        max_attempts = self.conf.scheduler.max_attempts if return_alternates else 1
        results = []
        claimed = []
        once = {}
        for index, uuid in enumerate(instance_uuids or [None]):
            spec.instance_uuid = uuid
            weighed = self._pick(self.filter_and_weigh(states, spec, index, forced, once))
            chosen = None
            races = 0
            for state in weighed:
                ar = by_provider.get(state.uuid)
                if ar is None:
                    continue
                claim = uuid is None or self.placement.claim(uuid, ar, spec.project_id,
                                                             spec.user_id)
                if claim:
                    chosen = state
                    break
                races += bool(getattr(claim, "raced", False))
            if chosen is None:
                for done in claimed:
                    self.placement.delete_allocations(done)
                reason = "There are not enough hosts available."
                raise _ClaimsRaced(races, reason) if races else \
                    exception.NoValidHost(reason=reason)
            if uuid:
                claimed.append(uuid)
            chosen.consume(spec)
            if uuid:
                states.note_placed(uuid, chosen.host)
            selection = [self._selection(chosen, by_provider[chosen.uuid])]
            for alt in weighed:
                if len(selection) >= max_attempts:
                    break
                if alt is not chosen and alt.cell_uuid == chosen.cell_uuid and alt.uuid in by_provider:
                    selection.append(self._selection(alt, by_provider[alt.uuid]))
            results.append(selection)
        return results

    def check_rebuild(self, spec: RequestSpec) -> list[dict]:
        """May the server's host (``force_hosts`` / ``force_nodes``) run the
        new image of a rebuild? As in Nova: no allocation candidates and no
        claim (the server keeps what it holds there), only the filters that
        declare RUN_ON_REBUILD (ImagePropertiesFilter, IsolatedHostsFilter,
        AggregateImagePropertiesIsolation...), and the image's required
        traits on the host's provider. Returns [the host's selection], or
        raises NoValidHost."""
        hosts, nodes = set(spec.force_hosts or ()), set(spec.force_nodes or ())
        states = self.host_manager.host_states()
        states = states.derive(st for st in states if st.host in hosts
                               and (not nodes or st.nodename in nodes))
        if not states:
            raise exception.NoValidHost(reason="The server's host is not available.")
        wanted = sorted(k.split(":", 1)[1] for k, v in spec.image_properties.items()
                        if k.startswith("trait:") and v == "required")
        if wanted and self.placement is not None:
            for state in states:
                state.traits = set(self.placement.provider_traits(state.uuid))
            states = states.derive(st for st in states if set(wanted) <= st.traits)
            if not states:
                raise exception.NoValidHost(
                    reason=f"The server's host lacks the traits the image requires "
                           f"({', '.join(wanted)}).")
        for f in self.filters:
            if not f.RUN_ON_REBUILD:
                continue
            states = states.derive(filters_mod.run_filter(f, states, spec))
            if not states:
                LOG.info("filter %s refused the host of %s for its rebuild",
                         type(f).__name__, spec.instance_uuid)
                raise exception.NoValidHost(
                    reason=f"The server's host does not pass {type(f).__name__} for the "
                           f"new image.")
        return [self._selection(states[0], None)]

    @staticmethod
    def _selection(state, alloc_req):
        return {"service_host": state.host, "nodename": state.nodename,
                "compute_node_uuid": state.uuid, "cell_uuid": state.cell_uuid,
                "allocation_request": alloc_req, "allocation_request_version": "1.39"}


class _ClaimsRaced(exception.NoValidHost):
    """No host took the claim, and some refused it only for a lost race."""

    def __init__(self, races: int, reason: str):
        super().__init__(reason=reason)
        self.reason = reason
        self.races = races


class SchedulerManager:
    """RPC endpoint of the scheduler service (target version 1.0)."""

    target = messaging.Target(version="1.0")

    def __init__(self, conf, cells, placement):
        self.conf = conf
        self.host_manager = HostManager(conf, cells)
        self.driver = FilterScheduler(conf, self.host_manager, placement)

    def select_destinations(self, ctxt, spec, instance_uuids, return_alternates=True):
        try:
            return self.driver.select(ctxt, RequestSpec.from_dict(spec), instance_uuids,
                                      return_alternates)
        except exception.NoValidHost as exc:
            # Expected outcome: sent back as a result, not a remote error.
            return {"error": "NoValidHost", "message": exc.message}
