"""Reads and writes of the API database (global data)."""
from __future__ import annotations

import uuid as uuidlib

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import clock, exception
from compute_core.db.engines import retry_on_deadlock
from compute_core.db import api_schema as t

CELL0_UUID = "00000000-0000-0000-0000-000000000000"


def now():
    """Naive UTC from this thread's clock (see compute_core.clock)."""
    return clock.current().utcnow()


def _d(row):
    return None if row is None else dict(row._mapping)


# ------------------------------------------------------------------ cells

def create_cell(db, name, database_connection, transport_url, uuid=None, disabled=False):
    values = dict(uuid=uuid or str(uuidlib.uuid4()), name=name,
                  database_connection=database_connection, transport_url=transport_url,
                  disabled=disabled, created_at=now())
    with db.begin() as conn:
        conn.execute(t.cell_mappings.insert().values(**values))
    return get_cell(db, values["uuid"])


def get_cell(db, uuid):
    with db.connect() as conn:
        row = conn.execute(sa.select(t.cell_mappings).where(t.cell_mappings.c.uuid == uuid)).first()
    if row is None:
        raise exception.CellMappingNotFound(uuid=uuid)
    return _d(row)


def list_cells(db):
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(sa.select(t.cell_mappings).order_by(t.cell_mappings.c.id))]


def find_cell(db, name_or_uuid):
    for cell in list_cells(db):
        if name_or_uuid in (cell["uuid"], cell["name"]):
            return cell
    raise exception.CellMappingNotFound(uuid=name_or_uuid)


# ------------------------------------------------------------ host mappings

def map_host(db, host, cell_id) -> bool:
    """Map *host* to a cell; False when it was already mapped."""
    try:
        with db.begin() as conn:
            conn.execute(t.host_mappings.insert().values(host=host, cell_id=cell_id, created_at=now()))
        return True
    except db_exc.DBDuplicateEntry:
        return False


def unmap_host(db, host) -> bool:
    """Forget which cell *host* is in (its compute service was deleted)."""
    with db.begin() as conn:
        return bool(conn.execute(t.host_mappings.delete()
                                 .where(t.host_mappings.c.host == host)).rowcount)


def list_host_mappings(db):
    hm, cm = t.host_mappings, t.cell_mappings
    q = (sa.select(hm.c.host, cm.c.uuid.label("cell_uuid"), cm.c.name.label("cell_name"))
         .join(cm, cm.c.id == hm.c.cell_id).order_by(hm.c.host))
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q)]


def cell_of_host(db, host):
    hm, cm = t.host_mappings, t.cell_mappings
    with db.connect() as conn:
        row = conn.execute(sa.select(cm).join(hm, hm.c.cell_id == cm.c.id)
                           .where(hm.c.host == host)).first()
    if row is None:
        raise exception.ComputeHostNotFound(host=host)
    return _d(row)


# -------------------------------------------------------- instance mappings

# The statements of the busiest paths (every boot, every server request)
# are built once with bound parameters instead of on every call: building
# and fingerprinting a statement costs more than SQLite takes to run it.
# DML gets its column values as execute() parameters; where-clause
# parameters are named b_* so that they never meet a column name.
_IM, _CM = t.instance_mappings, t.cell_mappings
_GET_INSTANCE_MAPPING = (sa.select(_IM, _CM.c.uuid.label("cell_uuid"))
                         .select_from(_IM.outerjoin(_CM, _CM.c.id == _IM.c.cell_id))
                         .where(_IM.c.instance_uuid == sa.bindparam("b_uuid")))
_INSERT_INSTANCE_MAPPING = _IM.insert()
_SET_INSTANCE_CELL = _IM.update().where(_IM.c.instance_uuid == sa.bindparam("b_uuid"))
_INSERT_BUILD_REQUEST = t.build_requests.insert()
_INSERT_REQUEST_SPEC = t.request_specs.insert()
_GET_BUILD_REQUEST = sa.select(t.build_requests).where(
    t.build_requests.c.instance_uuid == sa.bindparam("b_uuid"))
_DELETE_BUILD_REQUEST = t.build_requests.delete().where(
    t.build_requests.c.instance_uuid == sa.bindparam("b_uuid"))
_GET_REQUEST_SPEC = sa.select(t.request_specs.c.spec).where(
    t.request_specs.c.instance_uuid == sa.bindparam("b_uuid"))
_FLAVOR_ACCESS = (sa.select(t.flavor_projects.c.id)
                  .where(t.flavor_projects.c.flavor_id == sa.bindparam("b_id"))
                  .where(t.flavor_projects.c.project_id == sa.bindparam("b_project_id")))
