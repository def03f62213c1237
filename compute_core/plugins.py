"""Finding plugins: every implementation is loaded by name through stevedore.

:func:`load_plugin` is the one way the services get a plugin object: it
finds the entry point, imports it, checks the class against the contract it
must fulfil (its base class, its abstract methods, its constructor), builds
it, and checks the options it registered. Whatever is wrong becomes one
:class:`~compute_core.exception.PluginLoadError` line naming the group, the
plugin, the distribution that provides it and the reason.
"""
from __future__ import annotations

import inspect
import logging
from importlib import metadata

import stevedore
from oslo_config import cfg
from stevedore import exception as sv_exc

from compute_core import exception

LOG = logging.getLogger(__name__)

VIRT_DRIVERS = "compute_core.virt_drivers"
FILTERS = "compute_core.scheduler.filters"
WEIGHERS = "compute_core.scheduler.weighers"
CONSOLE_PROXIES = "compute_core.console_proxies"
IMAGE_BACKENDS = "compute_core.image_backends"
NETWORK_BACKENDS = "compute_core.network_backends"
GROUPS = (VIRT_DRIVERS, FILTERS, WEIGHERS, CONSOLE_PROXIES, IMAGE_BACKENDS, NETWORK_BACKENDS)

#: The distribution of the in-tree plugins (what ``weighers = all`` means).
IN_TREE = "compute_core"


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """{name: entry point} read from the installed metadata now (stevedore's
    cache can lag behind a reinstall)."""
    found = {}
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        found.setdefault(ep.name, ep)
    return found


def _distribution(ep) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "?", "?"
    return dist.metadata["Name"], dist.version


def installed(group: str, distribution: str | None = None) -> list[str]:
    """Names installed in *group* (only those of *distribution* if given)."""
    return [name for name, ep in _entry_points(group).items()
            if distribution is None or _distribution(ep)[0] == distribution]


def _who(group: str, name: str) -> str:
    ep = _entry_points(group).get(name)
    if ep is None:
        return f"plugin {name!r} of group {group}"
    dist, version = _distribution(ep)
    return f"plugin {name!r} of group {group} ({ep.value}, distribution {dist} {version})"


def _failure(group, name, err, with_installed=True):
    installed_names = f"; installed: {', '.join(installed(group)) or 'none'}" \
        if with_installed else ""
    return exception.PluginLoadError(f"cannot load {_who(group, name)}: {err}{installed_names}")


def load_one(group: str, name: str):
    """The object an entry point names (a class, usually), not instantiated."""
    errors = []

    def _on_fail(manager, ep, err):
        errors.append(f"{type(err).__name__}: {err}")

    try:
        mgr = stevedore.DriverManager(group, name, invoke_on_load=False,
                                      on_load_failure_callback=_on_fail)
    except sv_exc.NoMatches:
        if errors:
            raise _failure(group, name, f"it does not import: {errors[0]}") from None
        ep = _entry_points(group).get(name)
        if ep is None:
            raise _failure(group, name, "not installed") from None
        # Installed, but stevedore's entry-point cache predates the install:
        # its key rounds file times to about two minutes. Load it from the
        # metadata instead of saying "not installed" beside its own name.
        LOG.warning("stevedore's entry-point cache does not list %s, installed since it was "
                    "written; loading it from the installed metadata", _who(group, name))
        try:
            return ep.load()
        except Exception as exc:
            # (with the installed names, as when stevedore's cache is current)
            raise _failure(group, name, f"it does not import: {type(exc).__name__}: {exc}") \
                from None
    except (RuntimeError, ImportError) as exc:
        raise _failure(group, name, f"it does not import: {errors[0] if errors else exc}") \
            from None
    return mgr.driver


def load_plugins(group: str, names: list[str], base: type, conf, *args) -> list:
    """:func:`load_plugin` for each of *names*, in order; ``all`` means every
    in-tree plugin of the group (a third-party one runs only when named)."""
    if list(names) == ["all"]:
        names = installed(group, IN_TREE)
    return [load_plugin(group, n, base, conf, *args) for n in names]


