"""Server metadata and tags (compute_core.db.server_metadata)."""
import pytest

from compute_core import exception
from compute_core.db import cell_db, migration
from compute_core.db import server_metadata as sm
from compute_core.db.engines import Database


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    cell_db.create_instance(db, {"uuid": "i1", "display_name": "a", "vm_state": "active"},
                            metadata={"a": "1"})
    yield db
    db.dispose()


def test_metadata_update_replace_and_items(db):
    assert sm.get_metadata(db, "i1") == {"a": "1"}
    assert sm.update_metadata(db, "i1", {"b": "2", "a": "9"}) == {"a": "9", "b": "2"}
    assert sm.update_metadata(db, "i1", {"c": "3"}, replace=True) == {"c": "3"}
    sm.delete_metadata_item(db, "i1", "c")
    with pytest.raises(sm.MetadataItemNotFound):
        sm.delete_metadata_item(db, "i1", "c")
    assert cell_db.get_instance(db, "i1")["metadata"] == {}
    with pytest.raises(exception.InstanceNotFound):
        sm.get_metadata(db, "nope")


def test_tags(db):
    assert sm.get_tags(db, "i1") == []
    assert sm.set_tags(db, "i1", ["x", "y", "x"]) == ["x", "y"]
    assert sm.add_tag(db, "i1", "z", 50) and not sm.add_tag(db, "i1", "z", 50)
    with pytest.raises(sm.TooManyTags):
        sm.add_tag(db, "i1", "w", 3)
    sm.delete_tag(db, "i1", "x")
    with pytest.raises(sm.TagNotFound):
        sm.delete_tag(db, "i1", "x")
    assert sm.get_tags(db, "i1") == ["y", "z"]


@pytest.mark.parametrize("kw,expected", [
    ({"tags": ["a", "b"]}, True), ({"tags": ["a", "c"]}, False),
    ({"tags-any": ["c", "b"]}, True), ({"tags-any": ["c"]}, False),
    ({"not-tags": ["a", "b"]}, False), ({"not-tags": ["a", "c"]}, True),
    ({"not-tags-any": ["c", "b"]}, False), ({"not-tags-any": ["c"]}, True),
])
def test_tag_filters_of_the_listing(kw, expected):
    from compute_core.db.cell_db import _TAG_FILTERS, _tags_match

    tags = {k: kw.get(k, ()) for k in _TAG_FILTERS}
    assert _tags_match({"tags": ["a", "b"]}, tags) is expected
