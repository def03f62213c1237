"""Gabbi fixtures: a fresh placement app and database per YAML file.

Gabbi reaches the app through ``intercept`` (an in-process WSGI transport):
the app under test is the full paste pipeline (request ids, fault wrapper,
noauth2, the placement app) built by :func:`compute_core.assembly.load_wsgi_app`.
The fixture also exports uuids as environment variables for ``$ENVIRON``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid

from gabbi import fixture

from compute_core import assembly
from compute_core import conf as conf_mod
from compute_core.db import migration
from compute_core.placement import objects

_APP = {}

UUID_NAMES = ("RP_UUID", "RP_UUID2", "RP_UUID3", "PARENT_UUID", "CHILD_UUID", "CHILD2_UUID",
              "GRANDCHILD_UUID", "SHARED_UUID", "CN1_UUID", "CN2_UUID", "NUMA1_UUID",
              "NUMA2_UUID", "PF1_UUID", "PF2_UUID", "CONSUMER_UUID", "CONSUMER2_UUID",
              "CONSUMER3_UUID", "MIGRATION_UUID", "AGG_UUID", "AGG2_UUID", "AGG3_UUID",
              "PROJECT_ID", "PROJECT2_ID", "USER_ID", "USER2_ID")


def standalone_placement(directory):
    """(services, WSGI app) of a placement service of its own: the full
    paste pipeline (noauth2) on a migrated SQLite database in *directory*,
    the standard traits loaded. The caller closes the services."""
    conf = conf_mod.load(args=[], overrides={
        "placement_database.connection": f"sqlite:///{directory}/p.sqlite",
        "api.auth_strategy": "noauth2"})
    services = assembly.PlacementServices(conf)
    migration.upgrade(services.db, "placement")
    objects.ensure_standard_traits(services.db)
    return services, assembly.load_wsgi_app(conf, "placement", services)


def intercept():
    """The WSGI app gabbi talks to: whichever app the current fixture built."""
    def app(environ, start_response):
        return _APP["app"](environ, start_response)
    return app


class PlacementFixture(fixture.GabbiFixture):
    """A placement app on its own SQLite database, migrated, with the
    standard traits loaded."""

    def start_fixture(self):
        self.tmp = tempfile.mkdtemp(prefix="placement-gabbi-")
        self.services, _APP["app"] = standalone_placement(self.tmp)
        for name in UUID_NAMES:
            os.environ[name] = str(uuid.uuid4())

    def stop_fixture(self):
        _APP.pop("app", None)
        self.services.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
