"""Progress figures of a live migration on its migration record.

Revision ID: 0005
Revises: 0004

The source host of a live migration reports how much of the guest's memory
(and, for a block migration, of its disks) is copied and left; the
migrations API of a server shows them (memory_total ... disk_remaining,
bytes), as Nova's migrations table keeps them.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("memory_total", "memory_processed", "memory_remaining", "disk_total",
           "disk_processed", "disk_remaining")


def upgrade():
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("migrations")}
    with op.batch_alter_table("migrations") as batch:
        for name in COLUMNS:
            if name not in have:
                batch.add_column(sa.Column(name, sa.BigInteger, nullable=True))


def downgrade():
    with op.batch_alter_table("migrations") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
