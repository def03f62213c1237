"""Finding plugins: every implementation is loaded by name through stevedore.

A missing or broken plugin is one clear error naming the group, the name
asked for and the names that are installed.
"""
from __future__ import annotations

from importlib import metadata

import stevedore
from stevedore import exception as sv_exc

from compute_core import exception

VIRT_DRIVERS = "compute_core.virt_drivers"
FILTERS = "compute_core.scheduler.filters"
WEIGHERS = "compute_core.scheduler.weighers"
CONSOLE_PROXIES = "compute_core.console_proxies"
IMAGE_BACKENDS = "compute_core.image_backends"
NETWORK_BACKENDS = "compute_core.network_backends"
GROUPS = (VIRT_DRIVERS, FILTERS, WEIGHERS, CONSOLE_PROXIES, IMAGE_BACKENDS, NETWORK_BACKENDS)


def installed(group: str) -> list[str]:
    return sorted({ep.name for ep in metadata.entry_points(group=group)})


def _failure(group, name, err):
    return exception.PluginLoadError(
        f"cannot load plugin {name!r} of group {group}: {err}; installed: "
        f"{', '.join(installed(group)) or 'none'}")


def load_one(group: str, name: str):
    """The object an entry point names (a class, usually), not instantiated."""
    errors = []

    def _on_fail(manager, ep, err):
        errors.append(f"{type(err).__name__}: {err}")

    try:
        mgr = stevedore.DriverManager(group, name, invoke_on_load=False,
                                      on_load_failure_callback=_on_fail)
    except sv_exc.NoMatches:
        raise _failure(group, name, errors[0] if errors else "not installed") from None
    except (RuntimeError, ImportError) as exc:
        raise _failure(group, name, errors[0] if errors else exc) from None
    return mgr.driver


def load_many(group: str, names: list[str]) -> list[tuple[str, object]]:
    """(name, plugin) pairs in the order of *names*; ``all`` means every
    installed plugin of the group, sorted by name."""
    if list(names) == ["all"]:
        names = installed(group)
    return [(n, load_one(group, n)) for n in names]


def describe_installed() -> dict[str, list[dict]]:
    """{group: [{"name", "target", "distribution", "version"}]} for discovery."""
    out: dict = {}
    for group in GROUPS:
        rows = []
        for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            rows.append({"name": ep.name, "target": ep.value,
                         "distribution": dist.metadata["Name"] if dist else "?",
                         "version": dist.version if dist else "?"})
        out[group] = rows
    return out
