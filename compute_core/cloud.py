"""The embedded cloud: every service of compute_core in this process.

    with Cloud(hosts=2) as cloud:
        conn = cloud.connection()
        ...

A Cloud holds its own ConfigOpts, database engines, transports, threads and
sockets; two can run side by side, and stop() frees all of it. Its tokens and
client configuration are :mod:`compute_core.cloud_clients`'s, its test-double
features (call log, snapshots, leaks) :mod:`compute_core.cloud_double`'s.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading

from compute_core import clock as clock_mod
from compute_core import conf as conf_mod
from compute_core import exception, instrument, rpc
from compute_core import assembly, bootstrap
from compute_core.cloud_clients import (  # noqa: F401 (MEMBER_TOKEN: importable from here)
    ADMIN_TOKEN, MEMBER_TOKEN, REGION, CloudClients)
from compute_core.cloud_double import CloudDouble
from compute_core.control import ControlApp
from compute_core.db import api_db, cell_db
from compute_core.db import cell_schema
from compute_core.db.cells import discover_hosts
from compute_core.faults import FaultRules, faulting_driver
from compute_core.placement_client.client import PlacementClient
from compute_core.virt import load_driver

LOG = logging.getLogger(__name__)

# The user keystonemiddleware and the services' placement client
# authenticate as, with the embedded identity endpoint (auth="keystone").
SERVICE_USER = "compute-core-service"
SERVICE_PROJECT = "service"


DEFAULT_STATE_DIR = os.path.expanduser("~/.local/share/compute-core")


def embedded_defaults(conf, state_dir) -> None:
    """The embedded cloud's defaults for a state directory: its SQLite
    databases, images, fake guests, in-process bus and noauth2. Also what
    compute-manage and compute-status --state-dir use."""
    state = os.path.abspath(state_dir)

    def default(name, value, group=None):
        conf.set_default(name, value, group=group)

    default("state_path", state)
    default("connection", f"sqlite:///{state}/api.sqlite", "api_database")
    default("connection", f"sqlite:///{state}/cell1.sqlite", "database")
    default("connection", f"sqlite:///{state}/placement.sqlite", "placement_database")
    default("transport_url", "fake://")
    default("auth_strategy", "noauth2", "api")
    default("auth_strategy", "noauth2", "placement")
    default("host", "controller")
    default("images_path", os.path.join(state, "images"), "image")
    # Fake guests outlive a restart on the same state, as real ones would.
    default("guests_path", os.path.join(state, "fake_driver"), "fake_driver")


class Cloud(CloudClients, CloudDouble):
    """A whole compute cloud in-process.

    :param state_dir: where the SQLite files and images live; ``None`` means
        a temporary directory removed by :meth:`stop`. An existing directory
        is reused: servers, flavors and images survive a restart.
    :param hosts: number of fake compute hosts started (``host1``...), or
        their names (a list).
    :param host_resources: ``{"vcpus", "memory_mb", "disk_gb"}`` of those hosts.
    :param config_file: an oslo.config file read before *overrides*.
    :param overrides: ``{"group.option": value}`` (``"option"`` for DEFAULT).
    :param compute_port: compute API port; ``0`` asks the OS for a free one.
    :param placement_port: placement API port; ``0`` asks the OS for one.
    :param auth: ``"noauth2"`` (``X-Auth-Token: user:project``) or
        ``"keystone"``: an identity endpoint (a Keystone v3 subset,
        :attr:`identity_url`) issues tokens and the compute and placement
        APIs validate them through keystonemiddleware. ``None``: ``[aio] auth``.
    :param users: more identity users, each ``(name, password, project,
        roles)`` or ``"name:password:project:role,role"`` (see
        ``[identity] users`` for the defaults: admin, and demo in project demo).
    :param identity_port: identity API port (auth="keystone"); ``0``: any free.
    :param clock: ``"real"``, ``"virtual"`` (:attr:`clock` then has
        ``advance(seconds)``) or a :class:`compute_core.clock.Clock`;
        ``None``: ``[aio] clock``.
    :param control_api: serve the test control API under ``/cloud-control``
        (see :mod:`compute_core.control`); ``None``: ``[aio] control_api``.

    Test-double features: :attr:`faults` (fault rules, see
    :mod:`compute_core.faults`), :meth:`calls` (the call log),
    :meth:`snapshot` / :meth:`restore`, :meth:`leaks`.
    :param console_port: ``0``: the console proxies of ``[aio] console_proxies``
        listen on free ports; ``None``: on their plugins' own ports (6080...).
    :param image_port: image API port (Glance v2); ``0``: any free.
    """

    def __init__(self, state_dir=None, hosts=1, host_resources=None, config_file=None,
                 overrides=None, compute_port=0, placement_port=0, listen="127.0.0.1",
                 auth="noauth2", users=None, identity_port=0, clock=None, control_api=None,
                 console_port=0, image_port=0):
        # hosts, ports and listen may be None: then [aio] configuration decides
        # (that is how compute-aio runs).
        self._state_dir_arg = state_dir
        self.hosts_wanted = hosts
        self.host_resources = dict(host_resources or {})
        self.config_file = config_file
        self.overrides = dict(overrides or {})
        self.compute_port = compute_port
        self.placement_port = placement_port
        self.listen = listen
        self.state_dir = None
        self.conf = None
        self._tmp = None
        self._lock = threading.RLock()
        self._started = False
        self._stoppers = []
        self._services = []  # conductor, scheduler: stopped after the computes
        self._api_server = None
        self._placement_app = None
        self._computes = {}
        self._drivers = {}
        self.compute_url = None
        self.placement_url = None
        self.control_url = None
        self.auth_arg = auth
        self.auth = None
        self.extra_users = list(users or [])
        self.identity_port = identity_port
        self.image_port = image_port
        self.image_url = None
        self.identity = None
        self.identity_url = None
        self._passwords = {}
        self._tokens = {}
        self.clock_arg = clock
        self.clock = clock_mod.make(clock) if clock is not None else None
        self.control_api = control_api
        self.faults = FaultRules()
        self.call_log = instrument.CallLog()
        self._in_flight = instrument.InFlight()
        self.console_port = console_port
        self.console_proxies = {}  # plugin name -> ConsoleProxyService
        self.console_urls = {}  # plugin name -> base URL of its proxy

    # -------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> "Cloud":
        with self._lock:
            if self._started:
                return self
            try:
                self._start()
            except BaseException:
                self._stop_all()
                raise
            self._started = True
        return self

    def _start(self):
        if self._state_dir_arg is None:
            self._tmp = tempfile.mkdtemp(prefix="compute-core-")
            self.state_dir = self._tmp
        else:
            self.state_dir = os.path.abspath(self._state_dir_arg)
            os.makedirs(self.state_dir, exist_ok=True)
        self.conf = conf = conf_mod.load(
            config_files=[self.config_file] if self.config_file else [],
            overrides=self.overrides)
        self._embedded_defaults(conf)
        conf_mod.validate(conf)
        if self.clock is None or getattr(self.clock, "_closed", False):
            self.clock = clock_mod.make(conf.aio.clock if self.clock_arg is None
                                        else self.clock_arg)
        clock_mod.attach(conf, self.clock)
        listen = conf.aio.listen if self.listen is None else self.listen
        self.auth = conf.aio.auth if self.auth_arg is None else self.auth_arg
        if self.auth not in ("keystone", "noauth2"):
            raise exception.ConfigError(f"auth must be keystone or noauth2, not {self.auth!r}")
        if self.auth == "keystone":
            self._start_identity(conf, listen)

        self.transport = rpc.get_transport(conf)
        self._stoppers.append(self.transport.cleanup)
        rpc.observe(self.transport, instrument.RPCObserver(self.clock, self.call_log,
                                                           self._in_flight, self.faults))
        self.faults.resolve = self._instance_for_faults
        self.notification_transport = rpc.get_notification_transport(conf)
        self._stoppers.append(self.notification_transport.cleanup)

        # Placement first: every other service talks to it.
        self._placement = assembly.PlacementServices(conf)
        self._stoppers.append(self._placement.close)
        placement_app = self._instrument(
            assembly.load_wsgi_app(conf, "placement", self._placement), "placement")
        self._placement_app = placement_app if conf.aio.placement_in_process else None
        self._api = assembly.APIServices(conf, self.transport, self.notification_transport,
                                         placement_client=self._placement_client())
        self._stoppers.append(self._api.close)
        # The image API before the bootstrap: with the glance backend, the
        # default image is uploaded through it.
        self._start_image_api(conf, listen)
        bootstrap.bootstrap(conf, self._api.api_db, self._placement.db, self._api.cells,
                            self._api.images)

        port = conf.aio.placement_port if self.placement_port is None else self.placement_port
        server = assembly.api_server(conf, placement_app, listen, port, conf.aio.wsgi_threads,
                                     "placement")
        self._stoppers.append(server.stop)
        server.start()
        self.placement_url = server.url
        conf.set_override("endpoint_override", self.placement_url, group="placement")
        if self.identity is not None:
            self.identity.set_endpoint("placement", self.placement_url)

        for bundle in (assembly.conductor_service(conf, self.transport,
                                                  self.notification_transport,
                                                  placement_client=self._placement_client()),
                       assembly.scheduler_service(conf, self.transport,
                                                  placement_client=self._placement_client())):
            self._services.append(bundle)
            bundle.start()
            if bundle.service.name == "compute-scheduler":
                self.scheduler = bundle.service.manager
        # The proxies before the compute hosts: enabling a console type
        # ([serial_console] enabled ...) also tells a libvirt host to give
        # its guests that console, read when its driver starts.
        self._start_console_proxies(conf, listen)
        hosts = conf.aio.hosts if self.hosts_wanted is None else self.hosts_wanted
        names = list(hosts) if isinstance(hosts, (list, tuple)) else \
            [f"host{i + 1}" for i in range(hosts)]
        for name in names:
            self._start_compute(name, **self.host_resources)
        self.discover_hosts()
        # Every plugin is loaded now: an override no plugin claimed is a typo.
        conf_mod.check_pending_overrides(conf)

        control = conf.aio.control_api if self.control_api is None else self.control_api
        compute_app = self._instrument(assembly.load_wsgi_app(conf, "compute", self._api),
                                       "compute", prefix="/v2.1",
                                       control=ControlApp(self) if control else None)
        port = conf.aio.compute_port if self.compute_port is None else self.compute_port
        server = assembly.api_server(conf, compute_app, listen, port, conf.aio.wsgi_threads,
                                     "compute")
        self._api_server = server
        server.start()
        self.compute_url = server.url + "/v2.1"
        self.compute_endpoint = server.url
        self.control_url = server.url + ControlApp.PREFIX if control else None
        if self.identity is not None:
            self.identity.set_endpoint("compute", self.compute_url)

    # Where a console type's URLs point, per proxy plugin's console type:
    # (group, base URL option, page added to the proxy's URL, enabled option).
    CONSOLE_URL_OPTIONS = {
        "novnc": ("vnc", "novncproxy_base_url", "/vnc_lite.html"),
        "spice-html5": ("spice", "html5proxy_base_url", "/spice_auto.html"),
        "serial": ("serial_console", "base_url", "/"),
    }

    def _start_console_proxies(self, conf, listen):
        """The console proxies of [aio] console_proxies, checking the tokens
        of every cell; the API's console URLs point at them."""
        from compute_core.console.service import ConsoleProxyService

        cells = self._api.cells
        dbs = [cells.get(c["uuid"]) for c in cells.cells(include_cell0=False)]
        for name in conf.aio.console_proxies:
            try:
                service = ConsoleProxyService(conf, name, dbs, listen=listen,
                                              port=self.console_port)
            except exception.ConfigError as exc:
                # A machine without the client pages still runs a cloud.
                LOG.warning("console proxy %s not started: %s", name, exc)
                continue
            service.start()
            self._stoppers.append(service.stop)
            self.console_proxies[name] = service
            self.console_urls[name] = service.url
            for console_type in service.types:
                if console_type not in self.CONSOLE_URL_OPTIONS:
                    continue
                group, option, page = self.CONSOLE_URL_OPTIONS[console_type]
                url = service.url + page
                if console_type == "serial":
                    url = "ws" + url[len("http"):]
                conf.set_default(option, url, group=group)
                conf.set_default("enabled", True, group=group)

    def _start_image_api(self, conf, listen):
        """The image service (Glance v2) on its own port, on the API
        database and the image store the local backend uses."""
        services = assembly.image_services(conf)
        self._stoppers.append(services.api_db.dispose)
        app = assembly.load_wsgi_app(conf, "image", services)
        port = conf.aio.image_port if self.image_port is None else self.image_port
        server = assembly.api_server(conf, app, listen, port, conf.aio.wsgi_threads, "image")
        self._stoppers.append(server.stop)
        server.start()
        self.image_url = server.url
        if self.identity is not None:
            self.identity.set_endpoint("image", self.image_url)
        else:
            # The glance image backend (when chosen) reaches this image API
            # with noauth2's admin token.
            register_auth_plugin_opts(conf, "glance", "admin_token")
            for name, value in (("auth_type", "admin_token"), ("token", ADMIN_TOKEN),
                                ("endpoint", self.image_url)):
                conf.set_default(name, value, group="glance")

    def _start_identity(self, conf, listen):
        """The identity endpoint, then keystonemiddleware in both APIs and
        the services' placement client pointed at it."""
        from compute_core.identity import UserSpec, parse_user_spec

        self.identity = ident = assembly.identity_services(conf, self.state_dir)
        self._stoppers.append(ident.close)
        specs = [parse_user_spec(text) for text in conf.identity.users]
        for user in self.extra_users:
            if isinstance(user, str):
                specs.append(parse_user_spec(user))
            else:
                name, password, project, roles = user
                specs.append(UserSpec(name, password, project, tuple(roles)))
        service_password = secrets.token_urlsafe(24)
        specs.append(UserSpec(SERVICE_USER, service_password, SERVICE_PROJECT,
                              ("admin", "service")))
        ident.declare_users(specs)
        self._passwords = {spec.name: (spec.password, spec.project) for spec in specs}
        app = self._instrument(assembly.load_wsgi_app(conf, "identity", ident), "identity")
        port = conf.aio.identity_port if self.identity_port is None else self.identity_port
        server = assembly.api_server(conf, app, listen, port, conf.aio.wsgi_threads, "identity")
        self._stoppers.append(server.stop)
        server.start()
        self.identity_url = server.url
        auth_url = server.url + "/v3"
        ident.set_endpoint("identity", auth_url)

        def default(name, value, group):
            conf.set_default(name, value, group=group)

        default("auth_strategy", "keystone", "api")
        default("auth_strategy", "keystone", "placement")
        for name, value in (("auth_url", auth_url), ("username", SERVICE_USER),
                            ("password", service_password),
                            ("project_name", SERVICE_PROJECT), ("region_name", REGION)):
            default(name, value, "placement")
        register_authtoken_opts(conf)
        # The glance image backend (when chosen): the service user, the
        # image endpoint from the catalog.
        register_auth_plugin_opts(conf, "glance", "password")
        for name, value in (("auth_type", "password"), ("auth_url", auth_url),
                            ("username", SERVICE_USER), ("password", service_password),
                            ("project_name", SERVICE_PROJECT),
                            ("user_domain_name", "Default"),
                            ("project_domain_name", "Default"), ("region_name", REGION)):
            default(name, value, "glance")
        for name, value in (("www_authenticate_uri", auth_url), ("auth_type", "password"),
                            ("auth_url", auth_url), ("username", SERVICE_USER),
                            ("password", service_password), ("project_name", SERVICE_PROJECT),
                            ("user_domain_name", "Default"),
                            ("project_domain_name", "Default"), ("region_name", REGION),
                            ("interface", "internal")):
            default(name, value, "keystone_authtoken")
        if self.clock.virtual:
            # keystonemiddleware would keep a validated token for minutes of
            # real time and judge its expiry by the real clock: ask the
            # identity endpoint, which judges by the cloud's, every time.
            default("token_cache_time", -1, "keystone_authtoken")

    def _instrument(self, app, api, prefix="", control=None):
        return instrument.APILayer(app, api, self.clock, self.call_log, self.faults,
                                   self._in_flight, prefix=prefix, control=control)

    def _embedded_defaults(self, conf):
        embedded_defaults(conf, self.state_dir)
        # The embedded cloud speaks to its own placement with the admin token.
        conf.set_default("noauth_token", ADMIN_TOKEN, group="placement")

    def stop(self) -> None:
        """Stop every service and free every resource; safe to call twice."""
        with self._lock:
            self._stop_all()
            self._started = False

    def _in_threads(self, bundles, method):
        """Call *method* of every bundle at once, each in a thread."""
        threads = [threading.Thread(target=self._guarded, args=(getattr(b, method),),
                                    name=f"{method}-{b.service.name}") for b in bundles]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def _stop_all(self):
        if self.clock is not None:
            self.clock.close()  # wake the sleepers: nothing waits out virtual time
        # The compute API first (no new work), then the RPC services, then
        # the rest.
        if self._api_server is not None:
            self._guarded(self._api_server.stop)
            self._api_server = None
        # Callers before the services they call: work a compute host is
        # finishing calls the conductor (a call to a stopped conductor would
        # wait out the RPC timeout), the conductor's work calls the
        # scheduler. So each wave stops taking work and finishes what it took
        # before the next wave does; then every service's idle worker threads
        # (which notice within a second) are waited for at once.
        computes = list(self._computes.values())
        services = self._services  # in start order: conductor, scheduler
        self._services = []
        self._computes.clear()
        for wave in [computes] + [[b] for b in services]:
            self._in_threads(wave, "quiesce")
        self._in_threads(computes + services, "stop")
        while self._stoppers:
            self._guarded(self._stoppers.pop())
        self._drivers.clear()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _placement_client(self):
        """A placement client for one embedded service: in-process calls of
        the placement pipeline ([aio] placement_in_process), else None (the
        service makes its own HTTP client)."""
        if self._placement_app is None:
            return None
        return PlacementClient(self.conf, app=self._placement_app)

    @staticmethod
    def _guarded(stop):
        try:
            stop()
        except Exception:
            LOG.exception("error while stopping the cloud")

    @property
    def running(self) -> bool:
        return self._started

    # ------------------------------------------------------------ hosts
    def _start_compute(self, name, vcpus=None, memory_mb=None, disk_gb=None, driver=None):
        if name in self._computes:
            raise exception.Conflict(f"compute host {name} is already running")
        driver = driver or self._drivers.get(name) or load_driver(self.conf, name)
        if (vcpus, memory_mb, disk_gb) != (None, None, None):
            driver.set_host_size(vcpus=vcpus, memory_mb=memory_mb, disk_gb=disk_gb)
        bundle = assembly.compute_service(self.conf, self.transport, name,
                                          faulting_driver(driver, self.faults, name),
                                          self.notification_transport,
                                          placement_client=self._placement_client())
        bundle.start()
        self._computes[name] = bundle
        self._drivers[name] = driver
        return bundle

    def add_host(self, name, vcpus=None, memory_mb=None, disk_gb=None, driver=None):
        """Start a new compute host and map it to cell1; *driver*: a virt
        driver object of its own (say one configured for another hypervisor)
        instead of one loaded from the cloud's configuration."""
        with self._lock:
            self._start_compute(name, vcpus, memory_mb, disk_gb, driver=driver)
            self.discover_hosts()

    def stop_host(self, name, mark_down=True):
        """Stop a compute service as if its process died. With *mark_down*
        its service record is aged so the cloud sees it down at once."""
        with self._lock:
            bundle = self._computes.pop(name)
        bundle.stop()
        if mark_down:
            _, db = self._api.cells.for_host(name)
            with clock_mod.using(self.clock), db.begin() as conn:
                conn.execute(cell_schema.services.update().where(cell_schema.services.c.host == name)
                             # updated_at: the scheduler's service cache reads
                             # the rows changed since its last read
                             .values(last_seen_up=cell_db.now().replace(year=2000),
                                     updated_at=cell_db.now()))

    def start_host(self, name):
        """Start a stopped compute host again; its hypervisor kept its guests."""
        with self._lock:
            self._start_compute(name)

    def _instance_for_faults(self, uuid):
        """The instance *uuid* (or its build request's) for an RPC fault
        rule's matchers; None when there is none."""
        cells = self._api.cells
        try:
            _, db = cells.for_instance(uuid)
            if db is not None:
                return cell_db.get_instance(db, uuid)
        except exception.ComputeCoreError:
            pass
        build = api_db.get_build_request(cells.api, uuid)
        return dict(build["instance"], uuid=uuid) if build else None

    def driver(self, host):
        """The virt driver object of *host* (for fault injection)."""
        return self._drivers[host]

    @property
    def images(self):
        """The image backend (``create``, ``get``, ``delete``...): how a
        program or test imports an image with properties."""
        return self._api.images

    @property
    def network(self):
        """The network backend (``networks``, ``ports``, ``create_port``...):
        how a program or test makes a free port of a project for a server
        of that project to attach."""
        return self._api.network

    def inject_fault(self, host, operation, instance_uuid=None, count=None, message=None):
        driver = self.driver(host)
        if not hasattr(driver, "inject_fault"):
            raise exception.Invalid(f"driver of {host} does not support fault injection")
        driver.inject_fault(operation, instance_uuid, count, message)

    def set_spawn_delay(self, host, seconds):
        self.driver(host).spawn_delay = seconds

    def remove_host(self, name):
        """Stop a compute host and forget its hypervisor (its records stay
        until deleted or restored away)."""
        with self._lock:
            bundle = self._computes.pop(name, None)
            self._drivers.pop(name, None)
        if bundle is not None:
            bundle.stop()

    @property
    def host_names(self):
        return sorted(self._computes)

    def discover_hosts(self):
        return discover_hosts(self._api.api_db, self._api.cells)



def register_authtoken_opts(conf) -> None:
    """keystonemiddleware's [keystone_authtoken] options and those of the
    password plugin, on *conf*, so the cloud can set them before
    auth_token registers them itself (the same definitions again)."""
    from keystoneauth1 import loading
    from keystonemiddleware import opts as ksm_opts

    for group, opts in ksm_opts.list_auth_token_opts():
        conf.register_opts(opts, group=group)
    loading.register_auth_conf_options(conf, "keystone_authtoken")
    conf.register_opts(loading.get_auth_plugin_conf_options("password"),
                       group="keystone_authtoken")


def register_auth_plugin_opts(conf, group, plugin) -> None:
    """The options of keystoneauth's auth *plugin* in *group*, so the cloud
    can set their defaults before the plugin is loaded (which registers the
    same definitions again)."""
    from keystoneauth1 import loading

    conf.register_opts(loading.get_auth_plugin_conf_options(plugin), group=group)
