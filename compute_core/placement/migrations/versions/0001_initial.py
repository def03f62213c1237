"""Initial placement database schema.

Revision ID: 0001
Revises:

The first revision builds the tables from the schema module as it stood when
it was written; every later change is a new revision with explicit op.* calls
(tests/unit/db/test_migrations.py checks the migrated schema against the
tables the code uses).
"""
from compute_core.placement import tables as schema
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    schema.metadata.create_all(op.get_bind())
