"""compute_core_example_plugins: a third-party plugin distribution.

It is an ordinary Python package that depends on compute_core and declares
one plugin of each kind in compute_core's entry-point groups. Nothing in
compute_core refers to it: once installed, it is chosen by name in the
configuration, exactly like the in-tree plugins.
"""
from setuptools import setup

setup(
    name="compute_core_example_plugins",
    version="1.0.0",
    description="Example third-party plugins for compute_core: a virt driver, a scheduler "
                "filter and weigher, and a console proxy",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=["compute_core_example_plugins"],
    install_requires=["compute_core"],
    entry_points={
        "compute_core.virt_drivers": [
            "example = compute_core_example_plugins.driver:ExampleDriver",
        ],
        "compute_core.scheduler.filters": [
            "AvoidHostFilter = compute_core_example_plugins.scheduler:AvoidHostFilter",
        ],
        "compute_core.scheduler.weighers": [
            "PreferredHostWeigher = compute_core_example_plugins.scheduler:PreferredHostWeigher",
        ],
        "compute_core.console_proxies": [
            "example-line = compute_core_example_plugins.console:LineConsoleProxy",
        ],
    },
)
