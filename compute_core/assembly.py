"""Putting services together from a ConfigOpts: the one code path behind
both the embedded Cloud and the separate service commands.

Each builder takes what it needs explicitly (conf, transport, databases) and
returns objects with start()/stop(); nothing here is global.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

from paste import deploy

from compute_core import clock as clock_mod
from compute_core import exception, rpc, wsgi
from compute_core.api import policy as api_policy
from compute_core.policy import CachedEnforcer
from compute_core.compute import manager as compute_manager
from compute_core.compute import rpcapi as compute_rpcapi
from compute_core.conductor import manager as conductor_manager
from compute_core.conductor import recovery
from compute_core.conductor import rpcapi as conductor_rpcapi
from compute_core.db import api_db, cell_db
from compute_core.db.cells import CellDatabases, discover_hosts
from compute_core.db.engines import Database, engine_options
from compute_core.httpserver import WSGIServer
from compute_core.image import load_image_backend
from compute_core.network import load_network_backend
from compute_core.placement import PlacementState
from compute_core.placement_client.client import PlacementClient
from compute_core.scheduler import manager as scheduler_manager
from compute_core.scheduler import rpcapi as scheduler_rpcapi
from compute_core.service import Service
from compute_core.virt import load_driver

LOG = logging.getLogger(__name__)


def find_paste_config(conf) -> str:
    name = conf.wsgi.api_paste_config
    if os.path.isabs(name):
        candidates = [name]
    else:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        dirs = [os.path.dirname(os.path.abspath(f)) for f in conf.config_file or []]
        dirs += [os.getcwd(), here, os.path.join(sys.prefix, "etc", "compute_core"),
                 "/etc/compute_core"]
        candidates = [os.path.join(d, name) for d in dirs]
    for path in candidates:
        if os.path.exists(path):
            return path
    raise exception.ConfigError(f"paste config {name!r} not found (looked in "
                                f"{', '.join(candidates)})")


def api_database(conf) -> Database:
    return Database(conf.api_database.connection, **engine_options(conf.api_database))


def cell_database(conf) -> Database:
    return Database(conf.database.connection, **engine_options(conf.database))


def placement_database(conf) -> Database:
    return Database(conf.placement_database.connection,
                    **engine_options(conf.placement_database))


def cell_databases(conf, api: Database, local: Database | None = None) -> CellDatabases:
    """The cells' databases, opened with the [database] options (those the
    cell's own services use); *local*, this service's own cell database,
    serves its cell instead of a second pool on the same database."""
    return CellDatabases(api, engine_options(conf.database), local=local)


class APIServices:
    """Everything the compute API handlers reach through the environ."""

    def __init__(self, conf, transport, notification_transport=None, placement_client=None):
        self.conf = conf
        self.api_db = api_database(conf)
        self.cells = cell_databases(conf, self.api_db)
        self.transport = transport
        self.conductor_api = conductor_rpcapi.ConductorAPI(transport)
        self.compute_rpc = compute_rpcapi.ComputeRPCClient(transport)
        self.placement = placement_client or PlacementClient(conf)
        # One enforcer for the app's life: it reads the policy file again
        # only when the file changes.
        self.policy = CachedEnforcer(api_policy.enforcer(conf))
        self.images = load_image_backend(conf, self.api_db)
        self.network = load_network_backend(conf, self.api_db)
        self.notifier = rpc.Notifier(conf, notification_transport or transport, "compute-api")

    def flavor(self, ctxt, flavor_id):
        return api_db.get_flavor(self.api_db, flavor_id, ctxt.project_id, ctxt.is_admin)

    def close(self):
        self.placement.close()
        self.cells.close()
        self.api_db.dispose()


def identity_services(conf, state_dir):
    """The embedded identity endpoint's services, on its own SQLite file."""
    from compute_core.identity import IdentityServices

    db = Database(f"sqlite:///{os.path.join(state_dir, 'identity.sqlite')}")
    try:
        return IdentityServices(conf, db, conf.identity.token_expiration)
    except BaseException:
        db.dispose()
        raise


def image_services(conf):
    """The image API's services, on the API database."""
    from compute_core.image.service import ImageServices

    return ImageServices(conf, api_database(conf))


class PlacementServices:
    def __init__(self, conf):
        self.conf = conf
        self.db = placement_database(conf)
        self.placement = PlacementState(self.db, conf)

    def forget_cached(self):
        """Drop what placement remembers of its database (class and
        project ids): the embedded cloud put the database back to an
        earlier state. The policy enforcer (configuration, not data) is
        kept: making it again costs milliseconds."""
        self.placement.forget_cached()

    def close(self):
        self.db.dispose()


