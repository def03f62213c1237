"""The Compute API's resources, one module each.

A resource module owns everything about its part of the API:

- ``ROUTES``: ``{path: {method: handler}}`` (a method may list several
  handlers, each with its :func:`~compute_core.api.microversion.versioned`
  range);
- its request schemas, with the versions each applies to
  (:class:`~compute_core.api.microversion.VersionedSchemas`);
- its view builder (:class:`~compute_core.api.views.ViewFields` for fields
  that come and go with versions);
- ``RULES``: its policy rules (:func:`compute_core.api.policy.rule`),
  checked in handlers with ``call.authorize(name, target)``.

:mod:`compute_core.api.routes` lists the modules; nothing else needs to
know about a new one. Logic that several resources share lives beside them
in ``compute_core/api/`` (``server_service``, ``quota``, ``hosts``).
"""
