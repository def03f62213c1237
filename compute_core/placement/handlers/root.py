"""GET /: the version document (served without a token)."""
from __future__ import annotations

from compute_core.apispec import keyed, operation
from compute_core.placement.handlers.base import json_response
from compute_core.placement.microversion import MAX_VERSION, MIN_VERSION


@operation("getRoot", "The version document", ok={200: keyed("versions")})
def home(req, state, version):
    return json_response({"versions": [{
        "id": "v1.0", "status": "CURRENT",
        "max_version": f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
        "min_version": f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
        "links": [{"rel": "self", "href": ""}]}]})


home.checks_accept = False  # GET / answers JSON whatever the Accept
