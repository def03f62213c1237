"""A server's metadata, tags, addresses and PUT /servers/{id}, through the
HTTP API and against tempest's schemas."""
import pytest

from compute_core.testing import wait_for_server
from tests import tempest_schemas

OTHER = "someone:elsewhere"


@pytest.fixture
def server(api, image_id, compute_cloud):
    resp = api("POST", "/servers", body={"server": {
        "name": "details", "imageRef": image_id, "flavorRef": "1",
        "metadata": {"a": "1"}}})
    sid = resp.json()["server"]["id"]
    wait_for_server(compute_cloud, sid)
    yield sid
    api("DELETE", f"/servers/{sid}")


def test_metadata(api, server):
    base = f"/servers/{server}/metadata"
    body = tempest_schemas.check(api("GET", base), "servers", "list_server_metadata")
    assert body == {"metadata": {"a": "1"}}
    body = tempest_schemas.check(api("POST", base, body={"metadata": {"b": "2"}}),
                                 "servers", "update_server_metadata")
    assert body == {"metadata": {"a": "1", "b": "2"}}
    body = tempest_schemas.check(api("PUT", base, body={"metadata": {"c": "3"}}),
                                 "servers", "set_server_metadata")
    assert body == {"metadata": {"c": "3"}}
    body = tempest_schemas.check(api("PUT", f"{base}/d", body={"meta": {"d": "4"}}),
                                 "servers", "set_show_server_metadata_item")
    assert body == {"meta": {"d": "4"}}
    assert tempest_schemas.check(api("GET", f"{base}/d"), "servers",
                                 "set_show_server_metadata_item") == {"meta": {"d": "4"}}
    tempest_schemas.check(api("DELETE", f"{base}/d"), "servers", "delete_server_metadata_item")
    assert api("GET", f"/servers/{server}").json()["server"]["metadata"] == {"c": "3"}
    for method, path, body, code in [
            ("GET", f"{base}/d", None, 404), ("DELETE", f"{base}/d", None, 404),
            ("PUT", f"{base}/e", {"meta": {"f": "1"}}, 400),
            ("PUT", f"{base}/e", {"meta": {"e": "1", "f": "2"}}, 400),
            ("POST", base, {"metadata": {"k": "v" * 256}}, 400),
            ("POST", base, {"meta": {}}, 400),
            ("GET", "/servers/00000000-0000-0000-0000-000000000000/metadata", None, 404)]:
        resp = api(method, path, body=body)
        assert resp.status_code == code, (method, path, body, resp.text)
    assert api("GET", base, token=OTHER).status_code == 404


def test_metadata_quota(compute_cloud, api, server):
    compute_cloud.conf.set_override("metadata_items", 2, group="quota")
    try:
        resp = api("POST", f"/servers/{server}/metadata",
                   body={"metadata": {"x": "1", "y": "2"}})
        assert resp.status_code == 403 and "metadata_items" in resp.text
        assert api("GET", f"/servers/{server}/metadata").json()["metadata"] == {"a": "1"}
    finally:
        compute_cloud.conf.clear_override("metadata_items", group="quota")


def test_metadata_writes_wait_for_a_writable_state(compute_cloud, api, image_id):
    resp = api("POST", "/servers", body={"server": {"name": "m", "imageRef": image_id,
                                                    "flavorRef": "1"}})
    sid = resp.json()["server"]["id"]
    wait_for_server(compute_cloud, sid)
    api("POST", f"/servers/{sid}/action", body={"os-stop": None})
    wait_for_server(compute_cloud, sid, ("SHUTOFF",))
    assert api("POST", f"/servers/{sid}/metadata",
               body={"metadata": {"s": "1"}}).status_code == 200
    api("POST", f"/servers/{sid}/action", body={"pause": None})  # refused: stopped
    api("DELETE", f"/servers/{sid}")


