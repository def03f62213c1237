"""Compute API microversions: parsing, negotiation and comparison."""
from __future__ import annotations

import functools
import re

import microversion_parse

MIN_VERSION = "2.1"
MAX_VERSION = "2.100"
SERVICE_TYPE = "compute"
_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> tuple[int, int]:
    m = _RE.match(text or "")
    if not m:
        raise ValueError(f"Invalid API version request string {text!r}")
    return int(m.group(1)), int(m.group(2))


@functools.total_ordering
class APIVersion:
    __slots__ = ("major", "minor", "_key")

    def __init__(self, text: str):
        self.major, self.minor = self._key = _parse(text)

    @staticmethod
    def _key_of(other) -> tuple[int, int]:
        return other._key if isinstance(other, APIVersion) else _parse(other)

    def __eq__(self, other):
        return self._key == self._key_of(other)

    def __lt__(self, other):
        return self._key < self._key_of(other)

    def __hash__(self):
        return hash(self._key)

    def __str__(self):
        return f"{self.major}.{self.minor}"

    def at_least(self, text: str) -> bool:
        # Called a dozen times per server of a listing: the parse is cached.
        return self._key >= _parse(text)


class VersionNotSupported(Exception):
    pass


def negotiate(headers) -> APIVersion:
    """The version asked for in OpenStack-API-Version (or the legacy
    X-OpenStack-Nova-API-Version); the minimum when absent."""
    raw = microversion_parse.get_version(headers, service_type=SERVICE_TYPE,
                                         legacy_headers=["x-openstack-nova-api-version"])
    if raw is None:
        return APIVersion(MIN_VERSION)
    raw = raw.strip()
    if raw.lower() == "latest":
        return APIVersion(MAX_VERSION)
    try:
        version = APIVersion(raw)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if not (APIVersion(MIN_VERSION) <= version <= APIVersion(MAX_VERSION)):
        raise VersionNotSupported(f"Version {raw} is not supported by the API. Minimum is "
                                  f"{MIN_VERSION} and maximum is {MAX_VERSION}.")
    return version