_EXTRA_SPECS = sa.select(t.flavor_extra_specs).where(
    t.flavor_extra_specs.c.flavor_id.in_(sa.bindparam("b_ids", expanding=True)))
# A flavor with its extra specs in one statement (one row per spec, or one
# row with NULL spec columns when it has none).
_GET_FLAVOR_WITH_SPECS = (
    sa.select(t.flavors, t.flavor_extra_specs.c.key.label("spec_key"),
              t.flavor_extra_specs.c.value.label("spec_value"))
    .select_from(t.flavors.outerjoin(t.flavor_extra_specs,
                                     t.flavor_extra_specs.c.flavor_id == t.flavors.c.id))
    .where(t.flavors.c.flavorid == sa.bindparam("b_flavorid")))
_FLAVOR_COLUMNS = tuple(t.flavors.c.keys())
# The default quota class (level 0) and the project's own limits (level 1)
# in one statement.
_QUOTA_LIMITS = sa.union_all(
    sa.select(sa.literal_column("0").label("level"), t.quota_classes.c.resource,
              t.quota_classes.c.hard_limit).where(t.quota_classes.c.class_name == "default"),
    sa.select(sa.literal_column("1").label("level"), t.quotas.c.resource, t.quotas.c.hard_limit)
    .where(t.quotas.c.project_id == sa.bindparam("b_project_id")))
# ... and the user's own limits (level 2), for a boot's checks.
_QUOTA_LIMITS_WITH_USER = sa.union_all(
    *_QUOTA_LIMITS.selects,
    sa.select(sa.literal_column("2").label("level"), t.project_user_quotas.c.resource,
              t.project_user_quotas.c.hard_limit)
    .where(t.project_user_quotas.c.project_id == sa.bindparam("b_project_id"))
    .where(t.project_user_quotas.c.user_id == sa.bindparam("b_user_id")))


def get_instance_mapping(db, instance_uuid):
    with db.connect() as conn:
        row = conn.execute(_GET_INSTANCE_MAPPING, {"b_uuid": instance_uuid}).first()
    if row is None:
        raise exception.InstanceNotFound(instance_id=instance_uuid)
    return _d(row)


def set_instance_cell(db, instance_uuid, cell_id):
    with db.begin() as conn:
        conn.execute(_SET_INSTANCE_CELL, {"b_uuid": instance_uuid, "cell_id": cell_id,
                                          "updated_at": now()})


def list_instance_mappings(db, project_id=None):
    im, cm = t.instance_mappings, t.cell_mappings
    q = (sa.select(im.c.instance_uuid, im.c.project_id, cm.c.uuid.label("cell_uuid"))
         .select_from(im.outerjoin(cm, cm.c.id == im.c.cell_id)))
    if project_id is not None:
        q = q.where(im.c.project_id == project_id)
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q)]


def instance_mappings_of(db, instance_uuids) -> dict:
    """{instance uuid: mapping (with cell_uuid, None while unscheduled)} of
    those of *instance_uuids* that have one."""
    im, cm = t.instance_mappings, t.cell_mappings
    q = (sa.select(im.c.instance_uuid, im.c.project_id, cm.c.uuid.label("cell_uuid"))
         .select_from(im.outerjoin(cm, cm.c.id == im.c.cell_id))
         .where(im.c.instance_uuid.in_(sa.bindparam("b_uuids", expanding=True))))
    if not instance_uuids:
        return {}
    with db.connect() as conn:
        return {r.instance_uuid: _d(r) for r in conn.execute(q, {"b_uuids": list(instance_uuids)})}


def delete_instance_records(db, instance_uuid):
    """Drop everything the API database holds for one instance."""
    with db.begin() as conn:
        for table in (t.build_requests, t.request_specs, t.instance_mappings):
            conn.execute(table.delete().where(table.c.instance_uuid == instance_uuid))
        _release_ports(conn, t.fixed_ips.c.instance_uuid == instance_uuid)


# ----------------------------------------------------------------- builds

def create_build(db, instance: dict, request_spec: dict, cell_id=None):
    """Record build request, request spec and instance mapping at once."""
    ts = now()
    with db.begin() as conn:
        conn.execute(_INSERT_INSTANCE_MAPPING, {
            "instance_uuid": instance["uuid"], "cell_id": cell_id,
            "project_id": instance["project_id"], "user_id": instance["user_id"],
            "queued_for_delete": False, "created_at": ts})
        conn.execute(_INSERT_BUILD_REQUEST, {
            "instance_uuid": instance["uuid"], "project_id": instance["project_id"],
            "instance": instance, "created_at": ts})
        conn.execute(_INSERT_REQUEST_SPEC, {
            "instance_uuid": instance["uuid"], "spec": request_spec, "created_at": ts})


