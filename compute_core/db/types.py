"""Column types shared by every schema."""
import json

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class JsonText(sa.types.TypeDecorator):
    """A JSON document kept as text, identical on SQLite, MariaDB and PostgreSQL."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        # Most instances carry several empty documents (tags, addresses):
        # a fresh empty one without a parse.
        if value == "[]":
            return []
        if value == "{}":
            return {}
        return json.loads(value)


class Base(DeclarativeBase):
    pass


def timestamps():
    return (
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime),
    )
