"""Indexes on console_auth_tokens.instance_uuid and .expires.

Revision ID: 0003
Revises: 0002

Console tokens are dropped by instance (when it is deleted, moved or
rebuilt, in the same transaction as that change) and by expiry (whenever a
new token is made); without these indexes each drop scans the table. A
database built by a 0001 that already had them is left as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {"console_auth_tokens_instance_uuid_idx": "instance_uuid",
           "console_auth_tokens_expires_idx": "expires"}


def upgrade():
    have = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("console_auth_tokens")}
    for name, column in INDEXES.items():
        if name not in have:
            op.create_index(name, "console_auth_tokens", [column])
