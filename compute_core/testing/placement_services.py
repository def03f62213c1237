"""Two placement services side by side, for the benchmark and the
differential tests: compute_core's (``compute-placement-api`` in a process
of its own) and openstack-placement 16 from PyPI (behind gunicorn, from a
virtualenv of its own; never imported here).

``ensure_reference_venv`` creates that virtualenv once (``pip install
openstack-placement==16.0.0 gunicorn pymysql psycopg2-binary``; ``.ci/setup``
calls it through ``python -m compute_core.testing.placement_services``);
``database`` makes a fresh database on SQLite, MariaDB or PostgreSQL;
``serve_ours`` and ``serve_reference`` run each service on it and yield its
base URL.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import requests
import sqlalchemy as sa

REFERENCE_REQUIREMENT = "openstack-placement==16.0.0"
# Where .ci/setup puts the reference virtualenv (kept between CI runs).
DEFAULT_REFERENCE_VENV = os.environ.get("PLACEMENT_REFERENCE_VENV",
                                        "/var/cache/compute_core/placement-16")
_VENV_PACKAGES = (REFERENCE_REQUIREMENT, "gunicorn", "pymysql", "psycopg2-binary")
_MARKER = "compute_core-reference.txt"  # written last: the venv is complete

# What the compute-placement-api console script runs (the installed script
# may point at another checkout).
PLACEMENT_MAIN = ("import sys; from compute_core.cmd.api import placement_main; "
                  "sys.exit(placement_main(sys.argv[1:]))")
ADMIN_HEADERS = {"X-Auth-Token": "admin:admin", "Accept": "application/json"}


# ------------------------------------------------------------ the reference

def reference_venv_ready(venv: str = DEFAULT_REFERENCE_VENV) -> bool:
    try:
        with open(os.path.join(venv, _MARKER), encoding="utf-8") as f:
            return f.read().strip() == REFERENCE_REQUIREMENT
    except OSError:
        return False


def ensure_reference_venv(venv: str = DEFAULT_REFERENCE_VENV, quiet: bool = True) -> str:
    """Create (once) a virtualenv with openstack-placement 16 and gunicorn."""
    if reference_venv_ready(venv):
        return venv
    if os.path.exists(venv):
        shutil.rmtree(venv)
    os.makedirs(os.path.dirname(venv) or ".", exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install",
           "--disable-pip-version-check"] + (["-q"] if quiet else [])
    subprocess.run(pip + list(_VENV_PACKAGES), check=True)
    with open(os.path.join(venv, _MARKER), "w", encoding="utf-8") as f:
        f.write(REFERENCE_REQUIREMENT + "\n")
    return venv


@contextlib.contextmanager
def serve_reference(url: str, venv: str = DEFAULT_REFERENCE_VENV, workers: int = 1,
                    extra_conf: str = "", files: dict | None = None):
    """openstack-placement behind gunicorn on *url*, noauth2.

    *extra_conf* is appended to its placement.conf; *files* ({name: text})
    are written beside it (a policy file, say)."""
    with tempfile.TemporaryDirectory(prefix="ref-placement-") as tmp:
        for name, text in (files or {}).items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(tmp, "placement.conf"), "w", encoding="utf-8") as f:
            f.write(f"[placement_database]\nconnection = {url}\n"
                    "[api]\nauth_strategy = noauth2\n" + extra_conf.replace("{dir}", tmp))
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=tmp)
        env.pop("PYTHONPATH", None)
        subprocess.run([os.path.join(venv, "bin", "placement-manage"), "--config-dir", tmp,
                        "db", "sync"], check=True, env=env, capture_output=True)
        port = free_port()
        with _serving([os.path.join(venv, "bin", "gunicorn"), "-b", f"127.0.0.1:{port}",
                       "--workers", str(workers), "--timeout", "600",
                       "placement.wsgi.api:application"],
                      port, os.path.join(tmp, "gunicorn.log"), "openstack-placement",
                      env=env) as base:
            yield base


# ---------------------------------------------------------------------- ours

def migrate_ours(url: str) -> None:
    """Create compute_core's placement schema (and standard traits) on *url*."""
    from compute_core import assembly
    from compute_core import conf as conf_mod
    from compute_core.db import migration
    from compute_core.placement import objects

    conf = conf_mod.load(args=[], overrides={"placement_database.connection": url})
    services = assembly.PlacementServices(conf)
    try:
        migration.upgrade(services.db, "placement")
        objects.ensure_standard_traits(services.db)
    finally:
        services.close()


@contextlib.contextmanager
def serve_ours(url: str, threads: int = 16, extra_conf: str = "",
               files: dict | None = None, root: str | None = None):
    """compute-placement-api in a process of its own on *url*, noauth2, as
    operators run it: it shares no interpreter with its client. *root*: the
    checkout whose code it runs (default this one; another commit's
    worktree for a before/after benchmark)."""
    migrate_ours(url)
    with tempfile.TemporaryDirectory(prefix="our-placement-") as tmp:
        for name, text in (files or {}).items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        config = os.path.join(tmp, "compute.conf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(f"[placement_database]\nconnection = {url}\n"
                    f"[api]\nauth_strategy = noauth2\n[wsgi]\nthreads = {threads}\n"
                    + extra_conf.replace("{dir}", tmp))
        port = free_port()
        env = dict(os.environ)
        # The checkout this module comes from wins over an installed one.
        root = root or os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(
            [root, os.path.join(root, "plugins")] + ([env["PYTHONPATH"]]
                                                     if env.get("PYTHONPATH") else []))
        with _serving([sys.executable, "-W", "ignore", "-c", PLACEMENT_MAIN,
                       "--config-file", config, "--host", "127.0.0.1", "--port", str(port)],
                      port, os.path.join(tmp, "placement.log"), "compute-placement-api",
                      env=env) as base:
            yield base


# ----------------------------------------------------------------- databases

@contextlib.contextmanager
def database(server: str, name: str):
    """A new, empty database called *name* on *server* (a SQLAlchemy URL of
    the server, ``mysql+pymysql://root@127.0.0.1/`` or
    ``postgresql+psycopg2://postgres@127.0.0.1/``; ``sqlite://`` gives a
    file in a temporary directory); yields its URL and drops it after."""
    if server.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
            yield f"sqlite:///{os.path.join(tmp, name + '.db')}"
        return
    mysql = server.startswith("mysql")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"
                             + (" CHARACTER SET utf8mb4" if mysql else "")))
    try:
        url = sa.engine.make_url(server).set(database=name)
        if mysql:
            url = url.update_query_dict({"charset": "utf8mb4"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if not mysql:
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _serving(command, port, log_path, name, env=None):
    """Run *command* (a server on *port*), yield its base URL once it answers."""
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield _wait_serving(f"http://127.0.0.1:{port}", proc, name, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_serving(base, proc, name, log_path):
    for _ in range(600):
        if proc.poll() is not None:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
        try:
            if requests.get(base + "/", headers=ADMIN_HEADERS, timeout=5).ok:
                return base
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or slow to start on a loaded machine
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    """``python -m compute_core.testing.placement_services [VENV]``: create
    the reference virtualenv (what .ci/setup runs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    venv = args[0] if args else DEFAULT_REFERENCE_VENV
    print(ensure_reference_venv(venv, quiet=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
