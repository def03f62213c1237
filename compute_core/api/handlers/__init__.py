"""Compute API request handlers, one module per resource. Each handler takes
a :class:`compute_core.api.app.Call` and returns (status, body) or a
webob.Response."""
