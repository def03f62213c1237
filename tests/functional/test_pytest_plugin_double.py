"""The plugin's test-double fixtures from outside, in an inner pytest run:
forked_compute_cloud (a seeded cloud restored per test), the leak check,
and all of it under pytest-xdist with two workers (issue 24 items 4, 7, 8)."""
import os
import subprocess
import sys
import textwrap

import pytest

FORKED_TESTS = '''
import os

import pytest

from compute_core.testing import api_request, first_image_id, wait_for_server


def _names(cloud):
    return sorted(s["name"] for s in
                  api_request(cloud, "GET", "/servers", token=cloud.member_token)
                  .json()["servers"])


@pytest.mark.parametrize("i", range(6))
def test_each_test_starts_from_the_seed(forked_compute_cloud, i):
    cloud = forked_compute_cloud
    assert _names(cloud) == ["seed-1", "seed-2"]
    body = {"server": {"name": f"mine-{i}", "imageRef": first_image_id(cloud),
                       "flavorRef": "1"}}
    sid = api_request(cloud, "POST", "/servers", body=body,
                      token=cloud.member_token).json()["server"]["id"]
    assert wait_for_server(cloud, sid)["status"] == "ACTIVE"
    assert _names(cloud) == ["mine-%d" % i, "seed-1", "seed-2"]
    # Per-test call log: only this test's calls (the restore emptied it).
    assert len(cloud.calls(route="/servers", method="POST")) == 1
    api_request(cloud, "DELETE", f"/servers/{sid}")
    wait_for_server(cloud, sid, ("DELETED",))
    with open(os.environ["WORKERS_FILE"], "a") as f:
        f.write(f"{os.environ.get('PYTEST_XDIST_WORKER')} {cloud.compute_url}\\n")


def test_fresh_cloud_runs_on_real_time(fresh_compute_cloud):
    assert not fresh_compute_cloud.clock.virtual


@pytest.mark.compute_cloud_config(clock="virtual")
def test_marker_gives_a_virtual_clock(fresh_compute_cloud):
    before = fresh_compute_cloud.clock.time()
    fresh_compute_cloud.clock.advance(3600)
    assert fresh_compute_cloud.clock.time() - before >= 3600
'''

LEAKY_TESTS = '''
from compute_core.testing import api_request, first_image_id, wait_for_server


def test_forgets_its_server(forked_compute_cloud):
    cloud = forked_compute_cloud
    body = {"server": {"name": "forgotten", "imageRef": first_image_id(cloud),
                       "flavorRef": "1"}}
    sid = api_request(cloud, "POST", "/servers", body=body).json()["server"]["id"]
    wait_for_server(cloud, sid)


def test_cleans_up(forked_compute_cloud):
    assert forked_compute_cloud.leaks(forked_compute_cloud.seed_snapshot) == {}
'''


def _pytest(path, *args):
    env = dict(os.environ, WORKERS_FILE=str(path / "workers.txt"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(path), *args, str(path)], cwd=path, capture_output=True, text=True, timeout=600,
        env=env)


def test_forked_fixture_under_xdist(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    (tmp_path / "test_forked.py").write_text(textwrap.dedent(FORKED_TESTS))
    result = _pytest(tmp_path, "-n", "2", "--compute-cloud-leaks=fail")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "8 passed" in out
    # Two workers, each with its own seeded cloud on its own port.
    seen = {tuple(line.split()) for line in (tmp_path / "workers.txt").read_text().splitlines()}
    assert {worker for worker, _ in seen} == {"gw0", "gw1"}, seen
    assert len({url for _, url in seen}) == 2, seen


def test_leak_check_fails_the_leaky_test_only(tmp_path):
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(LEAKY_TESTS))
    result = _pytest(tmp_path, "--compute-cloud-leaks=fail")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "2 passed" in out and "1 error" in out  # the test passed, its teardown erred
    assert "test_forgets_its_server left behind servers:" in out
    assert "allocations:" in out and "ports:" in out
    warned = _pytest(tmp_path, "--compute-cloud-leaks=warn")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "LeakWarning" in warned.stdout
