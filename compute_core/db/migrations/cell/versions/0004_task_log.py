"""The task_log table: what the compute hosts' periodic tasks did per
period (Nova's table; the instance usage audit writes one row per host and
audit period).

Revision ID: 0004
Revises: 0003

A database built by a 0001 that already had it (0001 builds the schema
module's tables) is left as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table("task_log"):
        return
    op.create_table(
        "task_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("period_beginning", sa.DateTime, nullable=False),
        sa.Column("period_ending", sa.DateTime, nullable=False),
        sa.Column("message", sa.String(255), nullable=False),
        sa.Column("task_items", sa.Integer),
        sa.Column("errors", sa.Integer),
        sa.Column("created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime),
        sa.Column("deleted_at", sa.DateTime),
        sa.Column("deleted", sa.Integer),
        sa.UniqueConstraint("task_name", "host", "period_beginning", "period_ending",
                            name="uniq_task_name_x_host_x_period_beginning_x_period_ending"))
    op.create_index("ix_task_log_period_beginning", "task_log", ["period_beginning"])
    op.create_index("ix_task_log_host", "task_log", ["host"])
    op.create_index("ix_task_log_period_ending", "task_log", ["period_ending"])
