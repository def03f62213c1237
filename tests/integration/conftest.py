"""Helpers of the integration tests: real daemons (MariaDB, RabbitMQ) and
compute_core's own services started as separate processes."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

MYSQL_ROOT = "mysql+pymysql://root@127.0.0.1"
# The MySQL drivers the services can speak through (SQLAlchemy's names):
# PyMySQL (pure Python) and mysqlclient (C, the [mysqlclient] extra).
MYSQL_DRIVERS = ("pymysql", "mysqldb")
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether their test failed (to print process logs).
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def run_failed(request) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
               for when in ("setup", "call"))


def unique_token() -> str:
    return uuid.uuid4().hex[:10]


def free_port(host="127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ MariaDB
def mariadb_unreachable_reason() -> str | None:
    try:
        import pymysql
    except ImportError:
        return "PyMySQL is not installed"
    try:
        pymysql.connect(host="127.0.0.1", user="root", connect_timeout=3).close()
    except Exception as exc:
        return f"MariaDB on 127.0.0.1:3306 is unreachable: {exc}"
    return None


class MariaDBDatabases:
    """Fresh databases with unique names, dropped by :meth:`drop_all`."""

    def __init__(self, prefix: str, driver: str = "pymysql"):
        if driver not in MYSQL_DRIVERS:
            raise ValueError(f"unknown MySQL driver {driver!r}")
        self.prefix = prefix
        self.driver = driver
        self.names: list[str] = []

    def _execute(self, sql: str) -> None:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root", connect_timeout=5,
                               autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def url(self, name: str) -> str:
        return f"mysql+{self.driver}://root@127.0.0.1/{name}?charset=utf8mb4"

    def create(self, suffix: str) -> str:
        name = f"{self.prefix}_{suffix}"
        self._execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        self.names.append(name)
        return name

    def drop_all(self) -> None:
        while self.names:
            self._execute(f"DROP DATABASE IF EXISTS `{self.names.pop()}`")


# ----------------------------------------------------------------- RabbitMQ
def rabbitmq_unreachable_reason() -> str | None:
    try:
        import kombu
    except ImportError:
        return "kombu is not installed"
    try:
        with kombu.Connection(f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}//",
                              connect_timeout=3) as conn:
            conn.connect()
    except Exception as exc:
        return f"RabbitMQ on {RABBIT_HOST}:{RABBIT_PORT} is unreachable: {exc}"
    return None


class RabbitVirtualHost:
    """A private virtual host when the broker is local and ``rabbitmqctl``
    works. oslo.messaging names a topic's queue after the topic alone, so
    two runs on one virtual host share the queue ``conductor`` whatever
    their control_exchange; a virtual host of their own keeps them apart and
    its deletion removes every queue the run left behind."""

    def __init__(self, name: str):
        self.name = name
        self.created = False

    def _ctl(self, *args) -> bool:
        ctl = shutil.which("rabbitmqctl")
        if not ctl:
            return False
        try:
            result = subprocess.run([ctl, "-q", *args], capture_output=True, text=True,
                                    timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return result.returncode == 0

    def create(self) -> bool:
        if self._ctl("add_vhost", self.name):
            self.created = self._ctl("set_permissions", "-p", self.name, "guest",
                                     ".*", ".*", ".*")
            if not self.created:
                self._ctl("delete_vhost", self.name)
        return self.created

    def delete(self) -> None:
        if self.created:
            self._ctl("delete_vhost", self.name)
            self.created = False


# ---------------------------------------------------------------- processes
def console_script(name: str) -> str:
    """The installed console script *name*, preferring the one beside this
    interpreter (a pyenv shim on PATH costs a second per start)."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if not found:
        pytest.fail(f"console script {name} is not installed (pip install -e .)")
    return found


