"""50 concurrent claims against a provider with room for 10 end with exactly
10 allocations and 40 clean 409s, on SQLite, MariaDB and PostgreSQL.

Each backend gets a fresh, uniquely named database that is dropped
afterwards; a backend whose daemon is unreachable is skipped with the reason.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid

import pytest
import requests
import sqlalchemy as sa

from compute_core import assembly
from compute_core import conf as conf_mod
from compute_core.db import migration
from compute_core.placement import objects

pytestmark = pytest.mark.integration

CLAIMS = 50
ROOM = 10
HEADERS = {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "placement 1.39"}

SERVERS = {
    "mysql": os.environ.get("COMPUTE_CORE_TEST_MYSQL", "mysql+pymysql://root@127.0.0.1/"),
    "postgresql": os.environ.get("COMPUTE_CORE_TEST_POSTGRESQL",
                                 "postgresql+psycopg2://postgres@127.0.0.1/postgres"),
}


@contextlib.contextmanager
def fresh_database(backend):
    """Yield the URL of a new empty database on *backend*; drop it after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/placement.sqlite"
        return
    name = f"placement_conc_{uuid.uuid4().hex[:12]}"
    server = sa.engine.make_url(SERVERS[backend])
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - any connect failure means "no daemon"
        admin.dispose()
        pytest.skip(f"{backend} unreachable at {server.render_as_string()}: "
                    f"{str(exc).splitlines()[0]}")
    try:
        url = server.set(database=name)
        if backend == "mysql":
            url = url.update_query_dict({"charset": "utf8mb4"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            conn.execute(sa.text(f"DROP DATABASE {name}"))
        admin.dispose()


@contextlib.contextmanager
def placement_server(url):
    conf = conf_mod.load(args=[], overrides={"placement_database.connection": url,
                                             "api.auth_strategy": "noauth2"})
    services = assembly.PlacementServices(conf)
    try:
        migration.upgrade(services.db, "placement")
        objects.ensure_standard_traits(services.db)
        app = assembly.load_wsgi_app(conf, "placement", services)
        server = assembly.WSGIServer(app, "127.0.0.1", 0, threads=CLAIMS + 10,
                                     name="placement-concurrency")
        server.start()
        try:
            yield server.url
        finally:
            server.stop()
    finally:
        services.close()


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgresql"])
def test_fifty_claims_ten_fit(backend):
    with fresh_database(backend) as url, placement_server(url) as base:
        rp = str(uuid.uuid4())
        r = requests.post(f"{base}/resource_providers", headers=HEADERS,
                          json={"name": "contended", "uuid": rp})
        assert r.status_code == 200, r.text
        r = requests.put(f"{base}/resource_providers/{rp}/inventories", headers=HEADERS,
                         json={"resource_provider_generation": 0,
                               "inventories": {"VCPU": {"total": ROOM}}})
        assert r.status_code == 200, r.text

        barrier = threading.Barrier(CLAIMS)
        results: list = [None] * CLAIMS

        def claim(i):
            body = {"allocations": {rp: {"resources": {"VCPU": 1}}},
                    "project_id": "p", "user_id": "u", "consumer_generation": None,
                    "consumer_type": "INSTANCE"}
            with requests.Session() as session:
                # Open the keep-alive connection first: the server's listen
                # backlog is small, and the race under test is the claims.
                for attempt in range(20):
                    try:
                        session.get(f"{base}/", headers=HEADERS, timeout=30)
                        break
                    except requests.ConnectionError:
                        threading.Event().wait(0.05 * (attempt + 1))
                barrier.wait()
                resp = session.put(f"{base}/allocations/{uuid.uuid4()}", headers=HEADERS,
                                   json=body, timeout=120)
            results[i] = (resp.status_code, resp.text)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(CLAIMS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)

        codes = sorted(code for code, _ in results)
        assert codes.count(204) == ROOM, results
        assert codes.count(409) == CLAIMS - ROOM, results
        for code, text in results:
            if code == 409:
                error = requests.models.complexjson.loads(text)["errors"][0]
                assert error["status"] == 409
                assert error["code"] in ("placement.undefined_code",
                                         "placement.concurrent_update")
        usage = requests.get(f"{base}/resource_providers/{rp}/usages", headers=HEADERS).json()
        assert usage["usages"] == {"VCPU": ROOM}
        allocs = requests.get(f"{base}/resource_providers/{rp}/allocations",
                              headers=HEADERS).json()["allocations"]
        assert len(allocs) == ROOM
