"""Fixtures of the operator command tests: a configuration file with SQLite
databases under tmp_path, and a way to run compute-manage/compute-status
in this process and read what they printed."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

from compute_core.cmd import manage, status
from compute_core.db import api_db, cell_db
from compute_core.db.engines import Database


@dataclasses.dataclass
class Outcome:
    code: int
    out: str
    err: str

    def assert_one_error_line(self, *fragments: str) -> None:
        """Failed, with exactly one line on stderr and no traceback."""
        assert self.code != 0, self
        assert "Traceback" not in self.out + self.err, self
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("ERROR: "), lines[0]
        for fragment in fragments:
            assert fragment in lines[0], lines[0]


class Deployment:
    """A configuration file and its SQLite databases under one directory."""

    def __init__(self, root, capsys):
        self.root = root
        self.capsys = capsys
        self.api_url = f"sqlite:///{root}/api.sqlite"
        self.cell1_url = f"sqlite:///{root}/cell1.sqlite"
        self.placement_url = f"sqlite:///{root}/placement.sqlite"
        self.config = self.write_config()
        self._dbs: list[Database] = []

    def write_config(self, name="compute.conf", extra: dict | None = None,
                     transport_url="rabbit://guest:s3cret@mq.example:5672/") -> str:
        sections = {
            "DEFAULT": {"state_path": f"{self.root}/state", "transport_url": transport_url},
            "api": {"auth_strategy": "noauth2"},
            "api_database": {"connection": self.api_url},
            "database": {"connection": self.cell1_url},
            "placement_database": {"connection": self.placement_url},
        }
        for section, values in (extra or {}).items():
            sections.setdefault(section, {}).update(values)
        path = self.root / name
        with open(path, "w") as f:
            for section, values in sections.items():
                f.write(f"[{section}]\n")
                for key, value in values.items():
                    if value is not None:
                        f.write(f"{key} = {value}\n")
                f.write("\n")
        return str(path)

    def _run(self, module, argv, config):
        self.capsys.readouterr()
        args = ["--config-file", config] if config else []
        code = module.main(args + list(argv))
        captured = self.capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def manage(self, *argv, config: str | None = ...) -> Outcome:
        return self._run(manage, argv, self.config if config is ... else config)

    def status(self, *argv, config: str | None = ...) -> Outcome:
        return self._run(status, argv, self.config if config is ... else config)

    def ok(self, *argv) -> str:
        result = self.manage(*argv)
        assert result.code == 0, result
        return result.out

    def setup_cells(self) -> str:
        """api_db sync, map_cell0, create_cell cell1, db sync, placement
        sync, as an operator would; returns cell1's uuid."""
        self.ok("api_db", "sync")
        self.ok("cell_v2", "map_cell0")
        cell1 = self.ok("cell_v2", "create_cell", "--name", "cell1", "--verbose").strip()
        self.ok("db", "sync")
        self.ok("placement", "sync")
        return cell1

    def db(self, url) -> Database:
        db = Database(url)
        self._dbs.append(db)
        return db

    def add_compute_node(self, host, url=None) -> dict:
        return cell_db.upsert_compute_node(self.db(url or self.cell1_url), {
            "uuid": str(uuid.uuid4()), "host": host, "hypervisor_hostname": host,
            "hypervisor_type": "fake", "vcpus": 4, "memory_mb": 4096, "local_gb": 40})

    def cell(self, name) -> dict:
        return api_db.find_cell(self.db(self.api_url), name)

    def close(self):
        for db in self._dbs:
            db.dispose()


@pytest.fixture
def deployment(tmp_path, capsys):
    dep = Deployment(tmp_path, capsys)
    yield dep
    dep.close()
