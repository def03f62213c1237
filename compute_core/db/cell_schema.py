"""Tables of a cell database: the instances of that cell and its hosts."""
import sqlalchemy as sa

from compute_core.db.types import JsonText

metadata = sa.MetaData()


def _ts():
    return [sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime)]


def _soft_delete():
    return [sa.Column("deleted_at", sa.DateTime), sa.Column("deleted", sa.Integer, default=0)]


instances = sa.Table(
    "instances", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("display_name", sa.String(255)),
    sa.Column("display_description", sa.Text),
    sa.Column("hostname", sa.String(255)),
    sa.Column("project_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("image_ref", sa.String(255)),
    sa.Column("flavor", JsonText),
    sa.Column("vcpus", sa.Integer),
    sa.Column("memory_mb", sa.Integer),
    sa.Column("root_gb", sa.Integer),
    sa.Column("ephemeral_gb", sa.Integer),
    sa.Column("host", sa.String(255)),
    sa.Column("node", sa.String(255)),
    sa.Column("availability_zone", sa.String(255)),
    sa.Column("vm_state", sa.String(255)),
    sa.Column("task_state", sa.String(255)),
    sa.Column("power_state", sa.Integer),
    sa.Column("launched_at", sa.DateTime),
    sa.Column("terminated_at", sa.DateTime),
    sa.Column("scheduled_at", sa.DateTime),
    sa.Column("key_name", sa.String(255)),
    sa.Column("key_data", sa.Text),
    sa.Column("user_data", sa.Text),
    sa.Column("config_drive", sa.String(255)),
    sa.Column("access_ip_v4", sa.String(39)),
    sa.Column("access_ip_v6", sa.String(39)),
    sa.Column("locked", sa.Boolean, default=False),
    sa.Column("locked_by", sa.String(255)),
    sa.Column("launch_index", sa.Integer),
    sa.Column("reservation_id", sa.String(255)),
    sa.Column("progress", sa.Integer),
    sa.Column("network_info", JsonText),
    sa.Column("security_groups", JsonText),
    sa.Column("system_metadata", JsonText),
    sa.Column("auto_disk_config", sa.Boolean),
    sa.Column("tags", JsonText),
    *_ts(),
    *_soft_delete(),
    sa.Index("instances_project_id_deleted_idx", "project_id", "deleted"),
    sa.Index("instances_host_deleted_idx", "host", "deleted"),
    sa.Index("instances_created_at_idx", "created_at"),
    # Reads of what changed since a time (migration 0002).
    sa.Index("instances_updated_at_idx", "updated_at"),
    sa.Index("instances_deleted_at_idx", "deleted_at"),
)

instance_metadata = sa.Table(
    "instance_metadata", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.String(255)),
    *_ts(),
    sa.UniqueConstraint("instance_uuid", "key", name="uniq_instance_metadata0uuid0key"),
)

instance_faults = sa.Table(
    "instance_faults", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    sa.Column("code", sa.Integer, nullable=False),
    sa.Column("message", sa.String(255)),
    sa.Column("details", sa.Text),
    sa.Column("host", sa.String(255)),
    *_ts(),
    sa.Index("instance_faults_instance_uuid_idx", "instance_uuid"),
)

instance_actions = sa.Table(
    "instance_actions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action", sa.String(255)),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    sa.Column("request_id", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("project_id", sa.String(255)),
    sa.Column("start_time", sa.DateTime),
    sa.Column("finish_time", sa.DateTime),
    sa.Column("message", sa.String(255)),
    *_ts(),
    sa.Index("instance_actions_instance_uuid_idx", "instance_uuid"),
)

instance_actions_events = sa.Table(
    "instance_actions_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action_id", sa.Integer, sa.ForeignKey("instance_actions.id"), nullable=False),
    sa.Column("event", sa.String(255)),
    sa.Column("result", sa.String(255)),
    sa.Column("start_time", sa.DateTime),
    sa.Column("finish_time", sa.DateTime),
    sa.Column("traceback", sa.Text),
    sa.Column("host", sa.String(255)),
    sa.Column("details", sa.Text),
    *_ts(),
)

