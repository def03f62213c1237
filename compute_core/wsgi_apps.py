"""The compute and placement APIs as WSGI applications for any WSGI server
(Apache mod_wsgi, uwsgi, gunicorn) and for ``compute-api`` /
``compute-placement-api``.

The configuration file is named by the environment variable
``COMPUTE_CORE_CONFIG`` (several files separated by ``os.pathsep``; default
``/etc/compute_core/compute.conf``). Under mod_wsgi, where ``SetEnv`` only
reaches the request environ, the first request's environ is looked at too.

Entry points:

* :func:`init_application` (``"compute"``, ``"placement"`` or ``"image"``) builds
  the app now;
* ``compute_application``, ``placement_application`` and ``image_application``
  are module attributes
  that build their app on the first request, so this file itself is a
  ``WSGIScriptAlias`` target (with ``WSGICallableObject compute_application``)
  and ``compute_core.wsgi_apps:placement_application`` a uwsgi/gunicorn module.
"""
from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import warnings

CONFIG_ENV = "COMPUTE_CORE_CONFIG"
DEFAULT_CONFIG = "/etc/compute_core/compute.conf"
KINDS = ("compute", "placement", "image")

LOG = logging.getLogger(__name__)


class Application:
    """A paste-deployed API app with the services it owns; a WSGI callable.
    :meth:`close` frees its transports and database engines."""

    def __init__(self, conf, kind: str):
        from compute_core import assembly, rpc
        from compute_core.db import migration

        if kind not in KINDS:
            raise ValueError(f"unknown API {kind!r}; expected one of {', '.join(KINDS)}")
        self.conf = conf
        self.kind = kind
        self._closers = []
        try:
            if kind == "compute":
                transport = rpc.get_transport(conf)
                self._closers.append(transport.cleanup)
                notification = rpc.get_notification_transport(conf)
                self._closers.append(notification.cleanup)
                self.services = assembly.APIServices(conf, transport, notification)
                self._closers.append(self.services.close)
                migration.check_current(self.services.api_db, "api")
            elif kind == "image":
                self.services = assembly.image_services(conf)
                self._closers.append(self.services.api_db.dispose)
                migration.check_current(self.services.api_db, "api")
            else:
                self.services = assembly.PlacementServices(conf)
                self._closers.append(self.services.close)
                migration.check_current(self.services.db, "placement")
                _sync_standard_traits(self.services.db)
            self.app = assembly.load_wsgi_app(conf, kind, self.services)
        except BaseException:
            self.close()
            raise

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)

    def close(self) -> None:
        while self._closers:
            close = self._closers.pop()
            try:
                close()
            except Exception:
                LOG.exception("closing the %s API", self.kind)


def _sync_standard_traits(db) -> None:
    """Placement knows every os-traits name from its start, as OpenStack
    Placement does; a second API process doing the same at once may win the
    race, which is fine."""
    from oslo_db import exception as db_exc
    from sqlalchemy import exc as sa_exc

    from compute_core.placement import objects

    try:
        objects.ensure_standard_traits(db)
    except (db_exc.DBDuplicateEntry, sa_exc.IntegrityError):
        objects.ensure_standard_traits(db)


def config_files(environ=None) -> list[str]:
    value = (environ or {}).get(CONFIG_ENV) or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    return [p for p in value.split(os.pathsep) if p]


def init_application(kind: str, environ=None) -> Application:
    """Build the *kind* API from the configuration named by
    ``COMPUTE_CORE_CONFIG``."""
    # oslo.messaging imports eventlet (unused: threads are the concurrency
    # model), which warns into the server's error log at every start.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from compute_core import conf as conf_mod

    conf = conf_mod.load(config_files=config_files(environ))
    _log_to_stderr()
    return Application(conf, kind)


def _log_to_stderr() -> None:
    # Under a WSGI server stderr is its error log; keep its own handlers.
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(process)d %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        for noisy in ("alembic", "oslo_messaging", "amqp", "kombu"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


class DeferredApplication:
    """Builds its API on the first request (thread-safe); a request that
    finds the configuration broken gets a 500 and the next one tries again."""

    def __init__(self, kind: str):
        self.kind = kind
        self._app = None
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        app = self._app
        if app is None:
            with self._lock:
                if self._app is None:
                    try:
                        self._app = init_application(self.kind, environ)
                        # The app lives as long as the server process: keep
                        # it out of the collector's full passes (see
                        # compute_core.cmd.services.run).
                        gc.collect()
                        gc.freeze()
                    except Exception as exc:
                        LOG.error("cannot start the %s API: %s", self.kind,
                                  str(exc).splitlines()[0] if str(exc) else repr(exc))
                        body = b"The service is not configured correctly; see its log.\n"
                        start_response("500 Internal Server Error",
                                       [("Content-Type", "text/plain"),
                                        ("Content-Length", str(len(body)))])
                        return [body]
                app = self._app
        return app(environ, start_response)

    def close(self) -> None:
        """Free what the built app holds; the next request builds it again."""
        with self._lock:
            app, self._app = self._app, None
        if app is not None:
            app.close()


compute_application = DeferredApplication("compute")
placement_application = DeferredApplication("placement")
image_application = DeferredApplication("image")
