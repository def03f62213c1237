"""Placement's HTTP handlers, a module per resource (as openstack-placement
lays them out). Each handler takes (req, state, version, **path_args): it
parses, checks the policy, calls the object layer and renders; the routing
table is :data:`compute_core.placement.app.ROUTE_DECLARATIONS`.
"""
from __future__ import annotations

