"""Distribution metadata for compute_core and its in-tree plugins.

Every in-tree plugin is reached only through the entry points declared here,
exactly as a third-party plugin would be.
"""
from setuptools import find_packages, setup

ENTRY_POINTS = {
    "console_scripts": [
        "compute-aio = compute_core.cmd.aio:main",
        "compute-manage = compute_core.cmd.manage:main",
        "compute-status = compute_core.cmd.status:main",
        "compute-api = compute_core.cmd.api:main",
        "compute-placement-api = compute_core.cmd.api:placement_main",
        "compute-image-api = compute_core.cmd.api:image_main",
        "compute-conductor = compute_core.cmd.services:conductor_main",
        "compute-scheduler = compute_core.cmd.services:scheduler_main",
        "compute-compute = compute_core.cmd.services:compute_main",
        "compute-novncproxy = compute_core.cmd.console:novncproxy_main",
        "compute-spicehtml5proxy = compute_core.cmd.console:spicehtml5proxy_main",
        "compute-serialproxy = compute_core.cmd.console:serialproxy_main",
        "compute-consoleproxy = compute_core.cmd.console:main",
    ],
    "compute_core.virt_drivers": [
        "fake = compute_core_plugins.virt.fake:FakeDriver",
        "libvirt = compute_core_plugins.virt.libvirt.driver:LibvirtDriver",
    ],
    "compute_core.scheduler.filters": [
        "AvailabilityZoneFilter = compute_core_plugins.filters.availability_zone:AvailabilityZoneFilter",
        "ComputeFilter = compute_core_plugins.filters.compute:ComputeFilter",
        "ComputeCapabilitiesFilter = compute_core_plugins.filters.capabilities:ComputeCapabilitiesFilter",
        "ImagePropertiesFilter = compute_core_plugins.filters.image_properties:ImagePropertiesFilter",
        "ServerGroupAffinityFilter = compute_core_plugins.filters.affinity:ServerGroupAffinityFilter",
        "ServerGroupAntiAffinityFilter = compute_core_plugins.filters.affinity:ServerGroupAntiAffinityFilter",
        "SameHostFilter = compute_core_plugins.filters.affinity:SameHostFilter",
        "DifferentHostFilter = compute_core_plugins.filters.affinity:DifferentHostFilter",
        "SimpleCIDRAffinityFilter = compute_core_plugins.filters.affinity:SimpleCIDRAffinityFilter",
        "AggregateInstanceExtraSpecsFilter = compute_core_plugins.filters.aggregates:AggregateInstanceExtraSpecsFilter",
        "AggregateImagePropertiesIsolation = compute_core_plugins.filters.aggregates:AggregateImagePropertiesIsolation",
        "AggregateMultiTenancyIsolation = compute_core_plugins.filters.aggregates:AggregateMultiTenancyIsolation",
        "AggregateNumInstancesFilter = compute_core_plugins.filters.host_load:AggregateNumInstancesFilter",
        "AggregateIoOpsFilter = compute_core_plugins.filters.host_load:AggregateIoOpsFilter",
        "IsolatedHostsFilter = compute_core_plugins.filters.isolated_hosts:IsolatedHostsFilter",
        "NumInstancesFilter = compute_core_plugins.filters.host_load:NumInstancesFilter",
        "IoOpsFilter = compute_core_plugins.filters.host_load:IoOpsFilter",
        "JsonFilter = compute_core_plugins.filters.json_query:JsonFilter",
        "MetricsFilter = compute_core_plugins.filters.metrics:MetricsFilter",
        "PciPassthroughFilter = compute_core_plugins.filters.pci:PciPassthroughFilter",
        "NUMATopologyFilter = compute_core_plugins.filters.numa:NUMATopologyFilter",
    ],
    "compute_core.scheduler.weighers": [
        "RAMWeigher = compute_core_plugins.weighers.resources:RAMWeigher",
        "CPUWeigher = compute_core_plugins.weighers.resources:CPUWeigher",
        "DiskWeigher = compute_core_plugins.weighers.resources:DiskWeigher",
        "IoOpsWeigher = compute_core_plugins.weighers.host_load:IoOpsWeigher",
        "NumInstancesWeigher = compute_core_plugins.weighers.host_load:NumInstancesWeigher",
        "MetricsWeigher = compute_core_plugins.weighers.metrics:MetricsWeigher",
        "ServerGroupSoftAffinityWeigher = compute_core_plugins.weighers.affinity:ServerGroupSoftAffinityWeigher",
        "ServerGroupSoftAntiAffinityWeigher = compute_core_plugins.weighers.affinity:ServerGroupSoftAntiAffinityWeigher",
        "BuildFailureWeigher = compute_core_plugins.weighers.compute_node:BuildFailureWeigher",
        "CrossCellWeigher = compute_core_plugins.weighers.cross_cell:CrossCellWeigher",
        "HypervisorVersionWeigher = compute_core_plugins.weighers.compute_node:HypervisorVersionWeigher",
        "ImagePropertiesWeigher = compute_core_plugins.weighers.image_properties:ImagePropertiesWeigher",
    ],
    "compute_core.console_proxies": [
        "novnc = compute_core_plugins.consoles:NoVNCProxy",
        "spice-html5 = compute_core_plugins.consoles:SpiceHTML5Proxy",
        "serial = compute_core_plugins.consoles:SerialProxy",
    ],
    "compute_core.image_backends": [
        "local = compute_core_plugins.image.local:LocalImageBackend",
        "glance = compute_core_plugins.image.glance:GlanceImageBackend",
    ],
    "compute_core.network_backends": [
        "flat = compute_core_plugins.network.flat:FlatNetworkBackend",
    ],
    "oslo.policy.policies": [
        # placement's rules under openstack-placement's names
        "compute_core.placement = compute_core.placement.policy:list_rules",
    ],
    "oslo.config.opts": [
        "compute_core = compute_core.conf.opts:list_opts",
        "compute_core.libvirt = compute_core_plugins.virt.libvirt.options:list_opts",
    ],
    # oslopolicy-sample-generator / -policy-generator / -checker --namespace compute_core
    "oslo.policy.policies": [
        "compute_core = compute_core.api.policy:list_rules",
    ],
    "oslo.policy.enforcer": [
        "compute_core = compute_core.api.policy:get_enforcer",
    ],
    "pytest11": [
        "compute_core.testing = compute_core.testing",
    ],
}

