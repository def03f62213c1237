"""Cells v2: the API database maps hosts and instances to cells, each cell
having its own database. :class:`CellDatabases` opens (and later closes) one
:class:`Database` per cell for its owner."""
from __future__ import annotations

import os
import threading

from compute_core import exception
from compute_core.db import api_db
from compute_core.db.engines import Database

CELL0_UUID = api_db.CELL0_UUID


class CellDatabases:
    """*options*: the :class:`Database` keyword arguments each cell database
    is opened with (see ``engines.engine_options``); *local*: a database its
    owner already has open (its own cell's), used for the cell whose URL it
    is and left to the owner to close."""

    def __init__(self, api: Database, options: dict | None = None,
                 local: Database | None = None):
        self.api = api
        self.options = dict(options or {})
        self.local = local
        self._lock = threading.Lock()
        self._dbs: dict[str, Database] = {}
        self._cells: dict[str, dict] = {}

    def refresh(self) -> list[dict]:
        cells = api_db.list_cells(self.api)
        with self._lock:
            self._cells = {c["uuid"]: c for c in cells}
        return cells

    def mapping(self, cell_uuid: str) -> dict:
        if cell_uuid not in self._cells:
            self.refresh()
        try:
            return self._cells[cell_uuid]
        except KeyError:
            raise exception.CellMappingNotFound(uuid=cell_uuid) from None

    def get(self, cell_uuid: str) -> Database:
        with self._lock:
            db = self._dbs.get(cell_uuid)
        if db is not None:
            return db
        url = self.mapping(cell_uuid)["database_connection"]
        with self._lock:
            db = self._dbs.get(cell_uuid)
            if db is None:
                if self.local is not None and self.local.url == url:
                    db = self.local
                else:
                    db = Database(url, **self.options)
                self._dbs[cell_uuid] = db
        return db

    def cells(self, include_cell0=True, include_disabled=True) -> list[dict]:
        if not self._cells:
            self.refresh()
        return [c for c in self._cells.values()
                if (include_cell0 or c["uuid"] != CELL0_UUID)
                and (include_disabled or not c["disabled"])]

    def for_host(self, host: str) -> tuple[dict, Database]:
        cell = api_db.cell_of_host(self.api, host)
        return cell, self.get(cell["uuid"])

    def for_instance(self, instance_uuid: str) -> tuple[dict | None, Database | None]:
        """The cell mapping and database of an instance, (None, None) while it
        only exists as a build request."""
        mapping = api_db.get_instance_mapping(self.api, instance_uuid)
        if mapping["cell_uuid"] is None:
            return None, None
        return self.mapping(mapping["cell_uuid"]), self.get(mapping["cell_uuid"])

    def close(self) -> None:
        with self._lock:
            dbs, self._dbs = list(self._dbs.values()), {}
        for db in dbs:
            if db is not self.local:
                db.dispose()


def cell0_url(connection: str) -> str:
    """Nova's convention: cell0's database is the main one's name + _cell0."""
    import sqlalchemy as sa

    url = sa.engine.make_url(connection)
    if url.get_backend_name() == "sqlite":
        db = url.database or ""
        root, ext = os.path.splitext(db)
        return url.set(database=f"{root}_cell0{ext or '.sqlite'}").render_as_string(
            hide_password=False)
    return url.set(database=f"{url.database}_cell0").render_as_string(hide_password=False)


def map_cell0(api: Database, database_connection: str) -> tuple[dict, bool]:
    """Create the cell0 mapping unless it exists; (mapping, created)."""
    try:
        return api_db.get_cell(api, CELL0_UUID), False
    except exception.CellMappingNotFound:
        return api_db.create_cell(api, "cell0", database_connection, "none:///",
                                  uuid=CELL0_UUID), True


def discover_hosts(api: Database, cells: CellDatabases, cell_uuid: str | None = None) -> list:
    """Map every unmapped compute host of every (or one) cell; returns
    [(host, cell name)] newly mapped."""
    from compute_core.db import cell_db

    mapped = []
    for cell in cells.refresh():
        if cell["uuid"] == CELL0_UUID or (cell_uuid and cell["uuid"] != cell_uuid):
            continue
        db = cells.get(cell["uuid"])
        hosts = {n["host"] for n in cell_db.list_compute_nodes(db) if not n["mapped"]}
        for host in sorted(hosts):
            if api_db.map_host(api, host, cell["id"]):
                mapped.append((host, cell["name"]))
        if hosts:
            cell_db.mark_nodes_mapped(db, hosts)
    return mapped
