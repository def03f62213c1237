"""compute-status: checks an operator runs before (and after) an upgrade,
in the shape of nova-status::

    compute-status [--config-file PATH ...] [--config-dir DIR] upgrade check [--json]

Each check gives Success, Warning or Failure with details. The exit code is
the worst result: 0 all Success, 1 a Warning, 2 a Failure, 255 when a check
could not run at all (an unexpected error).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap

from keystoneauth1 import exceptions as ks_exc

from compute_core import exception
from compute_core.cmd import common
from compute_core.db import api_db, cell_db, migration
from compute_core.db.cells import CELL0_UUID
from compute_core.placement_client import client as placement_client

SUCCESS, WARNING, FAILURE = 0, 1, 2
RESULT_NAMES = {SUCCESS: "Success", WARNING: "Warning", FAILURE: "Failure"}
# The microversion our services send to placement.
MIN_PLACEMENT_MICROVERSION = placement_client.VERSION


@dataclasses.dataclass
class Result:
    code: int
    details: str | None = None


class _Unavailable(Exception):
    """A check cannot look at what it needs; its Failure details say why."""


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


class UpgradeChecks:
    """The checks, each a method returning a :class:`Result`.

    Databases are opened on first use and closed by :meth:`close`.
    """

    def __init__(self, conf, placement=None):
        self.conf = conf
        self.dbs = common.Databases(conf)
        self._placement = placement
        self._api = None
        self._cells = None
        self._nodes = None

    def close(self):
        self.dbs.close()
        if self._placement is not None:
            self._placement.close()

    # -- what the checks read
    def _api_handle(self):
        """The API database, whatever its revision."""
        if self._api is None:
            try:
                self._api = self.dbs.api(migrated=False)
            except common.CommandError as exc:
                raise _Unavailable(str(exc)) from None
        return self._api

    def _api_db(self):
        """The API database, refused unless migrated."""
        db = self._api_handle()
        try:
            migration.check_current(db, "api")
        except exception.DatabaseNotMigrated as exc:
            raise _Unavailable(str(exc)) from None
        return db

    def _compute_nodes(self) -> list[dict]:
        """Compute nodes of every cell but cell0, each with its cell's name."""
        if self._nodes is not None:
            return self._nodes
        if self._cells is None:
            self._cells = self.dbs.cells(self._api_db())
        nodes = []
        for cell in self._cells.cells(include_cell0=False):
            try:
                db = self._cells.get(cell["uuid"])
            except (common.CommandError, exception.ComputeCoreError) as exc:
                raise _Unavailable(str(exc)) from None
            for node in cell_db.list_compute_nodes(db):
                nodes.append(dict(node, cell_name=cell["name"]))
        self._nodes = nodes
        return nodes

    def placement(self):
        if self._placement is None:
            self._placement = placement_client.PlacementClient(self.conf)
        return self._placement

    # -- the checks
    def check_cells_v2(self) -> Result:
        cells = api_db.list_cells(self._api_db())
        if not any(c["uuid"] == CELL0_UUID for c in cells):
            return Result(FAILURE, "No cell0 mapping found. Run command "
                                   "'compute-manage cell_v2 map_cell0' and then "
                                   "'compute-manage db sync'.")
        if len(cells) < 2:
            return Result(FAILURE, "There needs to be at least two cell mappings, one for "
                                   "cell0 and one for your first cell. Run command "
                                   "'compute-manage cell_v2 create_cell' and then "
                                   "'compute-manage db sync'.")
        mapped = {h["host"] for h in api_db.list_host_mappings(self._api_db())}
        hosts = {n["host"] for n in self._compute_nodes()}
        if not mapped and not hosts:
            return Result(SUCCESS, "No host mappings or compute nodes were found. Remember "
                                   "to run command 'compute-manage cell_v2 discover_hosts' "
                                   "when new compute hosts are deployed.")
        if not mapped:
            return Result(FAILURE, "No host mappings found but there are compute nodes. "
                                   "Run command 'compute-manage cell_v2 discover_hosts' and "
                                   "then verify using 'compute-manage cell_v2 list_hosts'.")
        unmapped = sorted(hosts - mapped)
        if unmapped:
            return Result(WARNING, f"{len(unmapped)} compute host(s) not mapped to a cell: "
                                   f"{', '.join(unmapped[:10])}. Run command "
                                   "'compute-manage cell_v2 discover_hosts'.")
        return Result(SUCCESS)

    def check_placement(self) -> Result:
        try:
            resp = self.placement().request("GET", "/", version=MIN_PLACEMENT_MICROVERSION)
        except exception.ConfigError as exc:
            return Result(FAILURE, f"No placement API endpoint: {exc}.")
        except ks_exc.ClientException as exc:
            return Result(FAILURE, f"Placement API endpoint not found: {common.first_line(exc)}")
        except placement_client.PlacementAPIError:
            return Result(FAILURE, f"Placement API does not seem to be running at "
                                   f"{self.placement().endpoint}.")
        if resp.status_code in (401, 403):
            return Result(FAILURE, "Placement service credentials do not work.")
        if resp.status_code == 406:
            return Result(FAILURE, f"Placement API version {MIN_PLACEMENT_MICROVERSION} "
                                   f"needed: the service refused it.")
        try:
            versions = resp.json()["versions"]
            have = max((v["max_version"] for v in versions), key=_version_tuple)
        except (ValueError, KeyError, TypeError):
            return Result(FAILURE, f"{self.placement().endpoint} does not answer like the "
                                   f"placement API (HTTP {resp.status_code}).")
        if _version_tuple(have) < _version_tuple(MIN_PLACEMENT_MICROVERSION):
            return Result(FAILURE, f"Placement API version {MIN_PLACEMENT_MICROVERSION} "
                                   f"needed, you have {have}.")
        return Result(SUCCESS)

    def check_resource_providers(self) -> Result:
        nodes = self._compute_nodes()
        if not nodes:
            return Result(SUCCESS, "There are no compute nodes in the cell databases yet. "
                                   "Remember to configure new compute nodes to report into "
                                   "the Placement service.")
        try:
            providers = {p["uuid"] for p in self.placement().list_providers()}
        except (exception.ComputeCoreError, ks_exc.ClientException) as exc:
            return Result(FAILURE, f"Cannot list resource providers: {exc}")
        missing = sorted(n["hypervisor_hostname"] for n in nodes if n["uuid"] not in providers)
        if missing:
            return Result(WARNING, f"{len(missing)} of {len(nodes)} compute node(s) have no "
                                   f"resource provider in placement: "
                                   f"{', '.join(missing[:10])}. Those compute services "
                                   "are not reporting to placement (check that they run "
                                   "and their [placement] configuration); until they do "
                                   "the scheduler cannot use them.")
        return Result(SUCCESS)

    def check_databases(self) -> Result:
        api = self._api_handle()
        found = [("API", "api", lambda: api)]
        if migration.current(api) == migration.head("api"):
            for cell in api_db.list_cells(api):
                label = f"cell {cell['name'] or cell['uuid']}"
                found.append((label, "cell", lambda url=cell["database_connection"],
                              label=label: self.dbs.open(url, f"the database of {label}")))
        if self.conf.placement_database.connection:
            found.append(("placement", "placement", self.dbs.placement))
        problems = []
        for label, which, opener in found:
            try:
                have = migration.current(opener())
            except (common.CommandError, exception.ComputeCoreError) as exc:
                problems.append(f"{label}: {exc}")
                continue
            if have != migration.head(which):
                problems.append(f"the {label} database is at revision {have}, not "
                                f"{migration.head(which)}: run "
                                f"'{migration.SYNC_COMMANDS[which]}'")
        if problems:
            return Result(FAILURE, "; ".join(problems) + ".")
        return Result(SUCCESS)

    CHECKS = (
        ("Cells v2", check_cells_v2),
        ("Placement API", check_placement),
        ("Resource Providers", check_resource_providers),
        ("Database Schemas", check_databases),
    )

    def run(self) -> list[tuple[str, Result]]:
        results = []
        for name, check in self.CHECKS:
            try:
                result = check(self)
            except _Unavailable as exc:
                result = Result(FAILURE, str(exc))
            except common.EXPECTED_ERRORS as exc:
                result = Result(FAILURE, common.describe_error(exc))
            results.append((name, result))
        return results


