"""What every resource's view builder uses: dates, links, and ViewFields,
the table of the fields a view gains or loses at microversions.

Each resource module builds its own views (``compute_core/api/resources``)."""
from __future__ import annotations

import datetime
import hashlib
import math

from compute_core.api.microversion import VersionRange


def iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.isoformat(timespec="seconds") + "Z"


def iso_usec(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.isoformat()


def link_bases(req) -> tuple[str, str]:
    """(base, bookmark base) of the links in a response, worked out once
    per request (a listing makes three links per server)."""
    bases = req.environ.get("compute_core.link_bases")
    if bases is None:
        base = req.application_url
        prefix = req.script_name.rstrip("/")
        project_base = base.rsplit(prefix, 1)[0] if prefix and base.endswith(prefix) else base
        bases = req.environ["compute_core.link_bases"] = (base, project_base)
    return bases


def links(req, collection, ident):
    return links_at(link_bases(req), collection, ident)


def links_at(bases: tuple[str, str], collection, ident):
    """The self and bookmark links of *ident* under *bases* (link_bases)."""
    base, project_base = bases
    return [{"rel": "self", "href": f"{base}/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{project_base}/{collection}/{ident}"}]


def host_id(project_id, host) -> str:
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def finite(value, default):
    """*value*, or *default* for the NaN / Infinity a flavor created before
    they were refused may hold (JSON has no token for them)."""
    return value if value is None or math.isfinite(value) else default


class ViewFields:
    """The fields of a view that depend on the microversion, as a table of
    ``(field, since, until, getter)`` rows (since / until: the first and
    last versions with the field, None for no bound). ``add(out, version,
    *args)`` sets ``out[field] = getter(*args)`` for the rows of *version*;
    a field may have several rows (its value changing at a version)."""

    def __init__(self, *rows):
        self.rows = tuple((name, VersionRange(since, until), getter)
                          for name, since, until, getter in rows)
        self._by_version = {}

    def at(self, version) -> tuple:
        """((field, getter), ...) of *version* (worked out once per version)."""
        fields = self._by_version.get(version)
        if fields is None:
            fields = self._by_version[version] = tuple(
                (name, getter) for name, versions, getter in self.rows if version in versions)
        return fields

    def add(self, out: dict, version, *args) -> dict:
        for name, getter in self.at(version):
            out[name] = getter(*args)
        return out


def security_group_names(inst) -> list[str]:
    """The names of the security groups of *inst*: ``default`` for a row
    that never named any, none once the last one was removed."""
    names = inst.get("security_groups")
    return ["default"] if names is None else list(names)
