"""The placement service: resource providers, inventories, allocations,
traits, aggregates and allocation candidates.

Laid out by resource as openstack-placement is: ``objects/`` owns the SQL,
``handlers/`` the HTTP handlers, ``schemas/`` the request schemas (a module
per resource in each), ``app`` the routing table and error format,
``microversion`` the versions served, ``query`` the parsing of query strings,
``policy`` the access rules, ``tables`` the database tables. The HTTP client other
services use is :mod:`compute_core.placement_client`; this package imports
nothing of compute.
"""
from __future__ import annotations


class PlacementState:
    """What the placement WSGI app needs: its database, class cache and
    policy enforcer (``[oslo_policy]`` of *conf*)."""

    def __init__(self, db, conf):
        from compute_core.placement import objects, policy

        self.db = db
        self.rc_cache = objects.ResourceClassCache(db)
        self.policy = policy.enforcer(conf)

    def forget_cached(self):
        """A new class/project id cache (the database went back to an
        earlier state)."""
        from compute_core.placement import objects

        self.rc_cache = objects.ResourceClassCache(self.db)
