"""The image service's columns and tables.

Revision ID: 0003
Revises: 0002

Glance v2's image attributes the first schema lacked (the sha512 hash,
virtual size, protected, hidden), and the members and tags of images. A
database built by a 0001 that already had them (0001 builds the schema
module's tables) is left as it is.
"""
import sqlalchemy as sa
from alembic import op

from compute_core.db import api_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("os_hash_algo", sa.String(64)),
    sa.Column("os_hash_value", sa.String(128)),
    sa.Column("virtual_size", sa.BigInteger),
    sa.Column("protected", sa.Boolean, nullable=False, server_default="0"),
    sa.Column("os_hidden", sa.Boolean, nullable=False, server_default="0"),
]


def upgrade():
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    have = {c["name"] for c in inspector.get_columns("images")}
    for column in COLUMNS:
        if column.name not in have:
            op.add_column("images", column)
    tables = set(inspector.get_table_names())
    for table in (api_schema.image_members, api_schema.image_tags):
        if table.name not in tables:
            table.create(bind)
