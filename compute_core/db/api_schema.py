"""Tables of the API database: global data shared by every cell."""
import sqlalchemy as sa

from compute_core.db.types import JsonText

metadata = sa.MetaData()


def _ts():
    return [sa.Column("created_at", sa.DateTime), sa.Column("updated_at", sa.DateTime)]


cell_mappings = sa.Table(
    "cell_mappings", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255)),
    sa.Column("transport_url", sa.Text, nullable=False),
    sa.Column("database_connection", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    *_ts(),
)

host_mappings = sa.Table(
    "host_mappings", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("cell_id", sa.Integer, sa.ForeignKey("cell_mappings.id"), nullable=False),
    sa.Column("host", sa.String(255), nullable=False, unique=True),
    *_ts(),
)

instance_mappings = sa.Table(
    "instance_mappings", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("cell_id", sa.Integer, sa.ForeignKey("cell_mappings.id"), nullable=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255)),
    sa.Column("queued_for_delete", sa.Boolean, nullable=False, default=False),
    *_ts(),
    sa.Index("instance_mappings_project_idx", "project_id"),
)

flavors = sa.Table(
    "flavors", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flavorid", sa.String(255), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("memory_mb", sa.Integer, nullable=False),
    sa.Column("vcpus", sa.Integer, nullable=False),
    sa.Column("root_gb", sa.Integer, nullable=False, default=0),
    sa.Column("ephemeral_gb", sa.Integer, nullable=False, default=0),
    sa.Column("swap", sa.Integer, nullable=False, default=0),
    sa.Column("rxtx_factor", sa.Float, nullable=False, default=1.0),
    sa.Column("vcpu_weight", sa.Integer),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("is_public", sa.Boolean, nullable=False, default=True),
    sa.Column("description", sa.Text),
    *_ts(),
)

flavor_extra_specs = sa.Table(
    "flavor_extra_specs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flavor_id", sa.Integer, sa.ForeignKey("flavors.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.String(255)),
    *_ts(),
    sa.UniqueConstraint("flavor_id", "key", name="uniq_flavor_extra_specs0flavor_id0key"),
)

flavor_projects = sa.Table(
    "flavor_projects", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flavor_id", sa.Integer, sa.ForeignKey("flavors.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("project_id", sa.String(255), nullable=False),
    *_ts(),
    sa.UniqueConstraint("flavor_id", "project_id", name="uniq_flavor_projects0flavor_id0project_id"),
)

build_requests = sa.Table(
    "build_requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("instance", JsonText, nullable=False),
    sa.Column("block_device_mappings", JsonText),
    sa.Column("tags", JsonText),
    *_ts(),
)

request_specs = sa.Table(
    "request_specs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("spec", JsonText, nullable=False),
    *_ts(),
)

key_pairs = sa.Table(
    "key_pairs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(255)),
    sa.Column("public_key", sa.Text),
    sa.Column("type", sa.String(10), nullable=False, default="ssh"),
    *_ts(),
    sa.UniqueConstraint("user_id", "name", name="uniq_key_pairs0user_id0name"),
)

quotas = sa.Table(
    "quotas", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("resource", sa.String(255), nullable=False),
    sa.Column("hard_limit", sa.Integer),
    *_ts(),
    sa.UniqueConstraint("project_id", "resource", name="uniq_quotas0project_id0resource"),
)

quota_classes = sa.Table(
    "quota_classes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("class_name", sa.String(255), nullable=False),
    sa.Column("resource", sa.String(255), nullable=False),
    sa.Column("hard_limit", sa.Integer),
    *_ts(),
    sa.UniqueConstraint("class_name", "resource", name="uniq_quota_classes0class_name0resource"),
)

images = sa.Table(
    "images", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255)),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("disk_format", sa.String(30)),
    sa.Column("container_format", sa.String(30)),
    sa.Column("size", sa.BigInteger),
    sa.Column("checksum", sa.String(64)),
    sa.Column("min_disk", sa.Integer, nullable=False, default=0),
    sa.Column("min_ram", sa.Integer, nullable=False, default=0),
    sa.Column("owner", sa.String(255)),
    sa.Column("visibility", sa.String(20), nullable=False, default="public"),
    sa.Column("location", sa.Text),
    sa.Column("properties", JsonText),
    *_ts(),
    # Added by revision 0003 (the image service).
    sa.Column("os_hash_algo", sa.String(64)),
    sa.Column("os_hash_value", sa.String(128)),
    sa.Column("virtual_size", sa.BigInteger),
    sa.Column("protected", sa.Boolean, nullable=False, server_default="0"),
    sa.Column("os_hidden", sa.Boolean, nullable=False, server_default="0"),
)