def load_wsgi_app(conf, kind: str, services):
    """The paste pipeline of *kind* ("compute" or "placement") for the
    configured auth strategy ("identity": the embedded identity endpoint),
    wrapped so it finds *services*."""
    path = find_paste_config(conf)
    if kind == "identity":
        name = "identity"
    elif kind == "compute":
        name = f"osapi_compute_{conf.api.auth_strategy}"
    elif kind == "image":
        name = f"image_{conf.api.auth_strategy}"
    else:
        name = f"placement_{conf.api.auth_strategy}"
    app = deploy.loadapp(f"config:{path}", name=name)
    return wsgi.ServiceInjector(app, services)


def api_server(conf, app, host, port, threads, name) -> WSGIServer:
    """The HTTP server of one API, with [wsgi]'s connection limits and
    timeouts. It refuses a body over ten times [oslo_middleware]
    max_request_body_size itself, before reading it; a smaller one over the
    limit reaches the API's sizelimit filter, which answers its own 413.
    The image API's bodies are images: up to [image] image_size_cap (the
    app answers a larger announced one), within [image] upload_timeout; an
    upload whose client goes away still reaches the app, to be killed."""
    max_body = 10 * conf.oslo_middleware.max_request_body_size
    body_timeout = conf.wsgi.body_timeout
    recv_bytes = 8192
    image = name == "image"
    if image:
        max_body = max(max_body, conf.image.image_size_cap)
        body_timeout = max(body_timeout, conf.image.upload_timeout)
        recv_bytes = 1 << 18
    return WSGIServer(app, host, port, threads, name,
                      idle_timeout=conf.wsgi.idle_timeout,
                      header_timeout=conf.wsgi.header_timeout,
                      body_timeout=body_timeout,
                      max_connections=conf.wsgi.max_connections,
                      max_body_size=max_body, recv_bytes=recv_bytes,
                      # An upload cut short must end its image "killed".
                      deliver_truncated=image)


class ServiceBundle:
    """A Service plus the resources it owns, stopped together."""

    def __init__(self, service, closers=()):
        self.service = service
        self.closers = list(closers)

    def start(self):
        self.service.start()

    def quiesce(self):
        """Stop taking work and finish what was taken (see Service.quiesce)."""
        self.service.quiesce()

    def stop(self):
        self.service.stop()
        for close in self.closers:
            try:
                close()
            except Exception:
                LOG.exception("closing resources of %s", self.service.name)


def conductor_service(conf, transport, notification_transport=None, host=None,
                      placement_client=None) -> ServiceBundle:
    api = api_database(conf)
    local = cell_database(conf)
    cells = cell_databases(conf, api, local)
    placement = placement_client or PlacementClient(conf)
    network = load_network_backend(conf, api)
    notifier = rpc.Notifier(conf, notification_transport or transport, "compute-conductor")
    images = _lazy_image_backend(conf)
    manager = conductor_manager.ConductorManager(
        conf, cells, local, scheduler_rpcapi.SchedulerAPI(transport),
        compute_rpcapi.ComputeRPCClient(transport), placement, network, notifier,
        images=images)
    host = host or conf.host
    builds = recovery.BuildRecovery(manager, conductor_rpcapi.ConductorAPI(transport),
                                    resume_at_start=rpc.bus_in_process(transport))

    def heartbeat():
        cell_db.service_heartbeat(local, host, "compute-conductor", conductor_rpcapi.TOPIC)

    def on_start():
        heartbeat()
        _guarded("recovering interrupted builds", builds.at_start)

    service = Service("compute-conductor", transport, conductor_rpcapi.TOPIC, host, [manager],
                      periodic=[("heartbeat", conf.report_interval, heartbeat),
                                ("recover_builds", recovery.check_interval(conf),
                                 builds.sweep)],
                      on_start=on_start, clock=clock_mod.of(conf))
    service.recovery = builds
    return ServiceBundle(service, [placement.close, cells.close, local.dispose, api.dispose,
                                   images.close])


