"""Snapshots of an embedded cloud: ``cloud.snapshot()``, ``cloud.restore(snap)``.

A snapshot holds a copy of each SQLite database of the cloud in memory
(SQLite's online backup API), the guests of each host's driver
(``ComputeDriver.save_state``) and hard links to the files of its image
store. Restoring copies each database back (only those written since the
last restore: ``PRAGMA data_version`` tells), gives the drivers their
guests back, puts the image files back, restarts the hosts that were
running and stops those added since; the cloud then empties the caches
of the databases copied back (the scheduler's, placement's ids), and
only those. A restore of a cloud that read but wrote nothing costs well
under a millisecond; one that wrote to a database about a millisecond.

Both wait for the cloud to be idle first (no API request, no RPC message
in flight): a snapshot of half-done work could not be resumed.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile

import sqlalchemy as sa

from compute_core import exception


class _DatabaseCopy:
    """One SQLite file: its copy in memory and a connection to it that
    restores write through."""

    def __init__(self, db):
        self.db = db
        parsed = sa.engine.make_url(db.url)
        if db.backend != "sqlite" or parsed.database in (None, "", ":memory:"):
            raise exception.Invalid(f"cannot snapshot database {db.safe_url}: snapshots "
                                    f"need SQLite files (the embedded defaults)")
        self.path = os.path.abspath(parsed.database)
        self.copy = sqlite3.connect(":memory:", check_same_thread=False)
        self.target = sqlite3.connect(self.path, check_same_thread=False,
                                      isolation_level=None, timeout=30)
        # As the services' own connections (engines._sqlite_pragmas): in WAL
        # mode, NORMAL syncs at checkpoints only, not at every restore.
        self.target.execute("PRAGMA synchronous=NORMAL")
        with db._write_lock:
            self.target.backup(self.copy)
        self.version = self._data_version()

    def _data_version(self) -> int:
        return self.target.execute("PRAGMA data_version").fetchone()[0]

    def restore(self) -> bool:
        """Copy back if anyone wrote since; whether it did."""
        with self.db._write_lock:
            if self._data_version() == self.version:
                return False
            self.copy.backup(self.target)
            self.version = self._data_version()
            return True

    def close(self):
        self.copy.close()
        self.target.close()


class _FilesCopy:
    """The regular files of a directory, hard-linked (copied where links
    are not possible) into a private directory."""

    def __init__(self, directory):
        self.directory = directory
        self.saved = tempfile.mkdtemp(prefix="compute-core-snap-")
        self.names = set()
        if os.path.isdir(directory):
            for entry in os.scandir(directory):
                if entry.is_file():
                    _link_or_copy(entry.path, os.path.join(self.saved, entry.name))
                    self.names.add(entry.name)

    def restore(self):
        os.makedirs(self.directory, exist_ok=True)
        present = {e.name: e for e in os.scandir(self.directory) if e.is_file()}
        for name, entry in present.items():
            if name not in self.names:
                os.unlink(entry.path)
        for name in self.names:
            saved = os.path.join(self.saved, name)
            target = os.path.join(self.directory, name)
            entry = present.get(name)
            if entry is None or not os.path.samestat(entry.stat(), os.stat(saved)):
                tmp = target + ".restore"
                _link_or_copy(saved, tmp)
                os.replace(tmp, target)

    def close(self):
        shutil.rmtree(self.saved, ignore_errors=True)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class Snapshot:
    """The state of a cloud at one moment (see the module doc). Restore it
    any number of times; :meth:`close` frees it."""

    def __init__(self, databases, guests, hosts, files, resources):
        self.databases = databases
        self.guests = guests        # host -> driver state
        self.hosts = hosts          # host -> compute resources it was started with
        self.files = files
        self.resources = resources  # what existed (for the leak check)

    def close(self):
        for part in self.databases + self.files:
            part.close()
        self.databases, self.files = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def take(cloud) -> Snapshot:
    """A snapshot of a running, idle *cloud*."""
    databases, files = [], []
    try:
        for db in cloud.databases():
            databases.append(_DatabaseCopy(db))
        guests = {host: cloud.driver(host).save_state() for host in cloud.host_names}
        files.append(_FilesCopy(cloud.conf.image.images_path))
    except BaseException:
        for part in databases + files:
            part.close()
        raise
    return Snapshot(databases, guests, dict.fromkeys(cloud.host_names), files,
                    cloud.resources())


def restore(cloud, snap: Snapshot) -> set:
    """Put *cloud* back to *snap* (the cloud is idle); the databases
    copied back (those written since), as their handles."""
    if not snap.databases:
        raise exception.Invalid("this snapshot was closed")
    wanted = set(snap.guests)
    for host in set(cloud.host_names) - wanted:
        cloud.remove_host(host)
    restored = {part.db for part in snap.databases if part.restore()}
    for part in snap.files:
        part.restore()
    for host, state in snap.guests.items():
        cloud.driver(host).load_state(state)
    for host in wanted - set(cloud.host_names):
        cloud.start_host(host)
    return restored
