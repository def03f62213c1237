"""Flavor extra specs, access and description (compute_core.db.flavor_extras)."""
import pytest

from compute_core import exception
from compute_core.db import api_db, migration
from compute_core.db import flavor_extras as fx
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    api_db.create_flavor(db, "pub", 512, 1, 1, flavorid="1")
    api_db.create_flavor(db, "priv", 512, 1, 1, flavorid="2", is_public=False)
    yield db
    db.dispose()


def test_extra_specs(db):
    assert fx.set_extra_specs(db, "1", {"hw:cpu_policy": "dedicated", "n": 2}) == {
        "hw:cpu_policy": "dedicated", "n": "2"}
    fx.set_extra_specs(db, "1", {"n": "3"})
    assert fx.extra_specs(db, "1") == {"hw:cpu_policy": "dedicated", "n": "3"}
    fx.delete_extra_spec(db, "1", "n")
    with pytest.raises(fx.FlavorExtraSpecNotFound):
        fx.delete_extra_spec(db, "1", "n")
    with pytest.raises(exception.FlavorNotFound):
        fx.set_extra_specs(db, "404", {"a": "b"})


def test_access_of_private_flavors(db):
    assert fx.access_list(db, "2") == []
    assert fx.add_access(db, "2", "p1") == ["p1"]
    with pytest.raises(fx.FlavorAccessExists):
        fx.add_access(db, "2", "p1")
    assert api_db.get_flavor(db, "2", project_id="p1", is_admin=False)["name"] == "priv"
    with pytest.raises(exception.FlavorNotFound):
        api_db.get_flavor(db, "2", project_id="p2", is_admin=False)
    with pytest.raises(fx.PublicFlavorAccess):
        fx.add_access(db, "1", "p1")
    with pytest.raises(fx.PublicFlavorAccessList):
        fx.access_list(db, "1")
    assert fx.remove_access(db, "2", "p1") == []
    with pytest.raises(fx.FlavorAccessNotFound):
        fx.remove_access(db, "2", "p1")


def test_description(db):
    assert fx.set_description(db, "1", "small")["description"] == "small"
    assert fx.set_description(db, "1", None)["description"] is None
