"""compute-manage: the operator's command for databases, cells, plugins and
images, in the shape of nova-manage::

    compute-manage [--config-file PATH ...] [--config-dir DIR] CATEGORY ACTION [options]

    api_db sync [VERSION] | api_db version
    db sync [VERSION] [--local_cell] | db version
    cell_v2 map_cell0 | create_cell | list_cells | discover_hosts | list_hosts | delete_cell
    placement sync [VERSION] | placement version
    placement heal_allocations [--max-count N] [--instance UUID | --cell UUID]
                               [--dry-run] [--verbose]
    placement audit [--resource_provider UUID] [--delete] [--verbose]
    plugins list
    image import NAME FILE [--disk-format F] [--property KEY=VALUE ...]

Exit codes follow nova-manage: 0 done, 1 failed, 2 wrong usage or refused
(a duplicate cell, hosts still in a cell, ...), 255 an unexpected error.
``placement heal_allocations`` and ``placement audit`` have nova-manage's own
codes (see compute_core.placement_client.heal): heal exits 0 healed, 1 --max-count
reached, 2 no compute node, 3 allocation failed, 4 nothing to heal, 127
invalid input; audit 0 no orphan, 1 failed, 3 orphans found, 4 orphans
deleted, 127 invalid input.
"""
from __future__ import annotations

import argparse
import sys
import uuid as uuidlib

import sqlalchemy as sa

from compute_core import exception, plugins
from compute_core.cmd import common
from compute_core.cmd.common import CommandError
from compute_core.db import api_db, api_schema, cell_db, migration
from compute_core.db.cells import CELL0_UUID, cell0_url, discover_hosts, map_cell0
from compute_core.image import load_image_backend

# nova-manage's code for invalid input (placement heal_allocations, audit).
EXIT_INVALID = 127

# --------------------------------------------------------------- migrations


def _sync(db, which: str, version: str | None, label: str) -> None:
    migration.upgrade(db, which, version or "head")
    print(f"{label} {db.safe_url}: at revision {migration.current(db)}")


def api_db_sync(conf, args) -> int:
    with common.Databases(conf) as dbs:
        _sync(dbs.api(migrated=False), "api", args.version, "API database")
    return 0


def api_db_version(conf, args) -> int:
    with common.Databases(conf) as dbs:
        print(migration.current(dbs.api(migrated=False)))
    return 0


def db_sync(conf, args) -> int:
    """Migrate the [database] one and, unless --local_cell, every mapped cell
    database (cell0 included), each once even when they share a URL."""
    with common.Databases(conf) as dbs:
        cells = []
        if not args.local_cell:
            cells = api_db.list_cells(dbs.api())
            if not any(c["uuid"] == CELL0_UUID for c in cells):
                print("WARNING: cell0 mapping not found - not syncing cell0.")
        local = dbs.local_cell()
        _sync(local, "cell", args.version, "cell database [database]")
        done = {local.url}
        for cell in cells:
            url = cell["database_connection"]
            if url in done:
                continue
            done.add(url)
            name = cell["name"] or cell["uuid"]
            db = dbs.open(url, f"the database of cell {name}")
            _sync(db, "cell", args.version, f"cell database of {name}")
    return 0


def db_version(conf, args) -> int:
    with common.Databases(conf) as dbs:
        print(migration.current(dbs.local_cell()))
    return 0


def placement_sync(conf, args) -> int:
    with common.Databases(conf) as dbs:
        _sync(dbs.placement(), "placement", args.version, "placement database")
    return 0


def placement_version(conf, args) -> int:
    with common.Databases(conf) as dbs:
        print(migration.current(dbs.placement()))
    return 0


def _placement_repair(conf, run) -> int:
    """Run heal_allocations or audit (*run*) with the API and cell
    databases and a placement client; a HealError is one line and its code."""
    from compute_core.placement_client import heal
    from compute_core.placement_client.client import PlacementClient

    placement = PlacementClient(conf)
    try:
        placement.endpoint  # a missing [placement] endpoint fails before any work
        with common.Databases(conf) as dbs:
            api = dbs.api()
            return run(heal, api, dbs.cells(api), placement)
    except heal.HealError as exc:
        raise CommandError(str(exc), exc.exit_code) from None
    finally:
        placement.close()


