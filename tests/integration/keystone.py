"""A real Keystone for the integration tests.

The ``keystone`` package from PyPI, in the virtualenv ``.ci/setup`` makes
(``COMPUTE_CORE_KEYSTONE_VENV``, default /opt/compute-core-ci/keystone-venv),
served by gunicorn on a free 127.0.0.1 port, on SQLite (or a MariaDB
database), with its fernet and credential keys in a temporary directory;
and a memcached of its own for keystonemiddleware's token cache.

:func:`unavailable_reason` says why not, when one of them is missing.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time

import requests

VENV = os.environ.get("COMPUTE_CORE_KEYSTONE_VENV", "/opt/compute-core-ci/keystone-venv")
REGION = "RegionOne"
ADMIN_PASSWORD = "admin-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_bin(name: str) -> str:
    return os.path.join(VENV, "bin", name)


def unavailable_reason() -> str | None:
    """Why Keystone or memcached cannot be run here, or None."""
    for name in ("keystone-manage", "gunicorn"):
        if not os.access(_venv_bin(name), os.X_OK):
            return (f"{_venv_bin(name)} is missing: Keystone is installed in its own "
                    "virtualenv by .ci/setup (COMPUTE_CORE_KEYSTONE_VENV to use another)")
    if not shutil.which("memcached"):
        return "memcached is not installed (apt-get install memcached; .ci/setup does it)"
    return None


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, log, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} in {timeout} s:\n"
                       f"{log()[-3000:]}")


class Memcached:
    """memcached on a free loopback port, in the foreground of its process."""

    def __init__(self, workdir):
        self.port = _free_port()
        self.log_path = os.path.join(workdir, "memcached.log")
        self._log = open(self.log_path, "wb")
        argv = ["memcached", "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "32"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]  # memcached refuses root without saying whom to be
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_for_port(self.port, self.proc, "memcached", self.log)

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stats(self) -> dict[str, int]:
        """memcached's own counters (``stats``), the numeric ones."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        out = {}
        for line in data.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
                out[parts[1]] = int(parts[2])
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class KeystoneServer:
    """Keystone set up as its install guide says (db_sync, fernet_setup,
    credential_setup, bootstrap), served by gunicorn."""

    def __init__(self, workdir, database_url: str | None = None):
        self.workdir = str(workdir)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_url = self.url + "/v3"
        self.database_url = database_url or \
            f"sqlite:///{os.path.join(self.workdir, 'keystone.sqlite')}"
        self.config_file = os.path.join(self.workdir, "keystone.conf")
        self.log_path = os.path.join(self.workdir, "keystone.log")
        self.proc = None
        self._log = None

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "PYTHON", "VIRTUAL_ENV"))}
        env["OS_KEYSTONE_CONFIG_DIR"] = self.workdir
        env["OS_KEYSTONE_CONFIG_FILES"] = "keystone.conf"
        return env

    def _manage(self, *args: str) -> str:
        argv = [_venv_bin("keystone-manage"), "--config-file", self.config_file, *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                              env=self._env(), stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"keystone-manage {' '.join(args)} exited with "
                               f"{done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        keys = os.path.join(self.workdir, "fernet-keys")
        credential_keys = os.path.join(self.workdir, "credential-keys")
        with open(self.config_file, "w") as f:
            f.write(textwrap.dedent(f"""\
                [DEFAULT]
                log_file = {self.log_path}

                [database]
                connection = {self.database_url}

                [token]
                provider = fernet

                [fernet_tokens]
                key_repository = {keys}

                [fernet_receipts]
                key_repository = {keys}

                [credential]
                key_repository = {credential_keys}

                [identity]
                # The cheapest bcrypt Keystone takes: users are made per run.
                password_hash_rounds = 4
                """))
        # Keys owned by whoever runs the tests (root in CI).
        import grp
        import pwd

        owner = ["--keystone-user", pwd.getpwuid(os.geteuid()).pw_name,
                 "--keystone-group", grp.getgrgid(os.getegid()).gr_name]
        self._manage("db_sync")
        self._manage("fernet_setup", *owner)
        self._manage("credential_setup", *owner)
        self._manage("bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                     "--bootstrap-admin-url", self.auth_url,
                     "--bootstrap-internal-url", self.auth_url,
                     "--bootstrap-public-url", self.auth_url,
                     "--bootstrap-region-id", REGION)
        # Keystone reads the command line with oslo.config: gunicorn's
        # arguments are not its own, so the module it serves hides them.
        with open(os.path.join(self.workdir, "keystone_wsgi.py"), "w") as f:
            f.write("import sys\n\nsys.argv[1:] = []\n"
                    "from keystone.wsgi.api import application  # noqa: E402,F401\n")
        # gunicorn's sync workers close each connection after its response,
        # so clients that keep connections alive meet no reset.
        self._log = open(os.path.join(self.workdir, "gunicorn.log"), "wb")
        self.proc = subprocess.Popen(
            [_venv_bin("gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--timeout", "120", "--access-logfile", "-", "--chdir", self.workdir,
             # A recent gunicorn has a control socket, by default one
             # path per user: two test runs at once would share it.
             *(["--no-control-socket"] if self._gunicorn_has("--no-control-socket") else []),
             "keystone_wsgi:application"],
            cwd=self.workdir, env=self._env(), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_for_port(self.port, self.proc, "Keystone (gunicorn)", self.gunicorn_log)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.auth_url, timeout=10).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"Keystone does not answer GET /v3:\n"
                                   f"{self.gunicorn_log()[-3000:]}\n{self.log()[-3000:]}")
            time.sleep(0.2)

    @staticmethod
    def _gunicorn_has(option: str) -> bool:
        done = subprocess.run([_venv_bin("gunicorn"), "--help"], capture_output=True,
                              text=True, timeout=60)
        return option in done.stdout

    def gunicorn_log(self) -> str:
        try:
            with open(os.path.join(self.workdir, "gunicorn.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # gunicorn's graceful stop
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()


class IdentityAdmin:
    """What an operator does with ``openstack project/user/role/service/
    endpoint create``, over Keystone's v3 API as its bootstrap admin."""

    def __init__(self, auth_url: str):
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        auth = v3.Password(auth_url=auth_url, username="admin", password=ADMIN_PASSWORD,
                           project_name="admin", user_domain_id="default",
                           project_domain_id="default")
        self.session = session.Session(auth=auth)
        self.url = auth_url

    def _call(self, method, path, body=None, ok=(200, 201, 204)):
        resp = self.session.request(self.url + path, method, json=body, raise_exc=False)
        if resp.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    def role_id(self, name: str) -> str:
        roles = self._call("GET", f"/roles?name={name}")["roles"]
        if roles:
            return roles[0]["id"]
        return self._call("POST", "/roles", {"role": {"name": name}})["role"]["id"]

    def project(self, name: str) -> str:
        found = self._call("GET", f"/projects?name={name}&domain_id=default")["projects"]
        if found:
            return found[0]["id"]
        return self._call("POST", "/projects", {"project": {
            "name": name, "domain_id": "default", "description": f"{name} (tests)"}})[
            "project"]["id"]

    def user(self, name: str, password: str, project_id: str, roles) -> str:
        user_id = self._call("POST", "/users", {"user": {
            "name": name, "password": password, "domain_id": "default",
            "default_project_id": project_id}})["user"]["id"]
        for role in roles:
            self._call("PUT", f"/projects/{project_id}/users/{user_id}/roles/"
                              f"{self.role_id(role)}")
        return user_id

    def service(self, service_type: str, name: str, url: str) -> None:
        service_id = self._call("POST", "/services", {"service": {
            "type": service_type, "name": name, "enabled": True}})["service"]["id"]
        for interface in ("public", "internal", "admin"):
            self._call("POST", "/endpoints", {"endpoint": {
                "service_id": service_id, "interface": interface, "url": url,
                "region_id": REGION, "enabled": True}})
