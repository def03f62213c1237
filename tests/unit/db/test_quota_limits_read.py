"""The boot's one-statement read of a project's and its user's quota
limits answers as the two reads it replaces (compute_core.db.api_db)."""
import pytest

from compute_core.db import api_db, migration
from compute_core.db import quotas as quotas_db
from compute_core.db.engines import Database

DEFAULTS = {"instances": 10, "cores": 20, "ram": 51200}


@pytest.fixture
def db(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/api.sqlite")
    migration.upgrade(db, "api")
    yield db
    db.dispose()


def test_limits_and_user_limits_in_one_read(db):
    quotas_db.set_class_limits(db, "default", {"instances": 7, "ram": 1000})
    quotas_db.set_limits(db, "p1", {"instances": 5, "cores": 3})
    quotas_db.set_limits(db, "p1", {"instances": 2, "ram": -1}, user_id="u1")
    quotas_db.set_limits(db, "p1", {"cores": 1}, user_id="u2")
    quotas_db.set_limits(db, "p2", {"instances": 9}, user_id="u1")
    for project, user in (("p1", "u1"), ("p1", "u2"), ("p1", "u3"), ("p2", "u1"),
                          ("p3", "u9")):
        assert api_db.get_quota_limits_and_user(db, project, user, DEFAULTS) == (
            api_db.get_quota_limits(db, project, DEFAULTS),
            quotas_db.user_limits(db, project, user))
    limits, own = api_db.get_quota_limits_and_user(db, "p1", "u1", DEFAULTS)
    assert limits == {"instances": 5, "cores": 3, "ram": 1000}
    assert own == {"instances": 2, "ram": -1}