def format_results(results: list[tuple[str, Result]], width: int = 60) -> str:
    """The framed table nova-status prints: one section per check."""
    lines = []
    for name, result in results:
        details = result.details or "None"
        wrapped = textwrap.wrap(f"Details: {details}", width) or ["Details: None"]
        lines.append([f"Check: {name}", f"Result: {RESULT_NAMES[result.code]}"] + wrapped)
    inner = max([len("Upgrade Check Results")] + [len(x) for sec in lines for x in sec])
    rule = "+" + "-" * (inner + 2) + "+"

    def row(text):
        return f"| {text.ljust(inner)} |"

    out = [rule, row("Upgrade Check Results"), rule]
    for section in lines:
        out += [row(x) for x in section] + [rule]
    return "\n".join(out)


def upgrade_check(conf, args) -> int:
    checks = UpgradeChecks(conf)
    try:
        results = checks.run()
    finally:
        checks.close()
    if args.json:
        print(json.dumps({"name": "compute_core upgrade check", "checks": [
            {"check": name, "result": r.code, "details": r.details} for name, r in results]},
            indent=2))
    else:
        print(format_results(results))
    return max((r.code for _, r in results), default=SUCCESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compute-status",
                                     description="Check compute_core's readiness for "
                                                 "an upgrade.")
    common.add_config_args(parser)
    common.add_state_dir_arg(parser)
    categories = parser.add_subparsers(dest="category", metavar="CATEGORY", required=True)
    upgrade = categories.add_parser("upgrade", help="upgrade readiness checks")
    actions = upgrade.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = actions.add_parser("check", help="run every check and print a table")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=upgrade_check)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    common.setup_logging(args.debug)

    def action(args):
        return args.func(common.load_config(args), args)

    # When the checks cannot run at all (a bad configuration file, a bug)
    # there is no result to report: 255, as nova-status, never 1 or 2.
    return common.run("compute-status", action, args, debug=args.debug,
                      error_code=common.EXIT_UNEXPECTED)


if __name__ == "__main__":
    sys.exit(main())
