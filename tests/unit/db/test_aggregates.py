"""Host aggregates in the API database (compute_core.db.aggregates)."""
import pytest

from compute_core.db import aggregates as agg_db
from compute_core.db import migration
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    yield db
    db.dispose()


def test_create_show_rename_and_zone(db):
    agg = agg_db.create(db, "rack1", "az1")
    assert (agg["name"], agg["availability_zone"], agg["hosts"]) == ("rack1", "az1", [])
    assert agg["metadata"] == {"availability_zone": "az1"}
    assert agg_db.get(db, agg["id"]) == agg_db.get(db, agg["uuid"])
    with pytest.raises(agg_db.AggregateNameExists):
        agg_db.create(db, "rack1")
    renamed = agg_db.update(db, agg["id"], name="rack-1")
    assert renamed["name"] == "rack-1" and renamed["availability_zone"] == "az1"
    assert renamed["updated_at"] is not None
    no_zone = agg_db.update(db, agg["id"], availability_zone=None)
    assert no_zone["availability_zone"] is None and no_zone["metadata"] == {}
    with pytest.raises(agg_db.AggregateNotFound):
        agg_db.get(db, 999)


def test_hosts_metadata_and_delete(db):
    agg = agg_db.create(db, "a")
    agg_db.add_host(db, agg["id"], "h1")
    with pytest.raises(agg_db.AggregateHostExists):
        agg_db.add_host(db, agg["id"], "h1")
    agg = agg_db.set_metadata(db, agg["id"], {"ssd": "true", "gpu": "1"})
    assert agg["metadata"] == {"ssd": "true", "gpu": "1"} and agg["hosts"] == ["h1"]
    agg = agg_db.set_metadata(db, agg["id"], {"gpu": None})
    assert agg["metadata"] == {"ssd": "true"}
    with pytest.raises(agg_db.InvalidAggregateAction, match="not empty"):
        agg_db.delete(db, agg["id"])
    with pytest.raises(agg_db.AggregateHostNotFound):
        agg_db.remove_host(db, agg["id"], "h2")
    agg_db.remove_host(db, agg["id"], "h1")
    agg_db.delete(db, agg["id"])
    assert agg_db.list_all(db) == []


def test_a_host_is_in_one_zone(db):
    a = agg_db.create(db, "a", "az1")
    b = agg_db.create(db, "b", "az2")
    c = agg_db.create(db, "c")
    agg_db.add_host(db, a["id"], "h1")
    with pytest.raises(agg_db.AggregateZoneConflict, match="az1"):
        agg_db.add_host(db, b["id"], "h1")
    agg_db.add_host(db, c["id"], "h1")  # no zone: no conflict
    with pytest.raises(agg_db.AggregateZoneConflict):
        agg_db.set_metadata(db, c["id"], {"availability_zone": "az3"})
    agg_db.set_metadata(db, c["id"], {"availability_zone": "az1"})  # the same zone is fine
    with pytest.raises(agg_db.AggregateZoneConflict):
        agg_db.update(db, a["id"], availability_zone="az9")
    assert agg_db.zones(db) == {"az1": ["h1"], "az2": []}


def test_host_aggregates_follow_every_change(db):
    index = agg_db.HostAggregates(db)
    assert index.by_host() == {}
    a = agg_db.create(db, "a", "az1")
    agg_db.add_host(db, a["id"], "h1")
    (seen,) = index.by_host()["h1"]
    assert seen["metadata"] == {"availability_zone": "az1"}
    assert index.by_host() is index.by_host()  # nothing changed: not read again
    agg_db.set_metadata(db, a["id"], {"x": "1"})
    assert index.by_host()["h1"][0]["metadata"]["x"] == "1"
    agg_db.remove_host(db, a["id"], "h1")
    assert index.by_host() == {}
    b = agg_db.create(db, "b")
    agg_db.add_host(db, b["id"], "h2")
    agg_db.remove_host(db, b["id"], "h2")
    agg_db.delete(db, b["id"])
    agg_db.add_host(db, a["id"], "h3")
    assert set(index.by_host()) == {"h3"}
