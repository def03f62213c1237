"""Policy profiles the differential tests run each service under.

Each profile gives the same policy setup to both services: extra
configuration for openstack-placement's placement.conf, for compute_core's
compute.conf, and files written beside them (``{dir}`` in the configuration
is their directory).
"""
from __future__ import annotations

PROFILES = ("legacy",)


def configuration(profile: str) -> tuple[str, str, dict]:
    if profile == "legacy":
        return "", "", {}
    raise ValueError(f"unknown policy profile {profile!r}: one of {', '.join(PROFILES)}")