compute_nodes = sa.Table(
    "compute_nodes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("hypervisor_hostname", sa.String(255), nullable=False),
    sa.Column("hypervisor_type", sa.String(255)),
    sa.Column("hypervisor_version", sa.Integer),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("local_gb", sa.Integer, nullable=False),
    sa.Column("vcpus_used", sa.Integer, nullable=False, default=0),
    sa.Column("memory_mb_used", sa.Integer, nullable=False, default=0),
    sa.Column("local_gb_used", sa.Integer, nullable=False, default=0),
    sa.Column("running_vms", sa.Integer, nullable=False, default=0),
    sa.Column("current_workload", sa.Integer, nullable=False, default=0),
    sa.Column("host_ip", sa.String(39)),
    sa.Column("cpu_info", sa.Text),
    sa.Column("cpu_allocation_ratio", sa.Float),
    sa.Column("ram_allocation_ratio", sa.Float),
    sa.Column("disk_allocation_ratio", sa.Float),
    sa.Column("stats", JsonText),
    sa.Column("mapped", sa.Integer, nullable=False, default=0),
    *_ts(),
    *_soft_delete(),
)

services = sa.Table(
    "services", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255)),
    sa.Column("report_count", sa.Integer, nullable=False, default=0),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled_reason", sa.String(255)),
    sa.Column("forced_down", sa.Boolean, nullable=False, default=False),
    sa.Column("last_seen_up", sa.DateTime),
    sa.Column("version", sa.Integer, nullable=False, default=0),
    *_ts(),
    *_soft_delete(),
    sa.UniqueConstraint("host", "binary", "deleted", name="uniq_services0host0binary0deleted"),
)

migrations = sa.Table(
    "migrations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    sa.Column("source_compute", sa.String(255)),
    sa.Column("dest_compute", sa.String(255)),
    sa.Column("source_node", sa.String(255)),
    sa.Column("dest_node", sa.String(255)),
    sa.Column("dest_host", sa.String(255)),
    sa.Column("old_flavor_id", sa.String(255)),
    sa.Column("new_flavor_id", sa.String(255)),
    sa.Column("status", sa.String(255)),
    sa.Column("migration_type", sa.String(255)),
    sa.Column("hidden", sa.Boolean, default=False),
    # a live migration's progress (bytes), as its source host reports it
    sa.Column("memory_total", sa.BigInteger),
    sa.Column("memory_processed", sa.BigInteger),
    sa.Column("memory_remaining", sa.BigInteger),
    sa.Column("disk_total", sa.BigInteger),
    sa.Column("disk_processed", sa.BigInteger),
    sa.Column("disk_remaining", sa.BigInteger),
    *_ts(),
    *_soft_delete(),
)

console_auth_tokens = sa.Table(
    "console_auth_tokens", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(255), nullable=False, unique=True),
    sa.Column("console_type", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("internal_access_path", sa.String(255)),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    sa.Column("access_url_base", sa.String(255)),
    sa.Column("expires", sa.Integer, nullable=False),
    *_ts(),
    sa.Index("console_auth_tokens_instance_uuid_idx", "instance_uuid"),
    sa.Index("console_auth_tokens_expires_idx", "expires"),
)

# What periodic tasks of the compute hosts did, per period (Nova's
# task_log): the usage audit writes one row per host and audit period.
task_log = sa.Table(
    "task_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("task_name", sa.String(255), nullable=False),
    sa.Column("state", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("period_beginning", sa.DateTime, nullable=False),
    sa.Column("period_ending", sa.DateTime, nullable=False),
    sa.Column("message", sa.String(255), nullable=False),
    sa.Column("task_items", sa.Integer, default=0),
    sa.Column("errors", sa.Integer, default=0),
    *_ts(),
    *_soft_delete(),
    sa.UniqueConstraint("task_name", "host", "period_beginning", "period_ending",
                        name="uniq_task_name_x_host_x_period_beginning_x_period_ending"),
    sa.Index("ix_task_log_period_beginning", "period_beginning"),
    sa.Index("ix_task_log_host", "host"),
    sa.Index("ix_task_log_period_ending", "period_ending"),
)
