"""The placement object layer, a module per resource: all SQL of the placement
service lives here. Handlers call these functions and never see a
connection. Every write that changes what a provider can offer or what it
has handed out bumps the provider's generation with a compare-and-swap,
which is what makes claims atomic on every database without table locks.

What other packages use is handed on here.
"""
from __future__ import annotations


from compute_core.placement.objects.resource_class import ResourceClassCache
from compute_core.placement.objects.trait import ensure_standard_traits

__all__ = ["ResourceClassCache", "ensure_standard_traits"]
