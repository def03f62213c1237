"""Limits on how busy a host may be.

- NumInstancesFilter: fewer than ``max_instances_per_host`` instances.
- IoOpsFilter: fewer than ``max_io_ops_per_host`` instances doing I/O.
- AggregateNumInstancesFilter / AggregateIoOpsFilter: the same, with the
  limit taken from the host's aggregates' ``max_instances_per_host`` /
  ``max_io_ops_per_host`` metadata (the smallest when several set it),
  falling back to the option.
"""
from __future__ import annotations

import logging

from compute_core_plugins import aggregate_metadata
from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)


class _HostLimitFilter(PerRequestFilter):
    RUN_ON_REBUILD = False
    #: The option in [filter_scheduler], also the aggregate metadata key.
    option: str = ""
    #: The HostState attribute counted.
    counted: str = ""
    per_aggregate = False

    def prepare(self, spec_obj):
        return getattr(self.conf.filter_scheduler, self.option)

    def passes(self, host_state, limit):
        if self.per_aggregate and host_state.aggregates:
            limit = aggregate_metadata.smallest_number(host_state, self.option, limit)
        used = getattr(host_state, self.counted)
        if used >= limit:
            LOG.debug("%s fails %s: %s of %s", host_state, self.option, used, limit)
            return False
        return True


class NumInstancesFilter(_HostLimitFilter):
    option = "max_instances_per_host"
    counted = "num_instances"


class AggregateNumInstancesFilter(NumInstancesFilter):
    per_aggregate = True


class IoOpsFilter(_HostLimitFilter):
    option = "max_io_ops_per_host"
    counted = "num_io_ops"


class AggregateIoOpsFilter(IoOpsFilter):
    per_aggregate = True
