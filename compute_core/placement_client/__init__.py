"""The services' side of placement: :mod:`.client` (the HTTP client the
scheduler, conductor and compute hosts use) and :mod:`.heal` (``placement
heal_allocations`` and ``audit``, which read the compute databases).

Kept apart from :mod:`compute_core.placement`, the service, which imports
nothing of compute (tests/unit/placement/test_import_rule.py).
"""
