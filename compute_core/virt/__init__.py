"""Hypervisor drivers: the :class:`ComputeDriver` contract and its loader.

Drivers are plugins in the ``compute_core.virt_drivers`` entry-point group,
chosen by ``[DEFAULT] compute_driver``.
"""
from compute_core.virt.driver import (  # noqa: F401
    ComputeDriver, InstanceInfo, HostResources, PowerState, load_driver)
