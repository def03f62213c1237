"""Compute API microversions: parsing, negotiation, and the declarations
resources make of what depends on the version (@versioned handlers,
VersionRange, ByVersion values, VersionedSchemas)."""
from __future__ import annotations

import functools
import re

import microversion_parse

MIN_VERSION = "2.1"
MAX_VERSION = "2.104"
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


# ------------------------------------------------------------ declarations
# How a resource module states what depends on the microversion, instead of
# comparing versions inline: a handler's range (@versioned), a named range
# (VersionRange, for a behaviour that starts or ends at a version), one value
# per range (ByVersion; VersionedSchemas for request schemas).


def _bound(text):
    return None if text is None else APIVersion(text)


class VersionRange:
    """The versions from *low* to *high* (both included; None: unbounded).
    ``version in VersionRange("2.53")`` reads "from 2.53 on"."""

    __slots__ = ("low", "high")

    def __init__(self, low: str | None = None, high: str | None = None):
        self.low, self.high = _bound(low), _bound(high)

    def __contains__(self, version) -> bool:
        key = version._key if isinstance(version, APIVersion) else _parse(str(version))
        return (self.low is None or key >= self.low._key) and \
            (self.high is None or key <= self.high._key)

    def __repr__(self):
        return f"VersionRange({self.low}, {self.high})"


def versioned(low: str | None = None, high: str | None = None, *, outside: str | None = None):
    """Mark a handler as serving the versions *low* to *high*: outside them
    the route answers 404 (as Nova does; *outside* is then its message), or
    another handler that the route lists for the same method and whose
    range holds the version answers (``{"GET": (show_v21, show_v288)}`` in a
    ROUTES dict)."""
    def mark(fn):
        fn.versions = VersionRange(low, high)
        fn.min_version, fn.max_version = fn.versions.low, fn.versions.high
        fn.outside_message = outside
        return fn
    return mark


class VersionDispatch:
    """Several handlers of one route and method, each with its @versioned
    range: the one whose range holds the request's version answers."""

    def __init__(self, handlers):
        self.handlers = tuple(handlers)
        for handler in self.handlers:
            if getattr(handler, "versions", None) is None:
                raise TypeError(f"{handler.__qualname__} needs a @versioned range to share "
                                "a route and method with others")
        self.outside_message = next((h.outside_message for h in self.handlers
                                     if h.outside_message), None)

    def at(self, version):
        """The handler serving *version*, or None."""
        return next((h for h in self.handlers if version in h.versions), None)

    # Callable, as a route's handler is (routes.Mapper keeps only callables
    # as they are); the app asks at() first, so this serves other callers.
    def __call__(self, call, **kwargs):
        handler = self.at(call.version)
        if handler is None:
            from compute_core.api.faults import APIError

            raise APIError(404, self.outside_message or "The resource could not be found.")
        return handler(call, **kwargs)

    def __repr__(self):
        return f"VersionDispatch({', '.join(h.__qualname__ for h in self.handlers)})"


def handler_at(handler, version):
    """The handler of a route and method (a function or a VersionDispatch)
    that serves *version*, or None when the version has none."""
    if isinstance(handler, VersionDispatch):
        return handler.at(version)
    versions = getattr(handler, "versions", None)
    return handler if versions is None or version in versions else None


class ByVersion:
    """One value per version range: ``ByVersion(("2.1", "2.46", a), ("2.47",
    None, b))``; ``at(version)`` (or calling it) gives the value, None
    outside every range. Ranges are checked in order."""

    def __init__(self, *entries):
        self.entries = tuple((VersionRange(low, high), value) for low, high, value in entries)
        self._cache = {}

    def at(self, version):
        key = version._key if isinstance(version, APIVersion) else _parse(str(version))
        try:
            return self._cache[key]
        except KeyError:
            pass
        value = next((v for r, v in self.entries if version in r), None)
        self._cache[key] = value
        return value

    __call__ = at


class VersionedSchemas(ByVersion):
    """The request schemas of one body (or query) by version range:
    ``VersionedSchemas(("2.1", "2.36", old), ("2.37", None, new))``. A handler
    validates with ``SCHEMAS.at(call.version)``; the OpenAPI document shows
    the same objects."""

    @classmethod
    def of_fields(cls, base: dict, key: str, fields) -> "VersionedSchemas":
        """The schemas of *base* (``{"type": "object", "properties": {key:
        {...}}}``) whose ``properties[key]`` gains or loses properties by
        version: *fields* is a table of :class:`SchemaField`. One schema is
        made per range between the table's boundaries."""
        bounds = {(2, 1)}
        for f in fields:
            if f.since:
                bounds.add(_parse(f.since))
            if f.until:
                major, minor = _parse(f.until)
                bounds.add((major, minor + 1))
        starts = sorted(b for b in bounds if b <= _parse(MAX_VERSION))
        entries = []
        for i, start in enumerate(starts):
            low = f"{start[0]}.{start[1]}"
            high = None
            if i + 1 < len(starts):
                nxt = starts[i + 1]
                high = f"{nxt[0]}.{nxt[1] - 1}"
            entries.append((low, high, _schema_at(base, key, fields, APIVersion(low))))
        return cls(*entries)


class SchemaField:
    """A property of a request body present from *since* to *until* (both
    included), with *schema*; *required* when the body must have it then."""

    __slots__ = ("name", "schema", "since", "until", "required")

    def __init__(self, name, schema, since=None, until=None, required=False):
        self.name, self.schema, self.since, self.until = name, schema, since, until
        self.required = required

    def present(self, version) -> bool:
        return version in VersionRange(self.since, self.until)


def _schema_at(base, key, fields, version):
    inner = dict(base["properties"][key])
    props = dict(inner["properties"])
    required = list(inner.get("required", ()))
    for f in fields:
        if f.present(version):
            props[f.name] = f.schema
            if f.required and f.name not in required:
                required.append(f.name)
    inner["properties"] = props
    if required:
        inner["required"] = required
    return dict(base, properties=dict(base["properties"], **{key: inner}))
