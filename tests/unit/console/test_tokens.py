"""Console tokens: random, stored as a hash only, expiring, and dropped with
their instance's deletion, move or rebuild."""
from __future__ import annotations

import hashlib
import uuid

import pytest
import sqlalchemy as sa

from compute_core.console import tokens
from compute_core.db import cell_db, migration
from compute_core.db import cell_schema as t
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(database, "cell")
    yield database
    database.dispose()


def _rows(db):
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t.console_auth_tokens))]


def _instance(db, host="host1"):
    uid = str(uuid.uuid4())
    cell_db.create_instance(db, {"uuid": uid, "host": host, "vm_state": "active",
                                 "project_id": "p", "user_id": "u"})
    return uid


def test_a_token_is_random_and_only_its_hash_is_stored(db):
    made = [tokens.create(db, "i-1", "novnc", "127.0.0.1", 5900, ttl=60)[0] for _ in range(20)]
    assert len(set(made)) == 20
    # 256 random bits, url-safe base64 without padding.
    assert all(len(tok) == 43 for tok in made)
    rows = _rows(db)
    stored = {r["token_hash"] for r in rows}
    assert stored == {hashlib.sha256(tok.encode()).hexdigest() for tok in made}
    for row in rows:
        assert not any(tok in str(value) for tok in made for value in row.values())


def test_validate_returns_what_the_token_opens(db):
    token, record = tokens.create(db, "i-1", "serial", "192.0.2.7", 10000, ttl=60,
                                  internal_access_path="/dev/pts/3",
                                  access_url_base="ws://proxy:6083/")
    found = tokens.validate(db, token)
    assert found == record
    assert found["host"] == "192.0.2.7" and found["port"] == 10000
    assert found["instance_uuid"] == "i-1" and found["console_type"] == "serial"
    assert found["internal_access_path"] == "/dev/pts/3"
    # Usable again until it expires (a reloaded console page reconnects).
    assert tokens.validate(db, token, console_types=("serial",)) == record


@pytest.mark.parametrize("token, reason", [
    (None, "no console token"), ("", "no console token"),
    ("x" * 300, "too long"), ("not-a-token", "unknown console token")])
def test_a_missing_or_unknown_token_says_why(db, token, reason):
    tokens.create(db, "i-1", "novnc", "127.0.0.1", 5900, ttl=60)
    with pytest.raises(tokens.InvalidToken, match=reason):
        tokens.validate(db, token)


def test_an_expired_token_is_refused_and_dropped_later(db):
    token, _ = tokens.create(db, "i-1", "novnc", "127.0.0.1", 5900, ttl=10, now=1000)
    assert tokens.validate(db, token, now=1009)["port"] == 5900
    with pytest.raises(tokens.InvalidToken, match="console token of instance i-1 expired"):
        tokens.validate(db, token, now=1010)
    # Making another token clears the expired rows.
    tokens.create(db, "i-2", "novnc", "127.0.0.1", 5901, ttl=10, now=1011)
    assert [r["instance_uuid"] for r in _rows(db)] == ["i-2"]
    assert tokens.delete_expired(db, now=2000) == 1 and _rows(db) == []


def test_a_token_for_another_console_type_is_refused(db):
    token, _ = tokens.create(db, "i-1", "serial", "127.0.0.1", 5900, ttl=60)
    with pytest.raises(tokens.InvalidToken, match="is for a serial console, not novnc"):
        tokens.validate(db, token, console_types=("novnc",))


def test_a_console_without_an_address_gets_no_token(db):
    from compute_core import exception

    for host, port in (("", 5900), ("127.0.0.1", 0), ("127.0.0.1", 70000),
                       ("127.0.0.1", "5900")):
        with pytest.raises(exception.Invalid):
            tokens.create(db, "i-1", "novnc", host, port, ttl=60)
    assert _rows(db) == []


def test_tokens_go_with_the_instance_deletion(db):
    gone, kept = _instance(db), _instance(db)
    for uid in (gone, gone, kept):
        tokens.create(db, uid, "novnc", "127.0.0.1", 5900, ttl=60)
    assert cell_db.soft_delete_instance(db, gone)
    assert [r["instance_uuid"] for r in _rows(db)] == [kept]


def test_tokens_go_when_the_instance_moves_or_is_rebuilt(db):
    moved, rebuilt, rebooted = _instance(db), _instance(db), _instance(db)
    made = {uid: tokens.create(db, uid, "novnc", "127.0.0.1", 5900, ttl=60)[0]
            for uid in (moved, rebuilt, rebooted)}
    cell_db.update_instance(db, moved, {"host": "host2", "task_state": "resize_finish"})
    cell_db.update_instance(db, rebuilt, {"task_state": "rebuilding"})
    cell_db.update_instance(db, rebooted, {"task_state": "rebooting"})
    assert [r["instance_uuid"] for r in _rows(db)] == [rebooted]
    for uid in (moved, rebuilt):
        with pytest.raises(tokens.InvalidToken, match="unknown"):
            tokens.validate(db, made[uid])
    assert tokens.validate(db, made[rebooted])["instance_uuid"] == rebooted
