"""Handlers of the identity API, one module per resource: ``version``
(discovery), ``auth`` (tokens, the caller's projects and catalog),
``project``, ``user``, ``role``, ``application_credential``."""
