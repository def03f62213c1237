"""compute_core_broken_plugins: one plugin broken in each way a plugin can be.

The plugin-loading test installs it beside the working example distribution
and checks that each failure stops a cloud at start with one line naming
the group, the plugin, this distribution and the reason.
"""
from setuptools import setup

setup(
    name="compute_core_broken_plugins",
    version="0.1.0",
    description="Deliberately broken compute_core plugins (a test fixture)",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=["compute_core_broken_plugins"],
    install_requires=["compute_core"],
    entry_points={
        "compute_core.virt_drivers": [
            "no-import = compute_core_broken_plugins.not_there:Driver",
            "half = compute_core_broken_plugins.drivers:HalfDriver",
            "one-arg = compute_core_broken_plugins.drivers:OneArgumentDriver",
            "not-a-driver = compute_core_broken_plugins.drivers:NotADriver",
            "bad-option = compute_core_broken_plugins.drivers:OptionDriver",
        ],
        "compute_core.scheduler.filters": [
            "LabelAsText = compute_core_broken_plugins.filters:LabelAsTextFilter",
            "LabelAsNumber = compute_core_broken_plugins.filters:LabelAsNumberFilter",
        ],
    },
)
