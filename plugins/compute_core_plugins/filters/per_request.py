"""A filter base that reads the request once, not once per host.

Most filters depend on something the request may not carry (a hint, an
extra spec, a server group, image properties). :meth:`PerRequestFilter.prepare`
turns the request into what the per-host check needs, once per request;
``None`` means nothing concerns this filter and every host passes without a
per-host call. This keeps filtering cheap over thousands of hosts.
"""
from __future__ import annotations

import abc
import logging

from compute_core.scheduler.filters import BaseHostFilter

LOG = logging.getLogger(__name__)


class PerRequestFilter(BaseHostFilter):
    def prepare(self, spec_obj):
        """What :meth:`passes` needs from *spec_obj*, or None to pass every
        host. An exception fails every host (logged once)."""
        return spec_obj

    @abc.abstractmethod
    def passes(self, host_state, wanted) -> bool:
        """The per-host check against what :meth:`prepare` returned."""

    def narrow(self, host_states, wanted):
        """(names of the hosts that need :meth:`passes`, whether every other
        host passes), or None to call passes on every host. Filters about
        where given instances run answer it from the host manager's index
        (``host_states.hosts_running``)."""
        return None

    def host_passes(self, host_state, spec_obj):
        wanted = self.prepare(spec_obj)
        return True if wanted is None else self.passes(host_state, wanted)

    def filter_all(self, host_states, spec_obj):
        name = type(self).__name__
        try:
            wanted = self.prepare(spec_obj)
        except Exception:
            LOG.exception("filter %s cannot read the request; no host passes", name)
            return []
        if wanted is None:
            return list(host_states)
        try:
            narrowed = self.narrow(host_states, wanted)
        except Exception:
            LOG.exception("filter %s cannot narrow the hosts; checking each one", name)
            narrowed = None
        kept = []
        for state in host_states:
            if narrowed is not None and state.host not in narrowed[0]:
                if narrowed[1]:
                    kept.append(state)
                continue
            try:
                if self.passes(state, wanted):
                    kept.append(state)
            except Exception:
                LOG.exception("filter %s failed on host %s; counting it as failing",
                              name, state.host)
        return kept
