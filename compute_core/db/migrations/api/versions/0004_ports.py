"""Ports of the flat network backend (os-interface).

Revision ID: 0004
Revises: 0003

Each fixed IP becomes a port: a port id (given to the addresses that exist,
one each), the device tag it was attached with, whether it outlives its
server (a port made ahead and attached by id), and an instance_uuid that may
be empty (a free port). A database whose 0001 already built them is left as
it is.
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("port_id", sa.String(36)),
    sa.Column("tag", sa.String(60)),
    sa.Column("preserve_on_delete", sa.Boolean, nullable=False, server_default="0"),
]


def upgrade():
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("fixed_ips")}
    if "port_id" in have:
        return
    # Batch mode: SQLite cannot change a column's nullability or add a
    # unique constraint in place (the table is copied there; elsewhere these
    # are plain ALTERs).
    with op.batch_alter_table("fixed_ips") as batch:
        for column in COLUMNS:
            if column.name not in have:
                batch.add_column(column)
        batch.alter_column("instance_uuid", existing_type=sa.String(36), nullable=True)
    table = sa.table("fixed_ips", sa.column("id", sa.Integer),
                     sa.column("port_id", sa.String(36)))
    for (row_id,) in bind.execute(sa.select(table.c.id)).all():
        bind.execute(table.update().where(table.c.id == row_id)
                     .values(port_id=str(uuid.uuid4())))
    with op.batch_alter_table("fixed_ips") as batch:
        batch.create_unique_constraint("uniq_fixed_ips0port_id", ["port_id"])