# Projects an image of visibility "shared" is shared with.
image_members = sa.Table(
    "image_members", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("image_uuid", sa.String(36), sa.ForeignKey("images.uuid", ondelete="CASCADE"),
              nullable=False),
    sa.Column("member", sa.String(255), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    *_ts(),
    sa.UniqueConstraint("image_uuid", "member", name="uniq_image_members0image_uuid0member"),
    sa.Index("image_members_member_idx", "member"),
)

image_tags = sa.Table(
    "image_tags", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("image_uuid", sa.String(36), sa.ForeignKey("images.uuid", ondelete="CASCADE"),
              nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime),
    sa.UniqueConstraint("image_uuid", "value", name="uniq_image_tags0image_uuid0value"),
)

# An address of the flat network backend, which is also a port
# (os-interface): port_id names it, instance_uuid is the server it is bound
# to (None: a free port, made ahead and attached by its id), tag its device
# tag, preserve_on_delete keeps a port made ahead when its server goes,
# project_id owns it (Neutron's tenant_id: only servers of that project may
# have it; None on a port that was free when ports got owners, which any
# project may use).
fixed_ips = sa.Table(
    "fixed_ips", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("network", sa.String(255), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("instance_uuid", sa.String(36)),
    sa.Column("mac", sa.String(32)),
    sa.Column("port_id", sa.String(36)),
    sa.Column("tag", sa.String(60)),
    sa.Column("preserve_on_delete", sa.Boolean, nullable=False, server_default="0"),
    sa.Column("project_id", sa.String(255)),
    *_ts(),
    sa.UniqueConstraint("network", "address", name="uniq_fixed_ips0network0address"),
    sa.UniqueConstraint("port_id", name="uniq_fixed_ips0port_id"),
    sa.Index("fixed_ips_instance_idx", "instance_uuid"),
)

# Host aggregates (os-aggregates): a named set of hosts with metadata; the
# "availability_zone" key of the metadata puts the hosts in that zone.
aggregates = sa.Table(
    "aggregates", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    *_ts(),
)

aggregate_hosts = sa.Table(
    "aggregate_hosts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("aggregate_id", sa.Integer, sa.ForeignKey("aggregates.id"), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    *_ts(),
    sa.UniqueConstraint("host", "aggregate_id", name="uniq_aggregate_hosts0host0aggregate_id"),
)

aggregate_metadata = sa.Table(
    "aggregate_metadata", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("aggregate_id", sa.Integer, sa.ForeignKey("aggregates.id"), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.String(255), nullable=False),
    *_ts(),
    sa.UniqueConstraint("aggregate_id", "key", name="uniq_aggregate_metadata0aggregate_id0key"),
    sa.Index("aggregate_metadata_key_idx", "key"),
)

# Server groups (os-server-groups): one policy and its rules per group.
instance_groups = sa.Table(
    "instance_groups", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("project_id", sa.String(255)),
    sa.Column("policy", sa.String(255), nullable=False),
    sa.Column("rules", JsonText),
    *_ts(),
    sa.Index("instance_groups_project_id_idx", "project_id"),
)

instance_group_members = sa.Table(
    "instance_group_members", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("group_id", sa.Integer, sa.ForeignKey("instance_groups.id"), nullable=False),
    sa.Column("instance_uuid", sa.String(36), nullable=False),
    *_ts(),
    sa.UniqueConstraint("group_id", "instance_uuid",
                        name="uniq_instance_group_members0group_id0instance_uuid"),
    sa.Index("instance_group_members_instance_idx", "instance_uuid"),
)

# Per-user quota limits (os-quota-sets?user_id=...), beside the project's.
project_user_quotas = sa.Table(
    "project_user_quotas", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255), nullable=False),
    sa.Column("resource", sa.String(255), nullable=False),
    sa.Column("hard_limit", sa.Integer),
    *_ts(),
    sa.UniqueConstraint("user_id", "project_id", "resource",
                        name="uniq_project_user_quotas0user_id0project_id0resource"),
)
