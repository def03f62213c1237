"""What the operator commands (compute-manage, compute-status) share.

- the configuration options every command takes (``--config-file``,
  ``--config-dir``, ``--debug``) and :func:`load_config`, which reads them
  into a fresh ConfigOpts through :func:`compute_core.conf.load`;
- :class:`Databases`, which opens the databases a command needs (failing
  fast, never retrying for minutes) and closes them afterwards;
- :func:`run`, which turns every expected failure (bad URL, unknown cell,
  unreachable or unmigrated database, bad configuration) into one line on
  stderr and an exit code, never a traceback;
- :func:`format_table`, the plain ASCII tables nova-manage prints.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback

import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core import exception
from compute_core.db import migration
from compute_core.db.cells import CellDatabases
from compute_core.db.engines import Database

# Exit codes, as nova-manage uses them.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 255

DEFAULT_CONFIG_FILE = "/etc/compute_core/compute.conf"


class CommandError(Exception):
    """A failure the command reports in one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH",
                        help="an oslo.config file; may be repeated, later files win "
                             f"(default: {DEFAULT_CONFIG_FILE} when it exists)")
    parser.add_argument("--config-dir", metavar="DIR",
                        help="a directory of *.conf files read after the config files")
    parser.add_argument("--debug", action="store_true",
                        help="log at DEBUG level and show tracebacks of unexpected errors")


def load_config(args: argparse.Namespace):
    """A fresh ConfigOpts from the command's --config-file/--config-dir."""
    from compute_core import conf as cc_conf

    files = list(args.config_file)
    if not files and not args.config_dir and os.path.exists(DEFAULT_CONFIG_FILE):
        files = [DEFAULT_CONFIG_FILE]
    cli = []
    for path in files:
        cli += ["--config-file", path]
    if args.config_dir:
        cli += ["--config-dir", args.config_dir]
    return cc_conf.load(args=cli)


def setup_logging(debug: bool) -> None:
    """Log to stderr; quiet by default so an error stays one line.

    A program that calls ``main(argv)`` and has set up logging itself
    (a test runner, a host program) keeps its handlers.
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not debug:
        # oslo.db warns once per connection attempt; the command says it
        # once itself, with the database's name.
        logging.getLogger("oslo_db").setLevel(logging.ERROR)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """One line for an expected failure."""
    if isinstance(exc, db_exc.DBError) and getattr(exc, "inner_exception", None) is not None:
        exc = exc.inner_exception
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        # "(sqlite3.OperationalError) no such table: x" without the SQL
        return f"database error: {first_line(exc.orig)}"
    if isinstance(exc, (db_exc.DBError, sa.exc.SQLAlchemyError)):
        return f"database error: {first_line(exc)}"
    return first_line(exc)


EXPECTED_ERRORS = (CommandError, exception.ComputeCoreError, db_exc.DBError,
                   sa.exc.SQLAlchemyError, OSError)


def run(prog: str, action, args, debug: bool = False, error_code: int = EXIT_FAILURE) -> int:
    """Call ``action(args)``; report expected failures in one line and exit
    with *error_code* (or a :class:`CommandError`'s own code).

    An unexpected exception is reported in one line too (the traceback only
    with --debug) and exits 255, as nova-manage does.
    """
    try:
        code = action(args)
    except CommandError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return exc.code if error_code == EXIT_FAILURE else error_code
    except EXPECTED_ERRORS as exc:
        print(f"ERROR: {describe_error(exc)}", file=sys.stderr)
        return error_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"ERROR: unexpected {type(exc).__name__}: {first_line(exc)}", file=sys.stderr)
        return EXIT_UNEXPECTED
    return EXIT_OK if code is None else code


def open_database(url: str | None, what: str) -> Database:
    """Open and test a connection to *url* now, so a bad URL or a database
    that is down is one clear error naming *what* (e.g. "[api_database]")."""
    if not url:
        raise CommandError(f"no database connection for {what}")
    try:
        sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise CommandError(f"invalid database URL for {what}: {url!r}") from None
    db = Database(url, max_retries=1, retry_interval=0)
    try:
        db.engine  # connects once, without the 10 x 10 s retries of a service
    except exception.ComputeCoreError as exc:
        db.dispose()
        raise CommandError(f"{what}: {exc}") from None
    return db


class _CheckedCellDatabases(CellDatabases):
    """Cell databases opened through :func:`open_database` and refused
    unless migrated to the head revision."""

    def __init__(self, api: Database, require_migrated: bool = True):
        super().__init__(api)
        self._require_migrated = require_migrated
        self._opened: dict[str, Database] = {}

    def get(self, cell_uuid: str) -> Database:
        db = self._opened.get(cell_uuid)
        if db is None:
            cell = self.mapping(cell_uuid)
            db = open_database(cell["database_connection"],
                               f"the database of cell {cell['name'] or cell_uuid}")
            self._opened[cell_uuid] = db
            if self._require_migrated:
                migration.check_current(db, "cell")
        return db

    def close(self) -> None:
        opened, self._opened = list(self._opened.values()), {}
        for db in opened:
            db.dispose()
        super().close()


class Databases:
    """The databases one command opens, all disposed by :meth:`close`."""

    def __init__(self, conf):
        self.conf = conf
        self._open: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keep(self, db):
        self._open.append(db)
        return db

    def open(self, url: str | None, what: str) -> Database:
        return self._keep(open_database(url, what))

    def api(self, migrated: bool = True) -> Database:
        """The [api_database]; refused unless migrated when *migrated*."""
        url = self.conf.api_database.connection
        if not url:
            raise CommandError("[api_database] connection is not set")
        db = self.open(url, "[api_database]")
        if migrated:
            migration.check_current(db, "api")
        return db

    def local_cell(self) -> Database:
        url = self.conf.database.connection
        if not url:
            raise CommandError("[database] connection is not set")
        return self.open(url, "[database]")

    def placement(self) -> Database:
        url = self.conf.placement_database.connection
        if not url:
            raise CommandError("[placement_database] connection is not set")
        return self.open(url, "[placement_database]")

    def cells(self, api: Database, migrated: bool = True) -> CellDatabases:
        return self._keep(_CheckedCellDatabases(api, require_migrated=migrated))

    def close(self) -> None:
        opened, self._open = self._open, []
        for item in reversed(opened):
            if isinstance(item, CellDatabases):
                item.close()
            else:
                item.dispose()


_URL_PASSWORD = re.compile(r"(?P<prefix>(?:://|,)[^:@/,]*):[^@/]*@")


def mask_password(url: str | None) -> str:
    """*url* with every password (a transport URL may hold several) as ****."""
    if not url:
        return ""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('prefix')}:****@", url)


def format_table(headers: list[str], rows: list[list]) -> str:
    """A table in the ASCII frame nova-manage prints (prettytable's default)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(row):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |"

    out = [rule, line(cells[0]), rule]
    out += [line(r) for r in cells[1:]]
    out.append(rule)
    return "\n".join(out)
