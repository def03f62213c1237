"""The Compute API's responses against the response schemas tempest
publishes, at each microversion boundary where a schema changes.

New resources add their checks here (or beside their own tests) with
``tests.tempest_schemas.check``.
"""
import pytest

from compute_core.testing import api_request, wait_for_server
from tests import tempest_schemas

SERVER_VERSIONS = ["2.1", "2.3", "2.9", "2.16", "2.19", "2.26", "2.47", "2.63", "2.71",
                   "2.73", "2.75", "2.96", "2.98", "2.100"]


@pytest.fixture(scope="module")
def server(image_id, compute_cloud):
    def api(method, path, **kw):
        return api_request(compute_cloud, method, path, **kw)

    resp = api("POST", "/servers", body={"server": {
        "name": "schema-check", "imageRef": image_id, "flavorRef": "1",
        "networks": "auto", "metadata": {"k": "v"}}}, version="2.37")
    tempest_schemas.check(resp, "servers", "create_server_with_admin_pass", "2.37")
    sid = resp.json()["server"]["id"]
    wait_for_server(compute_cloud, sid)
    yield sid
    resp = api("DELETE", f"/servers/{sid}")
    tempest_schemas.check(resp, "servers", "delete_server", "2.1")


@pytest.mark.parametrize("version", SERVER_VERSIONS)
def test_server_bodies(api, server, version):
    tempest_schemas.check(api("GET", f"/servers/{server}", version=version),
                          "servers", "get_server", version)
    tempest_schemas.check(api("GET", "/servers", version=version),
                          "servers", "list_servers", version)
    tempest_schemas.check(api("GET", "/servers/detail", version=version),
                          "servers", "list_servers_detail", version)


@pytest.mark.parametrize("version", ["2.1", "2.55", "2.61", "2.75"])
def test_flavor_bodies(api, version):
    tempest_schemas.check(api("GET", "/flavors", version=version),
                          "flavors", "list_flavors", version)
    tempest_schemas.check(api("GET", "/flavors/detail", version=version),
                          "flavors", "list_flavors_details", version)
    tempest_schemas.check(api("GET", "/flavors/1", version=version),
                          "flavors", "create_update_get_flavor_details", version)


@pytest.mark.parametrize("version", ["2.1", "2.11", "2.53"])
def test_service_bodies(api, version):
    tempest_schemas.check(api("GET", "/os-services", version=version),
                          "services", "list_services", version)


# (tempest's hypervisor schemas stop at the 2.53 shape: 2.88's is not covered)
@pytest.mark.parametrize("version", ["2.1", "2.33", "2.53"])
def test_hypervisor_bodies(api, version):
    tempest_schemas.check(api("GET", "/os-hypervisors", version=version),
                          "hypervisor", "list_search_hypervisors", version)
    detail = tempest_schemas.check(api("GET", "/os-hypervisors/detail", version=version),
                                   "hypervisor", "list_hypervisors_detail", version)
    hid = detail["hypervisors"][0]["id"]
    tempest_schemas.check(api("GET", f"/os-hypervisors/{hid}", version=version),
                          "hypervisor", "get_hypervisor", version)


def test_limits_and_images(api, image_id):
    tempest_schemas.check(api("GET", "/limits"), "limits", "get_limit")
    tempest_schemas.check(api("GET", "/images"), "images", "list_images")
    tempest_schemas.check(api("GET", "/images/detail"), "images", "list_images_details")
    tempest_schemas.check(api("GET", f"/images/{image_id}"), "images", "get_image")


def test_version_document(api):
    tempest_schemas.check(api("GET", ""), "versions", "get_one_version")