def check_class(group: str, name: str, cls, base: type, args: tuple) -> None:
    """Refuse, in one line, a class that cannot honour *base*'s contract."""
    if not (isinstance(cls, type) and issubclass(cls, base)):
        what = cls.__name__ if isinstance(cls, type) else type(cls).__name__
        raise _failure(group, name, f"{what} is not a {base.__name__} (subclass "
                                    f"{base.__module__}.{base.__name__})")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise _failure(group, name, f"{cls.__name__} does not implement the abstract "
                                    f"method(s) {', '.join(missing)} of {base.__name__}",
                       with_installed=False)
    try:
        inspect.signature(cls).bind(*args)
    except TypeError as exc:
        raise _failure(group, name, f"its constructor {cls.__name__}"
                                    f"{_parameters(cls)} cannot be called as "
                                    f"{base.__name__}{_parameters(base)}: {exc}",
                       with_installed=False) from None
    except ValueError:
        pass  # no signature to read (a C type): let the call decide


def _parameters(cls) -> str:
    """"(conf, host)": a constructor's parameter names."""
    try:
        params = inspect.signature(cls).parameters.values()
    except ValueError:
        return "(...)"
    return "(" + ", ".join(("*" if p.kind is p.VAR_POSITIONAL else
                            "**" if p.kind is p.VAR_KEYWORD else "") + p.name
                           for p in params) + ")"


def _registered(conf) -> set[tuple[str | None, str]]:
    out = {(None, name) for name in conf._opts}
    for group in list(conf._groups):
        out.update((group, name) for name in conf._groups[group]._opts)
    return out


def load_plugin(group: str, name: str, base: type, conf, *args):
    """The plugin *name* of *group*, checked against *base* and constructed
    as ``cls(conf, *args)``; the options it registers are checked (and the
    overrides that waited for them applied) before it is returned."""
    cls = load_one(group, name)
    check_class(group, name, cls, base, (conf, *args))
    before = _registered(conf)
    try:
        plugin = cls(conf, *args)
    except cfg.DuplicateOptError as exc:
        where = sorted(f"[{g or 'DEFAULT'}]" for g, o in before if o == exc.opt_name)
        raise _failure(group, name, f"it registers option {exc.opt_name!r} differently from "
                                    f"the one already registered in {', '.join(where)} (by "
                                    "compute_core or another plugin)",
                       with_installed=False) from None
    except exception.PluginLoadError:
        raise
    except (cfg.Error, ValueError) as exc:
        raise _failure(group, name, _option_error(exc), with_installed=False) from None
    added = _registered(conf) - before
    if added:
        _check_plugin_options(conf, group, name, added)
    return plugin


def _option_error(exc) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"bad value of one of its options: {text}"


def _check_plugin_options(conf, group, name, added) -> None:
    from compute_core import conf as conf_mod

    try:
        conf_mod.apply_pending_overrides(conf)
    except exception.ConfigError as exc:
        raise _failure(group, name, str(exc), with_installed=False) from None
    for opt_group, opt in sorted(added, key=lambda k: (k[0] or "", k[1])):
        try:
            getattr(conf[opt_group] if opt_group else conf, opt)
        except (cfg.ConfigFileValueError, ValueError, cfg.Error) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _failure(group, name, f"bad value of its option [{opt_group or 'DEFAULT'}] "
                                        f"{opt}: {msg}", with_installed=False) from None


def _load_status(ep) -> str:
    try:
        ep.load()
    except Exception as exc:  # any import failure is what we report
        return f"cannot load: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "ok"


def describe_installed(check=True) -> dict[str, list[dict]]:
    """{group: [{"name", "target", "distribution", "version", "status"}]};
    *status* is "ok" or why the entry point does not import."""
    out: dict = {}
    for group in GROUPS:
        rows = []
        for name, ep in _entry_points(group).items():
            dist, version = _distribution(ep)
            rows.append({"name": name, "target": ep.value, "distribution": dist,
                         "version": version, "status": _load_status(ep) if check else ""})
        out[group] = rows
    return out
