"""ImagePropertiesFilter: the host can run the image's architecture,
hypervisor type and VM mode (``hw_architecture``, ``img_hv_type``,
``hw_vm_mode``), at the hypervisor version the image asks for
(``img_hv_requested_version``, e.g. ``>=6.0,<7``), with enough physical
address bits (``hw_maxphysaddr_bits``).

What a host can run is its ``supported_instances`` triples as the driver
reports them; a host reporting none is taken to run its CPU's architecture
(``cpu_info["arch"]``) under its ``hypervisor_type`` in ``hvm`` mode.
"""
from __future__ import annotations

import json
import logging
import re

from compute_core_plugins.filters.per_request import PerRequestFilter

LOG = logging.getLogger(__name__)

# Spellings that name the same thing (compared lower-case).
_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "i386": "i686", "i486": "i686",
                 "i586": "i686", "x86_32": "i686", "ia32": "i686", "arm64": "aarch64",
                 "ppc64el": "ppc64le"}
_HV_ALIASES = {"xapi": "xen"}
_MODE_ALIASES = {"hv": "hvm", "baremetal": "hvm", "pv": "xen"}

_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+(?:\.\d+)*)\s*$")


def canonical(value, aliases):
    if not value:
        return None
    value = str(value).lower()
    return aliases.get(value, value)


def version_tuple(version: int) -> tuple[int, int, int]:
    """A hypervisor version as drivers report it (major*1e6 + minor*1e3 + micro)."""
    return version // 1000000, version // 1000 % 1000, version % 1000


def version_satisfies(version: tuple, predicate: str) -> bool:
    """*predicate* is comma-separated conditions like ``>=6.0,<7``; a bare
    version means ``==``. Raises ValueError on a malformed predicate."""
    tests = {">=": tuple.__ge__, "<=": tuple.__le__, "==": tuple.__eq__,
             "!=": tuple.__ne__, ">": tuple.__gt__, "<": tuple.__lt__}
    for part in predicate.split(","):
        m = _CONDITION.match(part)
        if not m:
            raise ValueError(f"bad version condition {part!r}")
        wanted = tuple(int(x) for x in m.group(2).split("."))
        wanted += (0,) * (3 - len(wanted))
        if not tests[m.group(1) or "=="](version, wanted[:3]):
            return False
    return True


def cpu_info(host_state) -> dict:
    info = host_state.cpu_info
    if isinstance(info, dict):
        return info
    try:
        return json.loads(info or "{}")
    except ValueError:
        return {}


def reported_instances(host_state) -> list[tuple]:
    return [(canonical(a, _ARCH_ALIASES), canonical(h, _HV_ALIASES),
             canonical(m, _MODE_ALIASES)) for a, h, m in host_state.supported_instances]


class ImagePropertiesFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = True

    def prepare(self, spec_obj):
        props = spec_obj.image_properties
        arch = props.get("hw_architecture") or \
            self.conf.filter_scheduler.image_properties_default_architecture
        triple = (canonical(arch, _ARCH_ALIASES),
                  canonical(props.get("img_hv_type"), _HV_ALIASES),
                  canonical(props.get("hw_vm_mode"), _MODE_ALIASES))
        if not any(triple):
            # The version and address-bits checks refine an architecture,
            # hypervisor or mode match; alone they do not apply.
            return None
        # The last item collects this request's verdicts by (cpu_info,
        # hypervisor type, version): hosts of one model share a verdict.
        return (triple, props.get("img_hv_requested_version"),
                props.get("hw_maxphysaddr_bits"), {})

    def passes(self, host_state, wanted):
        if host_state.supported_instances or not isinstance(host_state.cpu_info, str):
            return self._judge(host_state, wanted)
        verdicts = wanted[3]
        key = (host_state.cpu_info, host_state.hypervisor_type, host_state.hypervisor_version)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = self._judge(host_state, wanted)
        return verdict

    def _judge(self, host_state, wanted) -> bool:
        triple, required, bits, _ = wanted
        info = cpu_info(host_state)
        if host_state.supported_instances:
            offered = reported_instances(host_state)
        else:
            arch = canonical(info.get("arch"), _ARCH_ALIASES)
            offered = [(arch, canonical(host_state.hypervisor_type, _HV_ALIASES), "hvm")] \
                if arch else []
        if not offered:
            LOG.debug("%s advertises no supported instances", host_state)
            return False
        if not any(all(w is None or w == o for w, o in zip(triple, supported))
                   for supported in offered):
            LOG.debug("%s cannot run %s", host_state, triple)
            return False
        if required and host_state.hypervisor_version and not version_satisfies(
                version_tuple(host_state.hypervisor_version), str(required)):
            LOG.debug("%s hypervisor version does not satisfy %s", host_state, required)
            return False
        if bits:
            have = (info.get("maxphysaddr") or {}).get("bits")
            if have and int(have) < int(bits):
                return False
        return True
