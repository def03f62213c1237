"""Filters driven by host-aggregate metadata.

- AggregateInstanceExtraSpecsFilter: each flavor extra spec without a
  namespace, or in ``aggregate_instance_extra_specs:``, must be matched
  (with the extra-spec operators) by a value of that key in one of the
  host's aggregates; a host with no such key fails.
- AggregateImagePropertiesIsolation: for each aggregate metadata key (only
  those under ``aggregate_image_properties_isolation_namespace`` when set)
  that the image also sets, the image's value must be among the
  aggregate's values.
- AggregateMultiTenancyIsolation: a host in an aggregate with
  ``filter_tenant_id*`` keys only takes those projects' servers; hosts
  outside such aggregates take anyone's.
"""
from __future__ import annotations

import logging

from compute_core_plugins import aggregate_metadata
from compute_core_plugins.filters.extra_spec_match import matches
from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)

_SCOPE = "aggregate_instance_extra_specs"


class AggregateInstanceExtraSpecsFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        wanted = []
        for key, req in ((spec_obj.flavor or {}).get("extra_specs") or {}).items():
            scope, sep, name = key.partition(":")
            if not sep:
                wanted.append((key, req))
            elif scope == _SCOPE:
                wanted.append((name, req))
        return wanted or None

    def passes(self, host_state, wanted):
        metadata = aggregate_metadata.merged(host_state)
        for key, req in wanted:
            values = metadata.get(key)
            if not values or not any(matches(v, req) for v in values):
                LOG.debug("%s: aggregate metadata %s=%s does not match %r", host_state, key,
                          sorted(values or ()), req)
                return False
        return True


class AggregateImagePropertiesIsolation(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = True

    def prepare(self, spec_obj):
        fs = self.conf.filter_scheduler
        namespace = fs.aggregate_image_properties_isolation_namespace
        prefix = namespace + fs.aggregate_image_properties_isolation_separator \
            if namespace else ""
        return prefix, spec_obj.image_properties

    def passes(self, host_state, wanted):
        prefix, props = wanted
        if not host_state.aggregates:
            return True
        for key, values in aggregate_metadata.merged(host_state).items():
            if prefix and not key.startswith(prefix):
                continue
            prop = props.get(key)
            if prop and str(prop) not in values:
                LOG.debug("%s: image %s=%s not in aggregate values %s", host_state, key,
                          prop, sorted(values))
                return False
        return True


class AggregateMultiTenancyIsolation(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = False

    def passes(self, host_state, spec_obj):
        if not host_state.aggregates:
            return True
        allowed = set()
        for key, values in aggregate_metadata.merged(host_state).items():
            if key.startswith("filter_tenant_id"):
                allowed |= values
        return not allowed or spec_obj.project_id in allowed
