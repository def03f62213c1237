"""The JSON schemas of placement's requests, a module per resource; the
handlers validate bodies with them and the OpenAPI document shows them.
"""
from __future__ import annotations

