"""The query GET /usages takes per microversion."""
from __future__ import annotations


def usages_query(version):
    names = ["project_id", "user_id"] + (["consumer_type"] if version >= (1, 38) else [])
    return {name: {"type": "string"} for name in names}
