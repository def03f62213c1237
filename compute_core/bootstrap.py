"""First start of a cloud: migrate databases, map cells, seed flavors,
standard traits and the default image. Idempotent: a restart changes nothing."""
from __future__ import annotations

import io
import struct
import logging

from compute_core import exception
from compute_core.db import api_db, migration
from compute_core.db.cells import CELL0_UUID, CellDatabases, cell0_url, map_cell0
from compute_core.placement import objects as placement_objects

LOG = logging.getLogger(__name__)

DEFAULT_FLAVORS = [
    # flavorid, name, memory_mb, vcpus, root_gb
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 1, 20),
    ("3", "m1.medium", 4096, 2, 40),
    ("4", "m1.large", 8192, 4, 80),
    ("5", "m1.xlarge", 16384, 8, 160),
]


def default_image_bytes() -> bytes:
    """A 1 MiB raw disk with an MBR: small, valid as a raw image, enough for
    the fake driver (libvirt clouds import a real one). Its partition table
    holds one Linux partition over the rest of the disk: an MBR without any
    fails the safety checks of Glance's format inspection."""
    data = bytearray(1024 * 1024)
    sectors = len(data) // 512
    # status, CHS start, type 0x83 (Linux), CHS end, first LBA, sectors
    data[446:462] = struct.pack("<B3sB3sII", 0x00, b"\x00\x02\x00", 0x83, b"\xfe\xff\xff",
                                1, sectors - 1)
    data[510:512] = b"\x55\xaa"
    return bytes(data)


def bootstrap(conf, api, placement_db, cells: CellDatabases, images) -> None:
    migration.upgrade(api, "api")
    migration.upgrade(placement_db, "placement")
    map_cell0(api, cell0_url(conf.database.connection))
    if not [c for c in api_db.list_cells(api) if c["uuid"] != CELL0_UUID]:
        api_db.create_cell(api, "cell1", conf.database.connection, conf.transport_url or "fake://")
    for cell in cells.refresh():
        migration.upgrade(cells.get(cell["uuid"]), "cell")
    placement_objects.ensure_standard_traits(placement_db)
    if api_db.count_flavors(api) == 0:
        for flavorid, name, ram, vcpus, disk in DEFAULT_FLAVORS:
            try:
                api_db.create_flavor(api, name, ram, vcpus, disk, flavorid=flavorid)
            except exception.Conflict:
                pass
    if not images.list():
        images.create(conf.aio.default_image_name, io.BytesIO(default_image_bytes()),
                      disk_format="raw", container_format="bare",
                      properties={"hw_architecture": "x86_64"})
