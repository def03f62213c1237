"""Host aggregates, server groups and per-user quotas.

Revision ID: 0002
Revises: 0001

The tables behind os-aggregates (with their hosts and metadata),
os-server-groups (with their members) and the per-user limits of
os-quota-sets. A database whose 0001 already built them (0001 builds the
schema module's tables as they are now) is left as it is.
"""
import sqlalchemy as sa
from alembic import op

from compute_core.db.types import JsonText

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts():
    return [sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime)]


TABLES = {
    "aggregates": lambda: op.create_table(
        "aggregates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        *_ts()),
    "aggregate_hosts": lambda: op.create_table(
        "aggregate_hosts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("aggregate_id", sa.Integer, sa.ForeignKey("aggregates.id"), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        *_ts(),
        sa.UniqueConstraint("host", "aggregate_id",
                            name="uniq_aggregate_hosts0host0aggregate_id")),
    "aggregate_metadata": lambda: op.create_table(
        "aggregate_metadata",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("aggregate_id", sa.Integer, sa.ForeignKey("aggregates.id"), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        *_ts(),
        sa.UniqueConstraint("aggregate_id", "key",
                            name="uniq_aggregate_metadata0aggregate_id0key"),
        sa.Index("aggregate_metadata_key_idx", "key")),
    "instance_groups": lambda: op.create_table(
        "instance_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("project_id", sa.String(255)),
        sa.Column("policy", sa.String(255), nullable=False),
        sa.Column("rules", JsonText),
        *_ts(),
        sa.Index("instance_groups_project_id_idx", "project_id")),
    "instance_group_members": lambda: op.create_table(
        "instance_group_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("group_id", sa.Integer, sa.ForeignKey("instance_groups.id"), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        *_ts(),
        sa.UniqueConstraint("group_id", "instance_uuid",
                            name="uniq_instance_group_members0group_id0instance_uuid"),
        sa.Index("instance_group_members_instance_idx", "instance_uuid")),
    "project_user_quotas": lambda: op.create_table(
        "project_user_quotas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer),
        *_ts(),
        sa.UniqueConstraint("user_id", "project_id", "resource",
                            name="uniq_project_user_quotas0user_id0project_id0resource")),
}


def upgrade():
    have = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():  # in order: the foreign keys' targets first
        if name not in have:
            create()
