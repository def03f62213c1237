"""Server groups in the API database (compute_core.db.server_groups)."""
import pytest

from compute_core.db import migration
from compute_core.db import server_groups as sg_db
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    yield db
    db.dispose()


def test_groups_members_and_counts(db):
    g = sg_db.create(db, "web", "anti-affinity", {"max_server_per_host": 2}, "p1", "u1")
    assert (g["policy"], g["rules"], g["members"]) == ("anti-affinity",
                                                      {"max_server_per_host": 2}, [])
    sg_db.create(db, "db", "affinity", None, "p2", "u2")
    g = sg_db.add_members(db, g["uuid"], ["i1", "i2", "i1"])
    assert g["members"] == ["i1", "i2"]
    assert sg_db.add_members(db, g["uuid"], ["i2", "i3"])["members"] == ["i1", "i2", "i3"]
    assert sg_db.groups_of(db, ["i1", "i9"]) == {"i1": g["uuid"]}
    sg_db.remove_member(db, "i1")
    assert sg_db.get(db, g["uuid"])["members"] == ["i2", "i3"]
    assert [x["name"] for x in sg_db.list_groups(db, "p1")] == ["web"]
    assert [x["name"] for x in sg_db.list_groups(db)] == ["web", "db"]
    assert [x["name"] for x in sg_db.list_groups(db, limit=1, offset=1)] == ["db"]
    assert sg_db.count(db, "p1") == 1 and sg_db.count(db, "p1", "u9") == 0
    sg_db.delete(db, g["uuid"])
    with pytest.raises(sg_db.ServerGroupNotFound):
        sg_db.get(db, g["uuid"])
    with pytest.raises(sg_db.ServerGroupNotFound):
        sg_db.add_members(db, g["uuid"], ["x"])
    assert sg_db.groups_of(db, ["i2"]) == {}
