"""Tables of the embedded identity service (created on first start)."""
import sqlalchemy as sa

metadata = sa.MetaData()

projects = sa.Table(
    "projects", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True))

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("default_project_id", sa.String(64), nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True))

roles = sa.Table(
    "roles", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True))

# A role of a user on a project, or on the system (project_id NULL).
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("project_id", sa.String(64), nullable=True),
    sa.Column("role_id", sa.String(64), sa.ForeignKey("roles.id", ondelete="CASCADE"),
              nullable=False),
    sa.UniqueConstraint("user_id", "project_id", "role_id"))

application_credentials = sa.Table(
    "application_credentials", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("project_id", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),  # JSON list of role ids
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("unrestricted", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("user_id", "name"))

tokens = sa.Table(
    "tokens", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("project_id", sa.String(64), nullable=True),
    sa.Column("system", sa.Boolean, nullable=False, default=False),
    sa.Column("methods", sa.Text, nullable=False),  # JSON list
    sa.Column("roles", sa.Text, nullable=False),  # JSON list of role ids
    sa.Column("application_credential_id", sa.String(64), nullable=True),
    sa.Column("audit_id", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False))
