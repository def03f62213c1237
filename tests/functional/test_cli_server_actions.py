"""OpenStackClient, unchanged, drives the server actions (issue 19 items 4
and 6): server lock/unlock (with a reason), rebuild, shelve/unshelve,
event list and console log show; the output is checked, not only the exit
codes."""
import json
import os
import subprocess
import sys

import pytest

from compute_core.testing import first_image_id, wait_for_server

pytest.importorskip("openstackclient", reason="OpenStackClient is not installed")


def _run(*args, version=None):
    cmd = [sys.executable, "-m", "openstackclient.shell"]
    if version:
        cmd += ["--os-compute-api-version", version]
    # OS_CLIENT_CONFIG_FILE / OS_CLOUD come from the compute_cloud fixture.
    out = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return out.stdout


def _json(*args, version=None):
    return json.loads(_run(*args, "-f", "json", version=version))


@pytest.fixture
def cli_server(compute_cloud):
    created = _json("server", "create", "--flavor", "m1.tiny", "--image",
                    first_image_id(compute_cloud), "--nic", "auto", "--wait", "cli-actions")
    assert created["status"] == "ACTIVE"
    yield created["id"]
    subprocess.run([sys.executable, "-m", "openstackclient.shell", "server", "unlock",
                    created["id"]], timeout=120)
    subprocess.run([sys.executable, "-m", "openstackclient.shell", "server", "delete",
                    "--wait", created["id"]], timeout=120)


def test_lock_rebuild_shelve_events_console(compute_cloud, cli_server):
    sid = cli_server
    _run("server", "lock", "--reason", "do not touch", sid, version="2.73")
    shown = _json("server", "show", sid, version="2.73")
    assert shown["locked"] is True and shown["locked_reason"] == "do not touch"
    _run("server", "unlock", sid, version="2.73")
    assert _json("server", "show", sid, version="2.73")["locked"] is False

    image = first_image_id(compute_cloud)
    # --wait prints its progress before the table
    rebuilt = _run("server", "rebuild", "--image", image, "--name", "cli-rebuilt", "--wait",
                   sid)
    assert sid in rebuilt and "cli-rebuilt" in rebuilt
    assert _json("server", "show", sid)["name"] == "cli-rebuilt"
    log = _run("console", "log", "show", sid)
    assert log.splitlines() == [f"{sid} booted from image {image}",
                                f"rebuilt from image {image}"]
    assert _run("console", "log", "show", "--lines", "1", sid) == \
        f"rebuilt from image {image}\n"

    _run("server", "shelve", "--wait", sid)
    assert _json("server", "show", sid)["status"] == "SHELVED_OFFLOADED"
    _run("server", "unshelve", "--wait", sid)
    assert wait_for_server(compute_cloud, sid)["status"] == "ACTIVE"

    events = _json("server", "event", "list", sid)
    actions = [e["Action"] for e in events]
    assert actions[:6] == ["unshelve", "shelve", "rebuild", "unlock", "lock", "create"]
    request_id = events[0]["Request ID"]
    event = _json("server", "event", "show", sid, request_id, version="2.84")
    assert event["action"] == "unshelve"
    assert {e["event"] for e in event["events"]} == {"conductor_unshelve_instance",
                                                     "compute_unshelve_instance"}

    # Unshelved from offload, the guest was spawned anew from the shelve's
    # snapshot (deleted since), not from the server's image.
    log = _run("console", "log", "show", sid)
    assert log.startswith(f"{sid} booted from image ") and image not in log