def scheduler_service(conf, transport, host=None, placement_client=None) -> ServiceBundle:
    api = api_database(conf)
    local = cell_database(conf)
    cells = cell_databases(conf, api, local)
    placement = placement_client or PlacementClient(conf)
    manager = scheduler_manager.SchedulerManager(conf, cells, placement)
    host = host or conf.host

    def heartbeat():
        cell_db.service_heartbeat(local, host, "compute-scheduler", scheduler_rpcapi.TOPIC)

    tasks = [("heartbeat", conf.report_interval, heartbeat)]
    if conf.scheduler.discover_hosts_in_cells_interval > 0:
        tasks.append(("discover_hosts", conf.scheduler.discover_hosts_in_cells_interval,
                      lambda: discover_hosts(api, cells)))
    service = Service("compute-scheduler", transport, scheduler_rpcapi.TOPIC, host, [manager],
                      periodic=tasks, on_start=heartbeat, clock=clock_mod.of(conf))
    service.manager = manager
    return ServiceBundle(service, [placement.close, cells.close, local.dispose, api.dispose])


#: Seconds between a compute host's checks for a usage audit to run.
USAGE_AUDIT_INTERVAL = 60


def compute_service(conf, transport, host, driver=None, notification_transport=None,
                    placement_client=None) -> ServiceBundle:
    """The compute service of *host*; *driver* lets a caller keep the
    hypervisor (driver object) across a service restart."""
    driver = driver or load_driver(conf, host)
    placement = placement_client or PlacementClient(conf)
    conductor = conductor_rpcapi.ConductorAPI(transport)
    notifier = rpc.Notifier(conf, notification_transport or transport, f"compute.{host}")
    images = _lazy_image_backend(conf)
    manager = compute_manager.ComputeManager(conf, host, driver, conductor, placement, notifier,
                                             images=images)

    def on_start():
        driver.init_host()
        manager.heartbeat()
        # What was interrupted while the service was away, before the
        # resources are reported (guests reaped free theirs).
        _guarded("recovering the instances of this host", manager.init_instances)
        _guarded("handling guests of deleted instances",
                 manager.cleanup_running_deleted_instances)
        _guarded("dropping the guests of servers evacuated away",
                 manager.destroy_evacuated_instances)
        manager.update_available_resource()

    tasks = [("heartbeat", conf.report_interval, manager.heartbeat),
             ("update_available_resource", conf.update_resources_interval,
              manager.update_available_resource),
             ("sync_power_states", conf.sync_power_state_interval, manager.sync_power_states),
             ("check_instance_build_time", recovery.check_interval(conf),
              manager.check_instance_build_time),
             ("cleanup_running_deleted_instances",
              conf.running_deleted_instance_poll_interval,
              manager.cleanup_running_deleted_instances),
             ("reclaim_queued_deletes", conf.reclaim_instance_interval,
              manager.reclaim_queued_deletes),
             ("offload_shelved_instances", conf.shelved_poll_interval,
              manager.offload_shelved_instances),
             # every minute, as Nova's periodic task; it does nothing unless
             # [DEFAULT] instance_usage_audit is set (read at each run)
             ("instance_usage_audit", USAGE_AUDIT_INTERVAL, manager.instance_usage_audit),
             # Nova's default spacing of these checks: a minute
             ("poll_rebooting_instances", 60 if conf.reboot_timeout else 0,
              manager.poll_rebooting_instances),
             ("poll_unconfirmed_resizes", 60 if conf.resize_confirm_window else 0,
              manager.poll_unconfirmed_resizes),
             ("poll_rescued_instances", 60 if conf.rescue_timeout else 0,
              manager.poll_rescued_instances)]
    service = Service("compute-compute", transport, f"{compute_rpcapi.TOPIC}.{host}", host,
                      [manager], periodic=tasks, on_start=on_start, on_stop=driver.cleanup_host,
                      clock=clock_mod.of(conf))
    service.manager = manager
    service.driver = driver
    closers = [] if placement_client else [placement.close]
    return ServiceBundle(service, closers + [images.close])


def _lazy_image_backend(conf):
    """images() -> the image backend, loaded at the first call. A compute
    host uses it for snapshots: with the local backend it reaches the API
    database (and the store directory); with the glance backend only the
    image API. close() frees its database engine."""
    lock = threading.Lock()
    made = {}

    def images():
        with lock:
            if "backend" not in made:
                api = api_database(conf) if conf.api_database.connection else None
                made["api"] = api
                made["backend"] = load_image_backend(conf, api)
            return made["backend"]

    def close():
        with lock:
            api = made.pop("api", None)
            made.clear()
        if api is not None:
            api.dispose()

    images.close = close
    return images


def _guarded(what, fn):
    """Run a start-up step whose failure must not keep the service down:
    its periodic task (if any) tries again."""
    try:
        fn()
    except Exception:
        LOG.exception("%s failed", what)
