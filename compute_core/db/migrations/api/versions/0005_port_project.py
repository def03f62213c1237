"""The project that owns a port of the flat network backend.

Revision ID: 0005
Revises: 0004

A port belongs to a project (Neutron's tenant_id), and only servers of that
project may boot on it or attach it. A port bound to a server takes the
project of the server's instance mapping; a free port (made ahead before
ports had owners) keeps none, and any project may still use it. A database
whose 0001 already built the column is left as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if "project_id" in {c["name"] for c in sa.inspect(bind).get_columns("fixed_ips")}:
        return
    op.add_column("fixed_ips", sa.Column("project_id", sa.String(255)))
    ports = sa.table("fixed_ips", sa.column("instance_uuid", sa.String(36)),
                     sa.column("project_id", sa.String(255)))
    mappings = sa.table("instance_mappings", sa.column("instance_uuid", sa.String(36)),
                        sa.column("project_id", sa.String(255)))
    owner = (sa.select(mappings.c.project_id)
             .where(mappings.c.instance_uuid == ports.c.instance_uuid)
             .scalar_subquery())
    bind.execute(ports.update().where(ports.c.instance_uuid.isnot(None))
                 .values(project_id=owner))


def downgrade():
    with op.batch_alter_table("fixed_ips") as batch:
        batch.drop_column("project_id")
