"""No eventlet in compute_core's processes: threads are the concurrency
model, and importing eventlet (which futurist and oslo.utils do whenever
they can) printed a deprecation warning on every start."""
import subprocess
import sys

CHECK = """
import sys, warnings
warnings.simplefilter("always")
from compute_core import Cloud
with Cloud() as cloud:
    pass
assert sys.modules.get("eventlet") is None, sys.modules.get("eventlet")
print("threads only")
"""


def test_a_cloud_runs_without_eventlet():
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "threads only" in proc.stdout
    assert "Eventlet is deprecated" not in proc.stderr
    # Our own code raises no deprecation warning either (others' may).
    ours = [line for line in proc.stderr.splitlines()
            if "Warning" in line and "/compute_core/" in line]
    assert ours == [], ours


def test_a_host_program_that_chose_eventlet_keeps_it():
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         "import eventlet, sys; import compute_core; "
         "assert sys.modules['eventlet'] is eventlet; print('kept')"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "kept" in proc.stdout, proc.stderr[-2000:]