def get_build_request(db, instance_uuid):
    with db.connect() as conn:
        row = conn.execute(_GET_BUILD_REQUEST, {"b_uuid": instance_uuid}).first()
    return _d(row)


_BUILD_REQUESTS = sa.select(t.build_requests)
_BUILD_REQUESTS_OF = _BUILD_REQUESTS.where(
    t.build_requests.c.project_id == sa.bindparam("b_project_id"))


def list_build_requests(db, project_id=None):
    q, params = (_BUILD_REQUESTS, {}) if project_id is None else \
        (_BUILD_REQUESTS_OF, {"b_project_id": project_id})
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(q, params)]


@retry_on_deadlock
def finish_build(db, instance_uuid, cell_id) -> bool:
    """The instance now lives in a cell: map it there and drop its build
    request, at once. False (and nothing changed) when the build request is
    already gone, i.e. the user deleted the server meanwhile."""
    with db.begin() as conn:
        res = conn.execute(_DELETE_BUILD_REQUEST, {"b_uuid": instance_uuid})
        if res.rowcount == 0:
            return False
        conn.execute(_SET_INSTANCE_CELL, {"b_uuid": instance_uuid, "cell_id": cell_id,
                                          "updated_at": now()})
    return True


def update_build_instance(db, instance_uuid, values: dict) -> bool:
    """Change the instance a build request holds (the server is still being
    scheduled); False when the build request is gone (it reached a cell, or
    was deleted)."""
    br = t.build_requests
    with db.begin() as conn:
        row = conn.execute(sa.select(br.c.instance).where(br.c.instance_uuid == instance_uuid)
                           .with_for_update()).first()
        if row is None:
            return False
        conn.execute(br.update().where(br.c.instance_uuid == instance_uuid)
                     .values(instance=dict(row.instance, **values), updated_at=now()))
    return True


def delete_build_request(db, instance_uuid) -> bool:
    with db.begin() as conn:
        res = conn.execute(_DELETE_BUILD_REQUEST, {"b_uuid": instance_uuid})
    return res.rowcount > 0


def set_request_spec_image(db, instance_uuid, image: dict) -> None:
    """The image later moves of the server are scheduled for (a rebuild
    with a new image changes it, as Nova's does)."""
    rs = t.request_specs
    with db.begin() as conn:
        row = conn.execute(sa.select(rs.c.spec).where(rs.c.instance_uuid == instance_uuid)
                           .with_for_update()).first()
        if row is not None:
            conn.execute(rs.update().where(rs.c.instance_uuid == instance_uuid)
                         .values(spec=dict(row.spec or {}, image=image), updated_at=now()))


def get_request_spec(db, instance_uuid):
    with db.connect() as conn:
        row = conn.execute(_GET_REQUEST_SPEC, {"b_uuid": instance_uuid}).first()
    return None if row is None else row.spec


def set_request_spec_zone(db, instance_uuid, zone) -> None:
    """Pin the instance's later moves to *zone* (None: unpin)."""
    rs = t.request_specs
    with db.begin() as conn:
        row = conn.execute(_GET_REQUEST_SPEC.with_for_update(),
                           {"b_uuid": instance_uuid}).first()
        if row is None:
            return
        spec = dict(row.spec, availability_zone=zone)
        conn.execute(rs.update().where(rs.c.instance_uuid == instance_uuid)
                     .values(spec=spec, updated_at=clock.utcnow()))


# ---------------------------------------------------------------- flavors

def _flavor_dict(row, extra_specs):
    d = _d(row)
    d["extra_specs"] = extra_specs
    return d


def _extra_specs(conn, ids):
    out = {i: {} for i in ids}
    if ids:
        for r in conn.execute(_EXTRA_SPECS, {"b_ids": list(ids)}):
            out[r.flavor_id][r.key] = r.value
    return out