class ServiceProcess:
    """One compute_core command in its own process, its output in a file."""

    def __init__(self, label: str, argv: list[str], log_dir):
        self.label = label
        self.argv = argv
        self.log_path = os.path.join(str(log_dir), f"{label}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.returncode = None
        self._sigterm_sent = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        """Wait until *text* appears in the output; fail if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.label} exited with {self.proc.returncode} "
                                     f"before saying {text!r}:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"{self.label} did not say {text!r} in {timeout} s:\n"
                             f"{self.output()}")

    def send_sigterm(self) -> None:
        """SIGTERM once: a second one could land after the process put its
        default handler back on its way out."""
        if not self._sigterm_sent and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self._sigterm_sent = True

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait; SIGKILL after *timeout*. Returns the exit code
        (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.send_sigterm()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = None
                self._log.close()
                return None
        self.returncode = self.proc.returncode
        self._log.close()
        return self.returncode


def run_command(script: str, *args: str, timeout: float = 120) -> str:
    """Run a compute_core command to its end; its output, or fail with it."""
    argv = [console_script(script), *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (f"{' '.join(argv[1:])} exited with "
                                    f"{result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


class ServiceProcesses:
    """The processes a test started; all stopped by :meth:`stop_all`."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.procs: list[ServiceProcess] = []

    def start(self, label: str, script: str, *args: str) -> ServiceProcess:
        proc = ServiceProcess(label, [console_script(script), *args], self.log_dir)
        self.procs.append(proc)
        return proc

    def stop_all(self, stages=None) -> dict[str, int | None]:
        """SIGTERM the processes and wait; {label: exit code, None if killed}.

        *stages* is a list of label groups stopped one group after the
        other, each group's members at once (oslo.messaging needs a few
        seconds to stop each listener); the default is reverse start order,
        one at a time. Processes named in no stage are stopped last."""
        if stages is None:
            stages = [[p.label] for p in reversed(self.procs)]
        named = {label for stage in stages for label in stage}
        stages = [*stages, [p.label for p in self.procs if p.label not in named]]
        codes = {}
        for stage in stages:
            group = [p for p in self.procs if p.label in stage]
            for proc in group:
                proc.send_sigterm()
            for proc in group:
                codes[proc.label] = proc.terminate()
        return codes

    def print_logs(self) -> None:
        for proc in self.procs:
            print(f"\n===== {proc.label} ({' '.join(proc.argv[1:])}) =====")
            print(proc.output())


@pytest.fixture
def service_processes(request, tmp_path):
    """Start compute_core commands as processes; on failure their logs are
    printed, and every one still running is stopped."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    procs = ServiceProcesses(log_dir)
    yield procs
    procs.stop_all()
    if run_failed(request):
        procs.print_logs()


# ----------------------------------------------------------------- Keystone
class KeystoneDeployment:
    """A real Keystone (tests/integration/keystone.py) with the users of
    the tests, and compute_core's APIs and services validating its tokens."""

    def __init__(self, server, memcached, users, projects, service_user):
        self.server = server
        self.memcached = memcached
        self.auth_url = server.auth_url
        #: name -> {"password", "project", "project_id", "user_id", "roles"}
        self.users = users
        #: name -> id
        self.projects = projects
        self.service_user = service_user
        self.cloud = None
        #: compute_core.requests log records (one per API request)
        self.request_log: list[str] = []

    def clouds_yaml(self, path) -> str:
        """A clouds.yaml with one cloud per user, named after the user."""
        import yaml

        clouds = {name: {"auth": {"auth_url": self.auth_url, "username": name,
                                  "password": user["password"],
                                  "project_name": user["project"],
                                  "user_domain_name": "Default",
                                  "project_domain_name": "Default"},
                         "region_name": "RegionOne", "identity_api_version": 3,
                         "interface": "public"}
                  for name, user in self.users.items()}
        with open(path, "w") as f:
            yaml.safe_dump({"clouds": clouds}, f)
        return str(path)

    def token(self, name) -> str:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        user = self.users[name]
        auth = v3.Password(auth_url=self.auth_url, username=name, password=user["password"],
                           project_name=user["project"], user_domain_name="Default",
                           project_domain_name="Default")
        return session.Session(auth=auth).get_token()


#: The users of the tests: (name, project, roles). admin is Keystone's
#: bootstrap admin (project admin); nova, the services' own user.
KEYSTONE_USERS = [("admin-a", "project-a", ["admin"]), ("member-a", "project-a", ["member"]),
                  ("reader-a", "project-a", ["reader"]), ("admin-b", "project-b", ["admin"]),
                  ("member-b", "project-b", ["member"]), ("reader-b", "project-b", ["reader"]),
                  ("nova", "service", ["admin", "service"])]


@pytest.fixture(scope="session")
def real_keystone(tmp_path_factory):
    """Keystone from PyPI under gunicorn on SQLite (MariaDB with
    COMPUTE_CORE_TEST_KEYSTONE_DB=mariadb), memcached, the users of
    KEYSTONE_USERS; skipped with the reason when it cannot run here."""
    from tests.integration import keystone

    reason = keystone.unavailable_reason()
    if reason:
        print(f"\nskipping the Keystone tests: {reason}")
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("keystone")
    databases = None
    database_url = None
    if os.environ.get("COMPUTE_CORE_TEST_KEYSTONE_DB") == "mariadb":
        reason = mariadb_unreachable_reason()
        if reason:
            pytest.skip(reason)
        databases = MariaDBDatabases(f"cc_keystone_{unique_token()}")
        database_url = databases.url(databases.create("identity"))
    memcached = keystone.Memcached(str(workdir))
    server = keystone.KeystoneServer(workdir, database_url)
    try:
        try:
            server.start()
        except RuntimeError as exc:
            reason = f"Keystone could not be started: {str(exc).splitlines()[0]}"
            print(f"\nskipping the Keystone tests: {exc}")
            pytest.skip(reason)
        admin = keystone.IdentityAdmin(server.auth_url)
        projects = {name: admin.project(name)
                    for name in ("admin", "service", "project-a", "project-b")}
        users = {"admin": {"password": keystone.ADMIN_PASSWORD, "project": "admin",
                           "project_id": projects["admin"], "roles": ["admin"],
                           "user_id": admin.session.get_user_id()}}
        for name, project, roles in KEYSTONE_USERS:
            password = f"{name}-{unique_token()}"
            users[name] = {"password": password, "project": project,
                           "project_id": projects[project], "roles": roles,
                           "user_id": admin.user(name, password, projects[project], roles)}
        deployment = KeystoneDeployment(server, memcached, users, projects, "nova")
        deployment.admin = admin
        yield deployment
    finally:
        server.stop()
        memcached.stop()
        if databases is not None:
            databases.drop_all()


class _RecordLines(logging.Handler):
    def __init__(self, lines):
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="session")
def keystone_cloud(real_keystone, tmp_path_factory):
    """compute_core behind the real Keystone: its compute and placement
    APIs in their keystone pipelines ([keystone_authtoken] with memcached),
    its services calling placement over HTTP as the service user ([placement]
    auth options, keystoneauth1); compute and placement in the catalog."""
    from compute_core import Cloud

    ks = real_keystone
    nova = ks.users[ks.service_user]
    workdir = tmp_path_factory.mktemp("compute-keystone")
    credentials = textwrap.dedent(f"""\
        auth_type = password
        auth_url = {ks.auth_url}
        username = {ks.service_user}
        password = {nova["password"]}
        project_name = {nova["project"]}
        user_domain_name = Default
        project_domain_name = Default
        region_name = RegionOne
        """)
    config = workdir / "compute.conf"
    config.write_text(textwrap.dedent("""\
        [api]
        auth_strategy = keystone

        [aio]
        placement_in_process = false

        [placement]
        auth_strategy = keystone
        """) + credentials + textwrap.dedent(f"""\

        [keystone_authtoken]
        www_authenticate_uri = {ks.auth_url}
        memcached_servers = {ks.memcached.server}
        """) + credentials)
    logger = logging.getLogger("compute_core.requests")
    handler = _RecordLines(ks.request_log)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    cloud = Cloud(state_dir=str(workdir / "state"), config_file=str(config), auth="noauth2")
    try:
        cloud.start()
        ks.admin.service("compute", "nova", cloud.compute_url)
        ks.admin.service("placement", "placement", cloud.placement_url)
        if getattr(cloud, "image_url", None):  # the image API (Glance v2), where served
            ks.admin.service("image", "glance", cloud.image_url)
        ks.cloud = cloud
        yield ks
    finally:
        cloud.stop()
        logger.removeHandler(handler)
        logger.setLevel(old_level)
