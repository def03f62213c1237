"""The README's test-double example, run as a separate project under
pytest-xdist with two workers (issue 24 items 4-8)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("### The test double"):]
    section = section[:section.index("\n## ")]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_readme_example_passes_under_xdist(tmp_path):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    (tmp_path / "test_with_the_double.py").write_text(_example())
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--compute-cloud-leaks=warn", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    assert "4 passed" in out, out[-3000:]
