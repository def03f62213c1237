"""The Compute API v2.1 (WSGI), laid out by resource.

- ``app``: the WSGI app (routing, microversion negotiation, faults) and the
  paste factories; ``routes``: the list of resource modules, one line each;
- ``resources/``: one module per resource (routes, schemas, views, rules);
- ``server_service``: the server orchestration below HTTP (``ServerService``);
  ``quota``, ``hosts``: the quota checks and the hosts across cells;
- ``microversion``, ``schemas``, ``views``, ``policy``, ``faults``: what every
  resource uses (version declarations, validation, view helpers, policy
  rules and enforcement, the fault format).
"""
