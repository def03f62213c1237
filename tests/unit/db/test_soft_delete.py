"""Soft-deleting an instance: says whether it deleted, moves updated_at
(so a changes-since poller sees the server deleted), and can record the
delete's finishing action event in the same transaction."""
import datetime
import time
import uuid

import sqlalchemy as sa

from compute_core import context
from compute_core.db import cell_db, cell_schema, migration
from compute_core.db.engines import Database


def test_soft_delete_is_seen_by_changes_since_and_records_its_event(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/cell.sqlite")
    migration.upgrade(db, "cell")
    try:
        ctxt = context.RequestContext(user_id="u", project_id="p", request_id="req-del")
        u = str(uuid.uuid4())
        cell_db.create_instance(db, {"uuid": u, "host": "h1", "project_id": "p",
                                     "vm_state": "active"}, action=("delete", ctxt))
        long_ago = datetime.datetime(2020, 1, 1)
        with db.begin() as conn:
            conn.execute(cell_schema.instances.update().values(updated_at=long_ago))
        since = cell_db.now() - datetime.timedelta(seconds=1)
        assert cell_db.list_instances(db, {"changes-since": since, "deleted": None}) == []
        time.sleep(0.01)
        event = {"event": "compute_terminate_instance", "result": "Success", "host": "h1",
                 "finish": True}
        cell_db.action_event(db, u, "req-del", "compute_terminate_instance", host="h1")
        assert cell_db.soft_delete_instance(db, u, event, "req-del") is True
        seen = cell_db.list_instances(db, {"changes-since": since, "deleted": None})
        assert [(i["uuid"], i["vm_state"]) for i in seen] == [(u, "deleted")]
        assert cell_db.soft_delete_instance(db, u) is False  # once only
        with db.connect() as conn:
            (result,) = conn.execute(sa.select(cell_schema.instance_actions_events.c.result)
                                     ).one()
        assert result == "Success"
    finally:
        db.dispose()
