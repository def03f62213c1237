"""The checked-in etc/compute.conf.sample is what oslo-config-generator
makes today from etc/compute-config-generator.conf.

When this fails, regenerate it from the repository's root:

    oslo-config-generator --config-file etc/compute-config-generator.conf
"""
from __future__ import annotations

import difflib
import os

from oslo_config import generator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
GENERATOR_CONF = os.path.join(ROOT, "etc", "compute-config-generator.conf")
SAMPLE = os.path.join(ROOT, "etc", "compute.conf.sample")


def test_sample_config_is_current(tmp_path):
    fresh = tmp_path / "compute.conf.sample"
    generator.main(["--config-file", GENERATOR_CONF, "--output-file", str(fresh)])
    with open(SAMPLE) as f:
        checked_in = f.read().splitlines()
    diff = list(difflib.unified_diff(checked_in, fresh.read_text().splitlines(),
                                     "etc/compute.conf.sample", "generated", lineterm=""))
    assert not diff, ("etc/compute.conf.sample is out of date; run `oslo-config-generator "
                      "--config-file etc/compute-config-generator.conf`:\n"
                      + "\n".join(diff[:60]))


def test_sample_covers_our_sections():
    with open(SAMPLE) as f:
        sections = {line.strip() for line in f if line.startswith("[")}
    for name in ("[DEFAULT]", "[api]", "[api_database]", "[database]", "[placement]",
                 "[placement_database]", "[filter_scheduler]", "[keystone_authtoken]",
                 "[oslo_messaging_rabbit]"):
        assert name in sections
