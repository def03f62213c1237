"""Schema migrations with alembic, for the API, cell and placement databases."""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from compute_core import exception
from compute_core.db.engines import Database

_HERE = os.path.dirname(__file__)
LOCATIONS = {
    "api": os.path.join(_HERE, "migrations", "api"),
    "cell": os.path.join(_HERE, "migrations", "cell"),
    "placement": os.path.join(os.path.dirname(_HERE), "placement", "migrations"),
}
SYNC_COMMANDS = {
    "api": "compute-manage api_db sync",
    "cell": "compute-manage db sync",
    "placement": "compute-manage placement sync",
}


def _config(which: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", LOCATIONS[which])
    return cfg


def head(which: str) -> str:
    return ScriptDirectory.from_config(_config(which)).get_current_head()


def current(db: Database) -> str | None:
    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, which: str, revision: str = "head") -> None:
    cfg = _config(which)
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def check_current(db: Database, which: str) -> None:
    """Raise DatabaseNotMigrated unless *db* is at the head revision."""
    if current(db) != head(which):
        raise exception.DatabaseNotMigrated(which=f"{which} ({db.safe_url})",
                                            command=SYNC_COMMANDS[which])
