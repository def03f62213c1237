"""Configuration: build a fresh, fully registered oslo.config ConfigOpts.

Each service (and each embedded Cloud) gets its own ConfigOpts from
:func:`load`; the module-level ``cfg.CONF`` is never used.
"""
from __future__ import annotations

from oslo_messaging import opts as messaging_opts
import importlib

from oslo_config import cfg

from compute_core import exception
from compute_core.conf.opts import (SHARED_GROUPS, list_opts, register_all,
                                    register_placement_auth_plugin)

__all__ = ["load", "list_opts", "validate", "apply_pending_overrides",
           "check_pending_overrides"]


def load(args=None, config_files=None, overrides=None, project="compute_core",
         cli_opts=None) -> cfg.ConfigOpts:
    """Return a new ConfigOpts with every option registered and parsed.

    *overrides* maps "group.option" (or "option" for DEFAULT) to a value and
    wins over the files. Raises :class:`exception.ConfigError` with one line
    describing the first invalid value.
    """
    conf = cfg.ConfigOpts()
    register_all(conf)
    # oslo.messaging's own options (transport_url, rpc_response_timeout,
    # [oslo_messaging_notifications] ...) on this instance, not the global.
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    # oslo.messaging reads its tracing options from the transport's conf but
    # registers them only on the global one.
    for module, attr, group in (("oslo_messaging._tracing.client", "oslo_messaging_tracing",
                                 "oslo_messaging_tracing"),
                                ("oslo_messaging._metrics.client", "oslo_messaging_metrics",
                                 "oslo_messaging_metrics")):
        try:
            opts = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        if group not in conf:
            conf.register_opts(opts, group=group)
    if cli_opts:
        conf.register_cli_opts(cli_opts)
    files = list(config_files or [])
    try:
        conf(args=list(args or []), project=project, default_config_files=files,
             default_config_dirs=[], validate_default_values=True)
    except (cfg.Error, ValueError) as exc:
        raise exception.ConfigError(str(exc).splitlines()[0]) from None
    overrides = dict(overrides or {})
    # The auth plugin first: its options are registered for the one named.
    for key in ("placement.auth_type", "placement.auth_section"):
        if key in overrides:
            _override(conf, key, overrides.pop(key))
    register_placement_auth_plugin(conf)
    conf._compute_core_pending = {}
    for key, value in overrides.items():
        group, _, name = key.rpartition(".")
        if group and (group not in conf._groups or (
                group in SHARED_GROUPS and not _registered(conf, group, name))):
            # Maybe a plugin's option (or group: [libvirt] has one option
            # of compute_core's): plugins register their options when they
            # load. Applied then (apply_pending_overrides); one that no
            # plugin claims is refused by check_pending_overrides.
            conf._compute_core_pending[key] = value
            continue
        _override(conf, key, value)
    validate(conf)
    return conf


def _override(conf, key, value) -> None:
    group, _, name = key.rpartition(".")
    try:
        conf.set_override(name, value, group=group or None)
    except cfg.NoSuchOptError:
        raise exception.ConfigError(
            f"unknown option {key!r}: [{group or 'DEFAULT'}] has no option {name!r}") from None
    except ValueError as exc:
        raise exception.ConfigError(f"invalid value for {key}: {exc}") from None


def _registered(conf, group, name) -> bool:
    return group in conf._groups and name in conf._groups[group]._opts


def apply_pending_overrides(conf) -> None:
    """Apply the overrides that waited for a plugin to register their option."""
    pending = getattr(conf, "_compute_core_pending", {})
    for key in [k for k in pending if _registered(conf, *k.rpartition(".")[::2])]:
        _override(conf, key, pending.pop(key))


def check_pending_overrides(conf) -> None:
    """Refuse the overrides of groups that nothing registered once every
    plugin is loaded, saying why they were not found."""
    pending = getattr(conf, "_compute_core_pending", {})
    if pending:
        key = next(iter(pending))
        group, _, name = key.rpartition(".")
        if group in conf._groups:
            raise exception.ConfigError(f"unknown option {key!r}: [{group}] has no option "
                                        f"{name!r}")
        raise exception.ConfigError(
            f"unknown option {key!r}: no option group [{key.rpartition('.')[0]}] is "
            "registered by compute_core or by any plugin it loaded (a plugin registers "
            "its options when it loads: is the plugin named in the configuration?)")


def validate(conf: cfg.ConfigOpts) -> None:
    """Read every option once so a bad value fails now, in one line; also
    refuse options in the config files that nothing registered."""
    for group, opts in [(None, conf._opts)] + [
        (g, conf._groups[g]._opts) for g in list(conf._groups)
    ]:
        for name in list(opts):
            try:
                getattr(conf[group] if group else conf, name)
            except (cfg.ConfigFileValueError, ValueError, cfg.Error) as exc:
                where = f"[{group or 'DEFAULT'}] {name}"
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise exception.ConfigError(f"invalid value for {where}: {msg}") from None
    _refuse_unknown(conf)


def _refuse_unknown(conf: cfg.ConfigOpts) -> None:
    namespace = getattr(conf, "_namespace", None)
    if namespace is None:
        return
    for section, options in namespace._normalized[0].items() if namespace._normalized else []:
        group = None if section == "DEFAULT" else section
        if group is not None and group not in conf._groups:
            # Sections of libraries loaded later (keystone_authtoken, ...)
            # are theirs to check.
            continue
        known = conf._opts if group is None else conf._groups[group]._opts
        for name in options:
            if name not in known:
                raise exception.ConfigError(
                    f"unknown option {name!r} in section [{section}]")
