"""The placement service: resource providers, inventories, allocations,
traits, aggregates and allocation candidates.

``objects`` owns the SQL, ``handlers`` the HTTP handlers, ``app`` the routing
table and microversions, ``client`` the HTTP client other services use.
"""
from __future__ import annotations


class PlacementState:
    """What the placement WSGI app needs: its database and class cache."""

    def __init__(self, db):
        from compute_core.placement import objects

        self.db = db
        self.rc_cache = objects.ResourceClassCache(db)