LIBVIRT_REQUIRES = ["libvirt-python>=9.0", "pycdlib>=1.11"]  # pycdlib: config drives

MYSQLCLIENT_REQUIRES = ["mysqlclient>=2.1"]

setup(
    name="compute_core",
    version="0.1.0",
    description="A compute controller in the spirit of OpenStack Nova, built as a plugin framework",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["compute_core", "compute_core.*"])
    + find_packages("plugins"),
    package_dir={"compute_core_plugins": "plugins/compute_core_plugins"},
    include_package_data=True,
    # The alembic trees are not packages: list their files, or an installed
    # (not editable) compute_core cannot migrate its databases.
    package_data={"compute_core": [
        "db/migrations/*/*.ini", "db/migrations/*/*.mako", "db/migrations/*/*.py",
        "db/migrations/*/versions/*.py", "placement/migrations/*.mako",
        "placement/migrations/*.py", "placement/migrations/versions/*.py"]},
    data_files=[("etc/compute_core", ["api-paste.ini"])],
    install_requires=[
        "stevedore>=5.0",
        "oslo.config>=9.0",
        "oslo.messaging>=14.0",
        "oslo.db>=15.0",
        "oslo.log>=5.0",
        "oslo.policy>=4.0",
        "oslo.context>=5.0",
        "oslo.serialization>=5.0",
        "oslo.utils>=6.0",
        "SQLAlchemy>=2.0",
        "alembic>=1.12",
        "webob>=1.8",
        "PasteDeploy>=3.0",
        "routes>=2.5",
        "jsonschema>=4.0",
        "microversion-parse>=1.0",
        "os-traits>=3.0",
        "os-resource-classes>=1.1",
        "keystonemiddleware>=10.0",
        "keystoneauth1>=5.0",
        # [keystone_authtoken] memcached_servers: keystonemiddleware's token
        # cache talks to memcached through python-memcached.
        "python-memcached>=1.59",
        "requests>=2.28",
        # The embedded HTTP server: reads whole requests in its event loop,
        # so slow and idle clients hold no worker thread.
        "waitress>=3.0",
        "oslo.middleware>=6.0",  # sizelimit: [oslo_middleware] max_request_body_size
        "cotyledon>=1.7",  # oslo.service's threading backend (no eventlet)
        "netaddr>=0.10",
        "PyYAML>=6.0",  # clouds.yaml written by the pytest plugin
        "PyMySQL>=1.0",
        "psycopg2-binary>=2.9",
        "google-re2>=1.1",  # list filters' regular expressions, in linear time
        "websockify>=0.11",  # the console proxies' websocket server (threaded)
    ],
    extras_require={
        # The libvirt virt driver (compute_driver = libvirt); builds against
        # libvirt-dev and pkg-config.
        "libvirt": LIBVIRT_REQUIRES,
        # mysqlclient (URLs mysql+mysqldb://), the C MySQL driver: the same
        # SQL costs the services about half the CPU it costs through PyMySQL
        # (README "Performance"); builds against libmariadb-dev and pkg-config.
        "mysqlclient": MYSQLCLIENT_REQUIRES,
        "test": LIBVIRT_REQUIRES + MYSQLCLIENT_REQUIRES + [
            "pytest>=8",
            "pytest-timeout",
            "pytest-xdist",  # the pytest plugin is shown xdist-safe (pytest -n 2)
            "openstacksdk>=3.0",
            "python-openstackclient>=7.0",
            "python-novaclient>=18.0",
            "osc-placement>=4.0",
            "gabbi>=3.0",
            "fixtures>=4.0",  # keystonemiddleware's AuthTokenFixture (tests of the keystone pipelines)
            "ruff",
            "wheel",  # the third-party plugin test builds a wheel offline
            "schemathesis>=4.32",  # the OpenAPI-driven fuzz tests (its 4.x Python API)
            "hypothesis>=6.0",
            "openapi-spec-validator>=0.7",  # the generated documents are valid OpenAPI 3.1
            "selenium>=4.10",  # drives headless Chromium in the console browser tests
            "tempest",  # its published compute response schemas check our bodies (read at test time)
        ],
    },
    entry_points=ENTRY_POINTS,
)