def create_flavor(db, name, memory_mb, vcpus, root_gb, flavorid=None, ephemeral_gb=0, swap=0,
                  rxtx_factor=1.0, is_public=True, description=None, extra_specs=None):
    flavorid = flavorid or str(uuidlib.uuid4())
    try:
        with db.begin() as conn:
            fid = conn.execute(t.flavors.insert().values(
                flavorid=flavorid, name=name, memory_mb=memory_mb, vcpus=vcpus, root_gb=root_gb,
                ephemeral_gb=ephemeral_gb, swap=swap, rxtx_factor=rxtx_factor,
                is_public=is_public, disabled=False, description=description, created_at=now(),
            )).inserted_primary_key[0]
            for k, v in (extra_specs or {}).items():
                conn.execute(t.flavor_extra_specs.insert().values(flavor_id=fid, key=k, value=v))
    except db_exc.DBDuplicateEntry as exc:
        which = "name" if "name" in str(exc.columns) else "ID"
        value = name if which == "name" else flavorid
        raise exception.Conflict(f"Flavor with {which} {value} already exists.") from None
    return get_flavor(db, flavorid)


INSTANCE_FLAVOR_KEYS = ("id", "flavorid", "name", "memory_mb", "vcpus", "root_gb",
                        "ephemeral_gb", "swap", "extra_specs", "description", "rxtx_factor",
                        "is_public")


def instance_flavor(flavor: dict) -> dict:
    """The copy of *flavor* an instance keeps (its ``flavor`` column and the
    request spec): later changes to the flavor do not change the server."""
    return {k: flavor[k] for k in INSTANCE_FLAVOR_KEYS}


def instance_flavor_columns(flavor: dict) -> dict:
    """The instance columns that follow its flavor (for a resize)."""
    return {"flavor": flavor, "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"],
            "root_gb": flavor["root_gb"], "ephemeral_gb": flavor.get("ephemeral_gb", 0)}


def get_flavor(db, flavorid, project_id=None, is_admin=True):
    with db.connect() as conn:
        rows = conn.execute(_GET_FLAVOR_WITH_SPECS, {"b_flavorid": str(flavorid)}).all()
        if not rows or not _flavor_visible(conn, rows[0], project_id, is_admin):
            raise exception.FlavorNotFound(flavor_id=flavorid)
    first = rows[0]._mapping
    flavor = {k: first[k] for k in _FLAVOR_COLUMNS}
    flavor["extra_specs"] = {r.spec_key: r.spec_value for r in rows if r.spec_key is not None}
    return flavor


def _flavor_visible(conn, row, project_id, is_admin):
    if row.is_public or is_admin:
        return True
    return conn.execute(_FLAVOR_ACCESS, {"b_id": row.id,
                                         "b_project_id": project_id}).first() is not None


def list_flavors(db, project_id=None, is_admin=False, is_public=True, min_ram=None,
                 min_disk=None, name=None):
    f = t.flavors
    q = sa.select(f).where(f.c.disabled.is_(False))
    if min_ram is not None:
        q = q.where(f.c.memory_mb >= min_ram)
    if min_disk is not None:
        q = q.where(f.c.root_gb >= min_disk)
    if name is not None:
        q = q.where(f.c.name == name)
    if is_public is not None:
        if is_public:
            access = sa.select(t.flavor_projects.c.flavor_id).where(
                t.flavor_projects.c.project_id == project_id)
            q = q.where(sa.or_(f.c.is_public.is_(True), f.c.id.in_(access)))
        else:
            q = q.where(f.c.is_public.is_(False))
            if not is_admin:
                q = q.where(f.c.id.in_(sa.select(t.flavor_projects.c.flavor_id).where(
                    t.flavor_projects.c.project_id == project_id)))
    elif not is_admin:
        access = sa.select(t.flavor_projects.c.flavor_id).where(
            t.flavor_projects.c.project_id == project_id)
        q = q.where(sa.or_(f.c.is_public.is_(True), f.c.id.in_(access)))
    with db.connect() as conn:
        rows = conn.execute(q.order_by(f.c.memory_mb, f.c.flavorid)).all()
        specs = _extra_specs(conn, [r.id for r in rows])
    return [_flavor_dict(r, specs[r.id]) for r in rows]


def delete_flavor(db, flavorid):
    with db.begin() as conn:
        row = conn.execute(sa.select(t.flavors.c.id).where(t.flavors.c.flavorid == flavorid)).first()
        if row is None:
            raise exception.FlavorNotFound(flavor_id=flavorid)
        conn.execute(t.flavor_extra_specs.delete().where(t.flavor_extra_specs.c.flavor_id == row.id))
        conn.execute(t.flavor_projects.delete().where(t.flavor_projects.c.flavor_id == row.id))
        conn.execute(t.flavors.delete().where(t.flavors.c.id == row.id))


def count_flavors(db):
    with db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t.flavors)).scalar()


# ----------------------------------------------------------------- quotas

