"""The placement service imports nothing of compute: its modules may use
the shared plumbing (wsgi, validation, apispec, context, exception, conf,
db.engines, policy), never the compute side (API, conductor, scheduler, compute,
virt, the compute databases, the placement client)."""
import ast
import pathlib

import compute_core.placement

ALLOWED = {"compute_core.wsgi", "compute_core.validation", "compute_core.apispec",
           "compute_core.context", "compute_core.exception", "compute_core.conf",
           "compute_core.db.engines", "compute_core.db.migration",
           "compute_core.policy",  # oslo.policy plumbing shared by both APIs
           "compute_core.clock"}  # the (test-settable) time source


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_placement_imports_nothing_of_compute():
    root = pathlib.Path(compute_core.placement.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert len(modules) > 5
    bad = []
    for path in modules:
        for name in _imports(path):
            if name == "compute_core" or not name.startswith("compute_core."):
                continue  # the package itself ("from compute_core import wsgi") or not ours
            if name == "compute_core.placement" or name.startswith("compute_core.placement."):
                continue
            if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED):
                bad.append((path.name, name))
    assert not bad, f"placement imports compute code: {bad}"
