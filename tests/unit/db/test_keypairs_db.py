"""Key pairs in the API database (compute_core.db.keypairs)."""
import pytest

from compute_core import exception
from compute_core.db import keypairs as kp_db
from compute_core.db import migration
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    yield db
    db.dispose()


def test_keypairs_per_user_with_pages(db):
    for name in ("c", "a", "b"):
        kp_db.create(db, "u1", name, f"ssh-rsa {name}", f"fp-{name}")
    kp_db.create(db, "u2", "a", "ssh-rsa other", "fp", "x509")
    with pytest.raises(kp_db.KeypairExists):
        kp_db.create(db, "u1", "a", "k", "f")
    assert [k["name"] for k in kp_db.list_for_user(db, "u1")] == ["a", "b", "c"]
    assert [k["name"] for k in kp_db.list_for_user(db, "u1", limit=1, marker="a")] == ["b"]
    with pytest.raises(exception.KeypairNotFound):
        kp_db.list_for_user(db, "u1", marker="zz")
    assert kp_db.get(db, "u2", "a")["type"] == "x509"
    assert kp_db.count(db, "u1") == 3
    kp_db.delete(db, "u1", "a")
    with pytest.raises(exception.KeypairNotFound):
        kp_db.delete(db, "u1", "a")
    assert kp_db.get(db, "u2", "a")["public_key"] == "ssh-rsa other"