def test_tags(api, server):
    base = f"/servers/{server}/tags"
    assert api("GET", base, version="2.25").status_code == 404
    assert api("GET", base, version="2.26").json() == {"tags": []}
    resp = api("PUT", f"{base}/blue", version="2.26")
    assert resp.status_code == 201 and resp.headers["Location"].endswith(f"{base}/blue")
    assert api("PUT", f"{base}/blue", version="2.26").status_code == 204
    assert api("GET", f"{base}/blue", version="2.26").status_code == 204
    assert api("GET", f"{base}/red", version="2.26").status_code == 404
    assert api("PUT", base, body={"tags": ["red", "green"]},
               version="2.26").json() == {"tags": ["red", "green"]}
    shown = api("GET", f"/servers/{server}", version="2.26").json()["server"]
    assert shown["tags"] == ["red", "green"]
    listed = api("GET", "/servers?tags=red,green", version="2.26").json()["servers"]
    assert server in [s["id"] for s in listed]
    for query, expected in (("tags=red,blue", False), ("tags-any=blue,red", True),
                            ("not-tags=red,green", False), ("not-tags=red,blue", True),
                            ("not-tags-any=blue,green", False), ("not-tags-any=blue", True)):
        ids = [s["id"] for s in api("GET", f"/servers?{query}", version="2.26").json()["servers"]]
        assert (server in ids) is expected, query
    assert api("DELETE", f"{base}/red", version="2.26").status_code == 204
    assert api("DELETE", f"{base}/red", version="2.26").status_code == 404
    assert api("DELETE", base, version="2.26").status_code == 204
    assert api("GET", base, version="2.26").json() == {"tags": []}
    for method, path, body in [("PUT", f"{base}/a,b", None), ("PUT", f"{base}/{'x' * 61}", None),
                               ("PUT", base, {"tags": ["a/b"]}),
                               ("PUT", base, {"tags": [str(i) for i in range(51)]}),
                               ("PUT", base, {"tag": []})]:
        resp = api(method, path, body=body, version="2.26")
        assert resp.status_code == 400, (path, body, resp.text)
    api("PUT", base, body={"tags": [str(i) for i in range(50)]}, version="2.26")
    resp = api("PUT", f"{base}/one-more", version="2.26")
    assert resp.status_code == 400 and "exceeded" in resp.text
    assert api("PUT", f"{base}/x", version="2.26", token=OTHER).status_code == 404


def test_addresses(api, server):
    body = tempest_schemas.check(api("GET", f"/servers/{server}/ips"), "servers",
                                 "list_addresses")
    (label,) = body["addresses"]
    by_net = tempest_schemas.check(api("GET", f"/servers/{server}/ips/{label}"), "servers",
                                   "list_addresses_by_network")
    assert by_net == {label: body["addresses"][label]}
    assert api("GET", f"/servers/{server}/ips/nonet").status_code == 404


@pytest.mark.parametrize("version", ["2.1", "2.19", "2.71", "2.90"])
def test_update_server(api, server, version):
    body = {"name": f"renamed-{version}", "accessIPv4": "192.0.2.7",
            "accessIPv6": "2001:DB8:0:0:0:0:0:1"}
    if version != "2.1":
        body["description"] = "a server"
    if version == "2.90":
        body["hostname"] = "host-name"
    resp = api("PUT", f"/servers/{server}", body={"server": body}, version=version)
    out = tempest_schemas.check(resp, "servers", "update_server", version)["server"]
    assert out["name"] == f"renamed-{version}"
    assert out["accessIPv6"] == "2001:db8::1"  # canonical form (RFC 5952)
    shown = api("GET", f"/servers/{server}", version=version).json()["server"]
    assert shown["accessIPv4"] == "192.0.2.7" and shown["name"] == out["name"]
    if version == "2.90":
        assert shown["OS-EXT-SRV-ATTR:hostname"] == "host-name"


def test_update_refusals(api, server):
    for version, body in [("2.1", {"server": {"description": "x"}}),
                          ("2.89", {"server": {"hostname": "x"}}),
                          ("2.1", {"server": {"accessIPv4": "not-ip"}}),
                          ("2.1", {"server": {"name": ""}}),
                          ("2.1", {"server": {"id": "x"}}), ("2.1", {})]:
        resp = api("PUT", f"/servers/{server}", body={**body}, version=version)
        assert resp.status_code == 400, (version, body, resp.text)
    assert api("PUT", f"/servers/{server}", body={"server": {"name": "x"}},
               token=OTHER).status_code == 404
