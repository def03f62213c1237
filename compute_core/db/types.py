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
        return _decode(value)

    def result_processor(self, dialect, coltype):
        # A row's documents decoded straight from the driver's value, without
        # TypeDecorator's wrapper call for each: a listing reads thousands.
        impl = self.impl_instance.result_processor(dialect, coltype)
        if impl is None:
            return _decode
        return lambda value: _decode(impl(value))


_scan_once = json.JSONDecoder().scan_once


def _decode(value):
    """json.loads(*value*) (None for None), faster for the documents we
    write: the scanner called directly, without json.loads' matching of
    whitespace before and after the document (we write none: what has some
    goes through json.loads), and the empty ones most instances carry
    several of (tags, addresses) made fresh without a parse."""
    if value is None:
        return None
    if value == "[]":
        return []
    if value == "{}":
        return {}
    if value.__class__ is str:
        try:
            doc, end = _scan_once(value, 0)
        except StopIteration:  # leading whitespace, or not a document
            return json.loads(value)
        if end == len(value):
            return doc
    return json.loads(value)  # trailing whitespace (or bytes): its own way


class Base(DeclarativeBase):
    pass


def timestamps():
    return (
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime),
    )
