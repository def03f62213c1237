"""The distributed mode end to end: every service its own process, RPC over
RabbitMQ, databases on MariaDB, driven through the HTTP API.

Fresh databases and a RabbitMQ exchange (and, with a local broker, a virtual
host) of their own per run, so runs may go in parallel; skipped with the
reason when MariaDB or RabbitMQ cannot be reached.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import textwrap
import threading
import time

import pytest
import requests

from tests.integration.conftest import (
    MariaDBDatabases,
    RabbitVirtualHost,
    free_port,
    mariadb_unreachable_reason,
    rabbitmq_unreachable_reason,
    run_command,
    unique_token,
)

pytestmark = pytest.mark.integration

ADMIN = {"X-Auth-Token": "admin:admin", "Accept": "application/json",
         "OpenStack-API-Version": "compute 2.53"}
PLACEMENT = {"X-Auth-Token": "admin:admin", "Accept": "application/json",
             "OpenStack-API-Version": "placement 1.39"}
HOSTS = ("dhost1", "dhost2")
# Stopped in this order, each group's members at once: the computes go
# before the conductor they heartbeat through.
STOP_STAGES = [["compute-api", *(f"compute-{h}" for h in HOSTS)], ["scheduler", "conductor"],
               ["placement-api"]]


def wait_until(what: str, check, timeout: float = 60.0, interval: float = 0.25):
    """Call *check* until it returns something true; fail after *timeout*."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def backends_unreachable_reason() -> str | None:
    return mariadb_unreachable_reason() or rabbitmq_unreachable_reason()


@contextlib.contextmanager
def distributed_backends(prefix="cc_dist", driver="pymysql"):
    """Databases (api, cell1, its cell0, placement) and a transport URL that
    belong to this run only; all removed afterwards. *driver*: the MySQL
    driver of the URLs (pymysql or mysqldb)."""
    token = unique_token()
    dbs = MariaDBDatabases(f"{prefix}_{token}", driver)
    vhost = RabbitVirtualHost(f"{prefix}_{token}")
    try:
        names = {kind: dbs.create(kind) for kind in ("api", "cell1", "placement")}
        # cell0's database is the cell database's name + "_cell0", as in Nova.
        names["cell0"] = dbs.create("cell1_cell0")
        if vhost.create():
            transport_url = f"rabbit://guest:guest@127.0.0.1:5672/{vhost.name}"
        else:
            print("\nrabbitmqctl unavailable: sharing the default virtual host; parallel "
                  "runs may consume each other's RPC messages")
            transport_url = "rabbit://guest:guest@127.0.0.1:5672/"
        yield {"token": token, "urls": {k: dbs.url(v) for k, v in names.items()},
               "transport_url": transport_url, "control_exchange": f"{prefix}_{token}"}
    finally:
        dbs.drop_all()
        vhost.delete()


@pytest.fixture
def backends(request, tmp_path):
    """Reachable MariaDB and RabbitMQ, with databases and a transport URL
    that belong to this run only; all removed afterwards. The MySQL driver
    is PyMySQL unless the test parametrizes it (indirect=True)."""
    driver = getattr(request, "param", "pymysql")
    reason = backends_unreachable_reason()
    if not reason and driver == "mysqldb":
        try:
            import MySQLdb  # noqa: F401
        except ImportError:
            reason = "mysqlclient (MySQLdb) is not installed: pip install -e .[mysqlclient]"
    if reason:
        print(f"\nskipping the distributed test: {reason}")
        pytest.skip(reason)
    with distributed_backends(driver=driver) as found:
        yield found


