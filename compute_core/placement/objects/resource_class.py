"""Resource classes: the standard ones (os-resource-classes, never in the
database) and the custom ones, by name and id.
"""
from __future__ import annotations

import os_resource_classes as orc
import sqlalchemy as sa
from oslo_db import exception as db_exc

from compute_core.placement import tables as s
from compute_core.placement.exception import BadRequest, Conflict, ResourceClassNotFound
from compute_core.placement.objects.base import now

CUSTOM_RC_ID_OFFSET = 10000


class ResourceClassCache:
    """Name <-> id of resource classes; standard ones never touch the DB."""

    def __init__(self, db):
        self.db = db
        # Ids of projects and users by external id: those rows are never
        # deleted nor renamed, so once seen an id holds for good.
        self.external_ids: dict = {}
        self._by_name = {name: i for i, name in enumerate(orc.STANDARDS)}
        self._by_id = dict(enumerate(orc.STANDARDS))

    def _reload(self):
        with self.db.connect() as conn:
            for row in conn.execute(sa.select(s.resource_classes.c.id, s.resource_classes.c.name)):
                self._by_name[row.name] = row.id
                self._by_id[row.id] = row.name

    def id_of(self, name: str) -> int:
        if name not in self._by_name:
            self._reload()
        try:
            return self._by_name[name]
        except KeyError:
            raise ResourceClassNotFound(f"No such resource class {name}.") from None

    def name_of(self, rc_id: int) -> str:
        if rc_id not in self._by_id:
            self._reload()
        return self._by_id[rc_id]

    def all(self) -> list[str]:
        self._reload()
        return [self._by_id[i] for i in sorted(self._by_id)]

    def create_custom(self, name: str) -> None:
        if not name.startswith(orc.CUSTOM_NAMESPACE):
            raise BadRequest(f"Resource class name {name} must start with CUSTOM_")
        with self.db.begin() as conn:
            top = conn.execute(sa.select(sa.func.max(s.resource_classes.c.id))).scalar()
            try:
                conn.execute(s.resource_classes.insert().values(
                    id=max(top or 0, CUSTOM_RC_ID_OFFSET - 1) + 1, name=name, created_at=now()))
            except db_exc.DBDuplicateEntry:
                raise Conflict(f"Conflicting resource class already exists: {name}") from None
        self._reload()

    def _custom_id(self, name: str, refusal: str) -> int:
        rc_id = self.id_of(name)
        if rc_id < CUSTOM_RC_ID_OFFSET:
            raise BadRequest(refusal)
        return rc_id

    def delete_custom(self, name: str) -> None:
        rc_id = self._custom_id(name, f"Error in delete resource class: Cannot delete standard "
                                      f"resource class {name}.")
        with self.db.begin() as conn:
            # (allocations need an inventory: the inventories tell)
            if conn.execute(sa.select(s.inventories.c.id)
                            .where(s.inventories.c.resource_class_id == rc_id)
                            .limit(1)).first():
                raise Conflict(f"Error in delete resource class: Cannot delete resource class "
                               f"{name}. Class is in use in inventory.")
            conn.execute(s.resource_classes.delete().where(s.resource_classes.c.id == rc_id))
        self._by_name.pop(name, None)
        self._by_id.pop(rc_id, None)

    def rename_custom(self, name: str, new_name: str) -> None:
        rc_id = self._custom_id(name, f"Cannot update standard resource class {name}")
        try:
            with self.db.begin() as conn:
                conn.execute(s.resource_classes.update().where(s.resource_classes.c.id == rc_id)
                             .values(name=new_name, updated_at=now()))
        except db_exc.DBDuplicateEntry:
            raise Conflict(f"Resource class already exists: {new_name}",
                           code="placement.duplicate_name") from None
        self._by_name.pop(name, None)
        self._by_id.pop(rc_id, None)
        self._reload()
