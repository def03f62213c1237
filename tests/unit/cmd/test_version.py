"""--version on every console script the distribution installs."""
import importlib
from importlib import metadata

import pytest

SCRIPTS = [ep for ep in metadata.entry_points(group="console_scripts")
           if ep.value.startswith("compute_core.")]


def test_every_command_is_listed():
    assert {"compute-aio", "compute-manage", "compute-status", "compute-api",
            "compute-placement-api", "compute-image-api", "compute-conductor",
            "compute-scheduler", "compute-compute"} <= {ep.name for ep in SCRIPTS}


@pytest.mark.parametrize("entry", SCRIPTS, ids=lambda ep: ep.name)
def test_version(entry, capsys):
    module, _, attr = entry.value.partition(":")
    main = getattr(importlib.import_module(module), attr)
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == \
        f"{entry.name} {metadata.version('compute_core')}"