def write_config(tmp_path, backends, placement_port, extra: str = "") -> str:
    """The services' configuration file; *extra*: more sections."""
    urls = backends["urls"]
    path = tmp_path / "compute.conf"
    path.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        host = controller
        state_path = {tmp_path / "state"}
        transport_url = {backends["transport_url"]}
        control_exchange = {backends["control_exchange"]}
        compute_driver = fake
        report_interval = 2
        service_down_time = 30
        update_resources_interval = 5

        [api]
        auth_strategy = noauth2

        [api_database]
        connection = {urls["api"]}

        [database]
        connection = {urls["cell1"]}

        [placement_database]
        connection = {urls["placement"]}

        [placement]
        auth_strategy = noauth2
        endpoint_override = http://127.0.0.1:{placement_port}

        """) + textwrap.dedent(extra))
    return str(path)


def bootstrap(config_file: str, image_file) -> None:
    """The operator's first steps, as in Nova's install guide: migrations,
    cell0 and cell1 mappings, and an image to boot."""
    from compute_core.bootstrap import default_image_bytes

    def manage(*args):
        return run_command("compute-manage", "--config-file", config_file, *args)

    manage("api_db", "sync")
    manage("cell_v2", "map_cell0")  # [database] connection + "_cell0"
    manage("cell_v2", "create_cell", "--name", "cell1")
    manage("db", "sync")  # cell1 and cell0
    manage("placement", "sync")
    image_file.write_bytes(default_image_bytes())
    manage("image", "import", "cirros-like", str(image_file))
    cells = manage("cell_v2", "list_cells")
    assert "cell0" in cells and "cell1" in cells, cells


class Client:
    def __init__(self, compute_url, placement_url):
        self.compute = compute_url + "/v2.1"
        self.placement = placement_url
        self.http = requests.Session()

    def get(self, path, expect=200, version=None):
        headers = dict(ADMIN)
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        resp = self.http.get(self.compute + path, headers=headers, timeout=30)
        assert resp.status_code == expect, (path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def create_flavor(self, name, flavor_id, ram, vcpus, disk):
        body = {"flavor": {"name": name, "id": flavor_id, "ram": ram, "vcpus": vcpus,
                           "disk": disk}}
        resp = self.http.post(self.compute + "/flavors", json=body, headers=ADMIN, timeout=30)
        assert resp.status_code == 200, resp.text

    def boot(self, name, image_id, host=None):
        server = {"name": name, "imageRef": image_id, "flavorRef": "d1", "networks": "none"}
        if host:
            server["availability_zone"] = f"nova:{host}"
        resp = self.http.post(self.compute + "/servers", json={"server": server},
                              headers=ADMIN, timeout=30)
        assert resp.status_code == 202, resp.text
        return resp.json()["server"]["id"]

    def server(self, server_id):
        resp = self.http.get(f"{self.compute}/servers/{server_id}", headers=ADMIN, timeout=30)
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, resp.text
        return resp.json()["server"]

    def wait_active(self, server_id):
        def active():
            server = self.server(server_id)
            assert server is not None, f"server {server_id} vanished"
            assert server["status"] != "ERROR", server.get("fault")
            return server if server["status"] == "ACTIVE" else None

        return wait_until(f"server {server_id} ACTIVE", active, timeout=90)

    def allocations(self, consumer):
        resp = self.http.get(f"{self.placement}/allocations/{consumer}", headers=PLACEMENT,
                             timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()["allocations"]


def start_services(procs, config, placement_port, compute_port, hosts=HOSTS,
                   conductors=(), schedulers=(), overrides=()):
    """Placement, conductor and scheduler, then one compute per host and the
    API, each its own process, ready when this returns. *conductors* and
    *schedulers*: more config files, each for one more such process (its
    own [DEFAULT] host, say); *overrides*: config files every process reads
    after *config*."""
    conf_args = ["--config-file", config]
    for path in overrides:
        conf_args += ["--config-file", path]
    placement = procs.start("placement-api", "compute-placement-api", *conf_args,
                            "--host", "127.0.0.1", "--port", str(placement_port))
    first = [placement, procs.start("conductor", "compute-conductor", *conf_args),
             procs.start("scheduler", "compute-scheduler", *conf_args)]
    for kind, extra in (("conductor", conductors), ("scheduler", schedulers)):
        for i, more in enumerate(extra, start=2):
            first.append(procs.start(f"{kind}{i}", f"compute-{kind}", *conf_args,
                                     "--config-file", more))
    # Computes wait for a conductor anyway; starting them once it serves
    # saves their first (timed-out) try.
    for proc in first:
        proc.wait_for(" ready (pid ", timeout=90)
    computes = [procs.start(f"compute-{h}", "compute-compute", *conf_args, "--host", h)
                for h in hosts]
    api = procs.start("compute-api", "compute-api", *conf_args,
                      "--host", "127.0.0.1", "--port", str(compute_port))
    for proc in (api, *computes):
        proc.wait_for(" ready (pid ", timeout=90)
    return api


def check_wsgi_entry_points(config_file, image_id):
    """The entry points a WSGI server (mod_wsgi, uwsgi) is given serve the
    same APIs from the file COMPUTE_CORE_CONFIG names (here in the request
    environ, as Apache's SetEnv puts it)."""
    import webob

    from compute_core import wsgi_apps

    for kind, path, version, key in (
            ("compute", "/v2.1/images", "compute 2.35", "images"),
            ("placement", "/resource_providers", "placement 1.39", "resource_providers")):
        app = wsgi_apps.DeferredApplication(kind)
        req = webob.Request.blank(path, environ={wsgi_apps.CONFIG_ENV: config_file},
                                  headers={"X-Auth-Token": "admin:admin",
                                           "OpenStack-API-Version": version})
        resp = req.get_response(app)
        try:
            assert resp.status_int == 200, resp.text
            listed = resp.json[key]
            if kind == "compute":
                assert [i["id"] for i in listed] == [image_id]
            else:
                assert sorted(rp["name"] for rp in listed) == sorted(HOSTS)
        finally:
            app.close()


def test_services_as_processes_boot_and_delete_on_two_hosts(tmp_path, backends,
                                                             service_processes):
    timings = {}
    t0 = time.monotonic()
    placement_port, compute_port = free_port(), free_port()
    config = write_config(tmp_path, backends, placement_port)
    bootstrap(config, tmp_path / "disk.raw")
    timings["bootstrap"] = time.monotonic() - t0

    t1 = time.monotonic()
    start_services(service_processes, config, placement_port, compute_port)
    timings["services ready"] = time.monotonic() - t1

    out = run_command("compute-manage", "--config-file", config, "cell_v2", "discover_hosts",
                      "--verbose")
    for host in HOSTS:
        assert f"Mapped compute host {host!r} to cell 'cell1'" in out, out
    # Cells, placement and resource providers all check out.
    run_command("compute-status", "--config-file", config, "upgrade", "check")

    client = Client(f"http://127.0.0.1:{compute_port}", f"http://127.0.0.1:{placement_port}")
    procs = service_processes

    # Every service registered itself and is up.
    def services_up():
        listed = client.get("/os-services")["services"]
        up = {(s["binary"], s["host"]) for s in listed if s["state"] == "up"}
        wanted = {("nova-conductor", "controller"), ("nova-scheduler", "controller"),
                  *{("nova-compute", h) for h in HOSTS}}
        return wanted <= up

    wait_until("every service up in os-services", services_up, timeout=30)

    # 40 connections that send nothing and 40 that send half a header, on
    # each API process: the other clients below go on as if they were not
    # there (they took every worker for a minute with the old server).
    held = []
    for port in (compute_port, placement_port):
        for i in range(80):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Auth-To")
            held.append(sock)
    t_held = time.monotonic()
    client.get("/flavors")
    assert client.http.get(f"{client.placement}/resource_providers", headers=PLACEMENT,
                           timeout=30).status_code == 200
    assert time.monotonic() - t_held < 5  # generous: before, they waited 60 s
    hypervisors = client.get("/os-hypervisors")["hypervisors"]
    assert sorted(h["hypervisor_hostname"] for h in hypervisors) == sorted(HOSTS)

    # The image proxy is gone after 2.35, as in Nova.
    images = client.get("/images", version="2.35")["images"]
    assert [i["name"] for i in images] == ["cirros-like"], images
    image_id = images[0]["id"]
    # Flavors are the admin's to create, through the API as in Nova.
    client.create_flavor("d1.tiny", flavor_id="d1", ram=256, vcpus=1, disk=1)

    check_wsgi_entry_points(config, image_id)

    # Three servers placed by the scheduler (which spreads), then one forced
    # by the admin ("nova:HOST") onto the host with fewer: both hosts run one.
    t2 = time.monotonic()
    servers = {}
    for i in range(3):
        server_id = client.boot(f"dist-{i}", image_id)
        servers[server_id] = client.wait_active(server_id)
    placed = [s["OS-EXT-SRV-ATTR:host"] for s in servers.values()]
    target = min(HOSTS, key=placed.count)
    server_id = client.boot("dist-forced", image_id, host=target)
    servers[server_id] = client.wait_active(server_id)
    assert servers[server_id]["OS-EXT-SRV-ATTR:host"] == target
    assert {s["OS-EXT-SRV-ATTR:host"] for s in servers.values()} == set(HOSTS)
    timings[f"{len(servers)} servers ACTIVE"] = time.monotonic() - t2
    for server_id in servers:
        assert client.allocations(server_id), f"no allocation for {server_id}"

    listed = {s["id"] for s in client.get("/servers")["servers"]}
    assert set(servers) <= listed

    # os-interface across the processes (the servers boot with no network):
    # the API binds a port, the compute host plugs it (an RPC 1.10 call) and
    # the server's addresses show it; then it is unplugged and freed.
    first = next(iter(servers))
    path = f"{client.compute}/servers/{first}/os-interface"
    resp = client.http.post(path, json={"interfaceAttachment": {}}, headers=ADMIN, timeout=60)
    assert resp.status_code == 200, resp.text
    port = resp.json()["interfaceAttachment"]
    listed = client.get(f"/servers/{first}/os-interface")["interfaceAttachments"]
    assert [p["port_id"] for p in listed] == [port["port_id"]]
    addresses = client.get(f"/servers/{first}/ips")["addresses"]
    assert [a["addr"] for net in addresses.values() for a in net] == \
        [port["fixed_ips"][0]["ip_address"]]
    resp = client.http.delete(f"{path}/{port['port_id']}", headers=ADMIN, timeout=60)
    assert resp.status_code == 202, resp.text
    assert client.get(f"/servers/{first}/os-interface")["interfaceAttachments"] == []
    assert client.get(f"/servers/{first}/ips")["addresses"] == {}

    # Delete every server: gone from the API, nothing left in placement.
    t3 = time.monotonic()
    for server_id in servers:
        resp = client.http.delete(f"{client.compute}/servers/{server_id}", headers=ADMIN,
                                  timeout=30)
        assert resp.status_code == 204, resp.text
    for server_id in servers:
        wait_until(f"server {server_id} gone", lambda sid=server_id: client.server(sid) is None,
                   timeout=60)
        assert client.allocations(server_id) == {}
    assert not {s["id"] for s in client.get("/servers")["servers"]} & set(servers)
    timings["all deleted"] = time.monotonic() - t3

    # SIGTERM every process: each stops cleanly with exit code 0 (with
    # connections still open: the silent ones last [wsgi] idle_timeout).
    t4 = time.monotonic()
    codes = procs.stop_all(STOP_STAGES)
    timings["stop"] = time.monotonic() - t4
    timings["total"] = time.monotonic() - t0
    assert codes == {label: 0 for label in codes}, codes
    for sock in held:
        sock.close()
    print("\ndistributed mode timings: " + ", ".join(f"{k} {v:.1f} s"
                                                     for k, v in timings.items())
          + f"; scheduler placed on {', '.join(sorted(placed))}, forced onto {target}")


ROOMY_HOSTS = """
    [fake_driver]
    vcpus = 1000
    memory_mb = 1024000
    disk_gb = 100000

    [quota]
    instances = -1
    cores = -1
    ram = -1
    """


# Through mysqlclient, the driver bench/boot_distributed.py measures (the
# other distributed tests speak PyMySQL).
@pytest.mark.parametrize("backends", ["mysqldb"], indirect=True)
def test_500_boots_with_20_in_flight_all_become_active(tmp_path, backends, service_processes):
    """On hosts with room for all, no boot ends in ERROR: no "No valid host"
    from a dropped placement connection or a lost claim race."""
    servers, in_flight = 500, 20
    placement_port, compute_port = free_port(), free_port()
    config = write_config(tmp_path, backends, placement_port, extra=ROOMY_HOSTS)
    bootstrap(config, tmp_path / "disk.raw")
    start_services(service_processes, config, placement_port, compute_port)
    run_command("compute-manage", "--config-file", config, "cell_v2", "discover_hosts")
    client = Client(f"http://127.0.0.1:{compute_port}", f"http://127.0.0.1:{placement_port}")
    image_id = client.get("/images", version="2.35")["images"][0]["id"]
    client.create_flavor("d1.tiny", flavor_id="d1", ram=256, vcpus=1, disk=1)
    local = threading.local()

    def boot_one(i):
        if not hasattr(local, "client"):
            local.client = Client(client.compute[:-len("/v2.1")], client.placement)
        server_id = local.client.boot(f"many-{i}", image_id)

        def settled():
            server = local.client.server(server_id)
            return server if server and server["status"] in ("ACTIVE", "ERROR") else None

        return wait_until(f"server {server_id} ACTIVE or ERROR", settled, timeout=120,
                          interval=0.3)

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(in_flight) as pool:
        settled = list(pool.map(boot_one, range(servers)))
    elapsed = time.monotonic() - t0
    errors = [(s["id"], (s.get("fault") or {}).get("message")) for s in settled
              if s["status"] == "ERROR"]
    assert errors == [], f"{len(errors)} of {servers} in ERROR: {errors[:5]}"
    # Placement holds one vCPU for each of them.
    providers = client.http.get(f"{client.placement}/resource_providers", headers=PLACEMENT,
                                timeout=30).json()["resource_providers"]
    used = sum(client.http.get(f"{client.placement}/resource_providers/{rp['uuid']}/usages",
                               headers=PLACEMENT, timeout=30).json()["usages"].get("VCPU", 0)
               for rp in providers)
    assert used == servers
    service_processes.stop_all(STOP_STAGES)
    print(f"\n{servers} servers ACTIVE in {elapsed:.1f} s ({servers / elapsed:.1f}/s), "
          f"{in_flight} in flight, 0 in ERROR")
