"""The microversions placement serves: 1.0 to 1.39, as openstack-placement 16."""
from __future__ import annotations

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 39)
VERSIONS = [f"1.{n}" for n in range(MIN_VERSION[1], MAX_VERSION[1] + 1)]