def get_quota_limits(db, project_id, defaults: dict) -> dict:
    with db.connect() as conn:
        rows = conn.execute(_QUOTA_LIMITS, {"b_project_id": project_id}).all()
    return _project_limits(rows, defaults)


def get_quota_limits_and_user(db, project_id, user_id, defaults: dict) -> tuple[dict, dict]:
    """The project's limits (as :func:`get_quota_limits`) and the limits set
    for its user *user_id* (as quotas.user_limits), in one statement."""
    with db.connect() as conn:
        rows = conn.execute(_QUOTA_LIMITS_WITH_USER,
                            {"b_project_id": project_id, "b_user_id": user_id}).all()
    return (_project_limits([r for r in rows if r[0] < 2], defaults),
            {resource: hard_limit for level, resource, hard_limit in rows if level == 2})


def _project_limits(rows, defaults: dict) -> dict:
    limits = dict(defaults)
    # The project's own limits override the default class's.
    for _, resource, hard_limit in sorted(rows, key=lambda r: r[0]):
        limits[resource] = hard_limit
    return limits


# -------------------------------------------------------------- key pairs

def get_key_pair_public_key(db, user_id, name) -> str | None:
    """The public key of *user_id*'s key pair *name*, or None."""
    with db.connect() as conn:
        return conn.execute(sa.select(t.key_pairs.c.public_key)
                            .where(t.key_pairs.c.user_id == user_id)
                            .where(t.key_pairs.c.name == name)).scalar()


# -------------------------------------------------------------- fixed IPs

def allocate_fixed_ip(db, network, instance_uuid, candidates, mac, port_id=None, tag=None,
                      preserve_on_delete=False, project_id=None):
    """Take the first free address of *candidates* for the instance (None:
    a free port), as the port *port_id* (a new id when None) of the project
    *project_id*."""
    with db.connect() as conn:
        taken = set(conn.execute(sa.select(t.fixed_ips.c.address)
                                 .where(t.fixed_ips.c.network == network)).scalars())
    for address in candidates:
        if address in taken:
            continue
        try:
            with db.begin() as conn:
                conn.execute(t.fixed_ips.insert().values(
                    network=network, address=address, instance_uuid=instance_uuid, mac=mac,
                    port_id=port_id or str(uuidlib.uuid4()), tag=tag,
                    preserve_on_delete=preserve_on_delete, project_id=project_id,
                    created_at=now()))
            return address
        except db_exc.DBDuplicateEntry:
            continue
    return None


def _release_ports(conn, where):
    """Free the ports *where* selects: a port made ahead (preserve_on_delete)
    is unbound and stays, any other is deleted with its address."""
    f = t.fixed_ips
    conn.execute(f.update().where(where).where(f.c.preserve_on_delete.is_(True))
                 .values(instance_uuid=None, tag=None, updated_at=now()))
    conn.execute(f.delete().where(where).where(f.c.preserve_on_delete.is_(False)))


def release_fixed_ips(db, instance_uuid):
    with db.begin() as conn:
        _release_ports(conn, t.fixed_ips.c.instance_uuid == instance_uuid)


def release_port(db, port_id, instance_uuid) -> bool:
    """Free the port *port_id* of *instance_uuid*; False when it has no such port."""
    f = t.fixed_ips
    with db.begin() as conn:
        found = conn.execute(sa.select(f.c.id).where(f.c.port_id == port_id)
                             .where(f.c.instance_uuid == instance_uuid)).first()
        if found is None:
            return False
        _release_ports(conn, f.c.id == found.id)
    return True


def bind_port(db, port_id, instance_uuid, tag=None) -> bool:
    """Bind the free port *port_id* to *instance_uuid*; False when it is
    not free (or does not exist)."""
    f = t.fixed_ips
    with db.begin() as conn:
        done = conn.execute(f.update().where(f.c.port_id == port_id)
                            .where(f.c.instance_uuid.is_(None))
                            .values(instance_uuid=instance_uuid, tag=tag, updated_at=now()))
    return done.rowcount == 1


def get_port(db, port_id):
    """The fixed IP row of the port *port_id*, or None."""
    with db.connect() as conn:
        row = conn.execute(sa.select(t.fixed_ips).where(t.fixed_ips.c.port_id == port_id)).first()
    return None if row is None else _d(row)


def fixed_ips_of(db, instance_uuid):
    with db.connect() as conn:
        return [_d(r) for r in conn.execute(sa.select(t.fixed_ips)
                                            .where(t.fixed_ips.c.instance_uuid == instance_uuid)
                                            .order_by(t.fixed_ips.c.id))]
