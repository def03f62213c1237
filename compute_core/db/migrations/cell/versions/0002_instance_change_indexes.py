"""Indexes on instances.updated_at and instances.deleted_at.

Revision ID: 0002
Revises: 0001

The scheduler's instance tracker and the API's changes-since filter read
the instances changed after a time (created, updated or deleted); without
these indexes each such read scans the whole table. A database built by a
0001 that already had them (0001 builds the schema module's tables) is left
as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {"instances_updated_at_idx": "updated_at",
           "instances_deleted_at_idx": "deleted_at"}


def upgrade():
    have = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("instances")}
    for name, column in INDEXES.items():
        if name not in have:
            op.create_index(name, "instances", [column])