def _uuid_arg(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise CommandError(f"{option} takes a UUID, not {value!r}", EXIT_INVALID) from None


def placement_heal_allocations(conf, args) -> int:
    instance_uuid = _uuid_arg(args.instance_uuid, "--instance")
    cell_uuid = _uuid_arg(args.cell_uuid, "--cell")
    max_count = None
    if args.max_count is not None:
        try:
            max_count = int(args.max_count)
        except ValueError:
            max_count = 0
        if max_count < 1:
            raise CommandError("Must supply a positive integer for --max-count.",
                               EXIT_INVALID)

    def run(heal, api, cells, placement):
        result = heal.heal_allocations(
            api, cells, placement, max_count=max_count, instance_uuid=instance_uuid,
            cell_uuid=cell_uuid, dry_run=args.dry_run,
            output=print if args.verbose else (lambda _m: None))
        return result.exit_code

    return _placement_repair(conf, run)


def placement_audit(conf, args) -> int:
    provider_uuid = _uuid_arg(args.provider_uuid, "--resource_provider")

    def run(heal, api, cells, placement):
        result = heal.audit(api, cells, placement, provider_uuid=provider_uuid,
                            delete=args.delete,
                            output=print if args.verbose else (lambda _m: None),
                            report=print)
        return result.exit_code

    return _placement_repair(conf, run)


# ------------------------------------------------------------------ cell_v2


def _check_url(url: str, option: str) -> str:
    try:
        sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise CommandError(f"invalid database URL given as {option}: {url!r}") from None
    return url


def _check_transport_url(conf, url: str) -> None:
    import oslo_messaging  # after common's warning filter (see there)

    try:
        oslo_messaging.TransportURL.parse(conf, url)
    except (oslo_messaging.InvalidTransportURL, ValueError) as exc:
        raise CommandError(f"invalid transport URL {common.mask_password(url)!r}: "
                           f"{common.first_line(exc)}") from None


def _get_cell(api, cell_uuid: str) -> dict:
    try:
        return api_db.get_cell(api, cell_uuid)
    except exception.CellMappingNotFound:
        raise CommandError(f"Cell with uuid {cell_uuid} was not found.") from None


def cell_v2_map_cell0(conf, args) -> int:
    url = args.database_connection
    if not url:
        if not conf.database.connection:
            raise CommandError("Must specify --database_connection if [database] "
                               "connection is not set in the configuration file.")
        url = cell0_url(conf.database.connection)
    _check_url(url, "--database_connection")
    with common.Databases(conf) as dbs:
        _mapping, created = map_cell0(dbs.api(), url)
    if not created:
        print("Cell0 is already setup")
    return 0


def cell_v2_create_cell(conf, args) -> int:
    transport_url = args.transport_url or conf.transport_url
    if not transport_url:
        raise CommandError("Must specify --transport-url if [DEFAULT] transport_url is not "
                           "set in the configuration file.")
    url = args.database_connection or conf.database.connection
    if not url:
        raise CommandError("Must specify --database_connection if [database] connection "
                           "is not set in the configuration file.")
    _check_url(url, "--database_connection")
    _check_transport_url(conf, transport_url)
    with common.Databases(conf) as dbs:
        api = dbs.api()
        for cell in api_db.list_cells(api):
            if args.name and cell["name"] == args.name:
                raise CommandError(f"A cell named {args.name!r} already exists "
                                   f"({cell['uuid']}).", common.EXIT_USAGE)
            if (cell["transport_url"], cell["database_connection"]) == (transport_url, url):
                raise CommandError(f"The specified transport_url and database_connection "
                                   f"combination already exists for cell {cell['uuid']}.",
                                   common.EXIT_USAGE)
        cell = api_db.create_cell(api, args.name, url, transport_url, disabled=args.disabled)
    if args.verbose:
        print(cell["uuid"])
    return 0


def cell_v2_list_cells(conf, args) -> int:
    with common.Databases(conf) as dbs:
        cells = api_db.list_cells(dbs.api())
    show = (lambda u: u) if args.verbose else common.mask_password
    rows = [[c["name"] or "", c["uuid"], show(c["transport_url"]),
             show(c["database_connection"]), bool(c["disabled"])]
            for c in sorted(cells, key=lambda c: c["name"] or "")]
    print(common.format_table(
        ["Name", "UUID", "Transport URL", "Database Connection", "Disabled"], rows))
    return 0


def cell_v2_discover_hosts(conf, args) -> int:
    with common.Databases(conf) as dbs:
        api = dbs.api()
        cells = dbs.cells(api)
        if args.cell_uuid:
            _get_cell(api, args.cell_uuid)
        if args.verbose:
            listed = [c for c in cells.refresh() if c["uuid"] != CELL0_UUID
                      and (not args.cell_uuid or c["uuid"] == args.cell_uuid)]
            print(f"Found {len(listed)} cell mappings.")
        mapped = discover_hosts(api, cells, args.cell_uuid)
    if args.verbose:
        for host, cell_name in mapped:
            print(f"Mapped compute host {host!r} to cell {cell_name!r}.")
        print(f"{len(mapped)} new host mappings.")
    if args.strict and not mapped:
        return 1
    return 0


def cell_v2_list_hosts(conf, args) -> int:
    with common.Databases(conf) as dbs:
        api = dbs.api()
        if args.cell_uuid:
            _get_cell(api, args.cell_uuid)
        hosts = [h for h in api_db.list_host_mappings(api)
                 if not args.cell_uuid or h["cell_uuid"] == args.cell_uuid]
    rows = [[h["cell_name"] or "", h["cell_uuid"], h["host"]]
            for h in sorted(hosts, key=lambda h: h["host"])]
    print(common.format_table(["Cell Name", "Cell UUID", "Hostname"], rows))
    return 0


def cell_v2_delete_cell(conf, args) -> int:
    """Delete an empty cell: 2 while hosts are mapped to it, 3 while it holds
    instances, 4 while instance mappings point at it (as nova-manage)."""
    with common.Databases(conf) as dbs:
        api = dbs.api()
        cell = _get_cell(api, args.cell_uuid)
        if any(h["cell_uuid"] == cell["uuid"] for h in api_db.list_host_mappings(api)):
            raise CommandError(f"There are existing hosts mapped to cell with uuid "
                               f"{cell['uuid']}.", 2)
        mapped = [m for m in api_db.list_instance_mappings(api)
                  if m["cell_uuid"] == cell["uuid"]]
        if mapped:
            cell_db_handle = dbs.cells(api).get(cell["uuid"])
            if cell_db.count_instances(cell_db_handle)["instances"]:
                raise CommandError(f"There are existing instances mapped to cell with uuid "
                                   f"{cell['uuid']}.", 3)
            raise CommandError(f"There are instance mappings to cell with uuid "
                               f"{cell['uuid']}, but all instances have been deleted "
                               f"in the cell.", 4)
        # No mapping function in api_db deletes a cell: this command is the
        # only place that may, after the checks above.
        with api.begin() as conn:
            conn.execute(api_schema.cell_mappings.delete()
                         .where(api_schema.cell_mappings.c.uuid == cell["uuid"]))
    return 0


# ------------------------------------------------------------ plugins, images


def plugins_list(conf, args) -> int:
    rows = []
    broken = 0
    for group, entries in plugins.describe_installed().items():
        if not entries:
            rows.append([group, "(none installed)", "", "", "", ""])
        for e in entries:
            broken += e["status"] != "ok"
            rows.append([group, e["name"], e["distribution"], e["version"], e["status"],
                         e["target"]])
    print(common.format_table(["Group", "Name", "Distribution", "Version", "Status", "Target"],
                              rows))
    if broken:
        print(f"{broken} installed plugin(s) cannot load: see their Status", file=sys.stderr)
    return 0


def _properties(pairs: list[str]) -> dict:
    props = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--property takes KEY=VALUE, not {pair!r}", common.EXIT_USAGE)
        props[key] = value
    return props


def image_import(conf, args) -> int:
    props = _properties(args.property)
    try:
        data = open(args.file, "rb")
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    with data, common.Databases(conf) as dbs:
        images = load_image_backend(conf, dbs.api())
        image = images.create(args.name, data, disk_format=args.disk_format,
                              container_format=args.container_format, properties=props,
                              min_disk=args.min_disk, min_ram=args.min_ram)
    rows = [[k, image[k]] for k in ("id", "name", "status", "disk_format",
                                    "container_format", "size", "checksum", "min_disk",
                                    "min_ram")]
    rows += [[f"properties.{k}", v] for k, v in sorted(image["properties"].items())]
    print(common.format_table(["Property", "Value"], rows))
    return 0


# ------------------------------------------------------------------ parser


def _sync_parser(actions, name, func, help_text, local_cell=False):
    p = actions.add_parser(name, help=help_text)
    p.add_argument("version", nargs="?", metavar="VERSION",
                   help="alembic revision to migrate to (default: the head)")
    if local_cell:
        p.add_argument("--local_cell", action="store_true",
                       help="only the [database] one, not every cell")
    p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compute-manage", description="Manage compute_core's databases, cells, "
        "plugins and images.")
    common.add_config_args(parser)
    common.add_state_dir_arg(parser)
    categories = parser.add_subparsers(dest="category", metavar="CATEGORY", required=True)

    def category(name, help_text):
        sub = categories.add_parser(name, help=help_text)
        return sub.add_subparsers(dest="action", metavar="ACTION", required=True)

    actions = category("api_db", "the API database")
    _sync_parser(actions, "sync", api_db_sync, "migrate the [api_database] to the head")
    actions.add_parser("version", help="print its revision").set_defaults(func=api_db_version)

    actions = category("db", "the cell databases")
    _sync_parser(actions, "sync", db_sync, "migrate [database] and every mapped cell "
                 "database (cell0 included)", local_cell=True)
    actions.add_parser("version", help="print the revision of [database]").set_defaults(
        func=db_version)

    actions = category("placement", "the placement database")
    _sync_parser(actions, "sync", placement_sync, "migrate the [placement_database]")
    actions.add_parser("version", help="print its revision").set_defaults(
        func=placement_version)
    p = actions.add_parser(
        "heal_allocations", help="create the missing allocations of instances on a host "
        "(exit 0 healed, 1 --max-count reached, 2 no compute node, 3 allocation failed, "
        "4 nothing to heal, 127 invalid input)")
    p.add_argument("--max-count", dest="max_count", metavar="N",
                   help="heal at most N instances, then exit 1; run again until it "
                        "exits 0 or 4 (default: all, in batches of 50)")
    p.add_argument("--instance", dest="instance_uuid", metavar="UUID",
                   help="only this instance (--max-count then has no effect)")
    p.add_argument("--cell", dest="cell_uuid", metavar="UUID",
                   help="only the instances of this cell")
    p.add_argument("--dry-run", dest="dry_run", action="store_true",
                   help="say what would be healed, change nothing (exits 4)")
    p.add_argument("--verbose", action="store_true", help="say what is done")
    p.set_defaults(func=placement_heal_allocations)
    p = actions.add_parser(
        "audit", help="find allocations no instance or migration owns "
        "(exit 0 none, 1 failed, 3 found, 4 found and deleted, 127 invalid input)")
    p.add_argument("--resource_provider", dest="provider_uuid", metavar="UUID",
                   help="only this resource provider")
    p.add_argument("--delete", action="store_true", help="delete the orphaned allocations")
    p.add_argument("--verbose", action="store_true", help="say what is checked")
    p.set_defaults(func=placement_audit)

    actions = category("cell_v2", "cells v2 mappings")
    p = actions.add_parser("map_cell0", help="create the cell0 mapping")
    p.add_argument("--database_connection", metavar="URL",
                   help="cell0's database (default: [database] connection + _cell0)")
    p.set_defaults(func=cell_v2_map_cell0)

    p = actions.add_parser("create_cell", help="map a new cell")
    p.add_argument("--name", help="the cell's name")
    p.add_argument("--database_connection", metavar="URL",
                   help="the cell's database (default: [database] connection)")
    p.add_argument("--transport-url", dest="transport_url", metavar="URL",
                   help="the cell's message bus (default: [DEFAULT] transport_url)")
    p.add_argument("--verbose", action="store_true", help="print the new cell's uuid")
    p.add_argument("--disabled", action="store_true", help="create it disabled")
    p.set_defaults(func=cell_v2_create_cell)

    p = actions.add_parser("list_cells", help="list the cell mappings")
    p.add_argument("--verbose", action="store_true", help="show passwords in URLs")
    p.set_defaults(func=cell_v2_list_cells)

    p = actions.add_parser("discover_hosts", help="map unmapped compute hosts to their cell")
    p.add_argument("--cell_uuid", metavar="UUID", help="only this cell")
    p.add_argument("--verbose", action="store_true", help="say what was mapped")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when no new host was mapped")
    p.set_defaults(func=cell_v2_discover_hosts)

    p = actions.add_parser("list_hosts", help="list the host mappings")
    p.add_argument("--cell_uuid", metavar="UUID", help="only this cell")
    p.set_defaults(func=cell_v2_list_hosts)

    p = actions.add_parser("delete_cell", help="delete an empty cell mapping")
    p.add_argument("--cell_uuid", metavar="UUID", required=True, help="the cell")
    p.set_defaults(func=cell_v2_delete_cell)

    actions = category("plugins", "installed plugins")
    actions.add_parser("list", help="every plugin per entry-point group").set_defaults(
        func=plugins_list, needs_config=False)

    actions = category("image", "images of the configured image backend")
    p = actions.add_parser("import", help="import an image file")
    p.add_argument("name", metavar="NAME")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--disk-format", default="raw",
                   choices=["raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ami",
                            "ari", "aki", "ploop"], help="default: %(default)s")
    p.add_argument("--container-format", default="bare",
                   choices=["bare", "ovf", "ova", "ami", "ari", "aki", "docker",
                            "compressed"], help="default: %(default)s")
    p.add_argument("--min-disk", type=int, default=0, metavar="GB")
    p.add_argument("--min-ram", type=int, default=0, metavar="MB")
    p.add_argument("--property", action="append", default=[], metavar="KEY=VALUE",
                   help="an image property; may be repeated")
    p.set_defaults(func=image_import)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    common.setup_logging(args.debug)

    def action(args):
        conf = common.load_config(args) if getattr(args, "needs_config", True) else None
        return args.func(conf, args)

    return common.run("compute-manage", action, args, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
