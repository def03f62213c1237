"""/os-keypairs through the HTTP API, checked against tempest's schemas."""
import pytest

from compute_core import keypairs
from compute_core.testing import wait_for_server
from tests import tempest_schemas

USER2 = "other:demo"  # noauth2 token "user:project"


@pytest.fixture
def cleanup(api):
    made = []
    yield made
    for name, token in made:
        api("DELETE", f"/os-keypairs/{name}", token=token)


def test_generate_list_show_delete_at_each_boundary(api, cleanup):
    for version, created, deleted in (("2.1", 200, 202), ("2.2", 201, 204),
                                      ("2.10", 201, 204), ("2.35", 201, 204)):
        name = f"gen-{version.replace('.', '-')}"
        resp = api("POST", "/os-keypairs", body={"keypair": {"name": name}}, version=version)
        assert resp.status_code == created, resp.text
        tempest_schemas.check(resp, "keypairs", "create_keypair", version)
        kp = resp.json()["keypair"]
        assert kp["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
        assert keypairs.fingerprint(kp["public_key"]) == kp["fingerprint"]
        assert ("type" in kp) == (version != "2.1")
        listed = tempest_schemas.check(api("GET", "/os-keypairs", version=version),
                                       "keypairs", "list_keypairs", version)
        assert name in [k["keypair"]["name"] for k in listed["keypairs"]]
        shown = tempest_schemas.check(api("GET", f"/os-keypairs/{name}", version=version),
                                      "keypairs", "get_keypair", version)["keypair"]
        assert shown["public_key"] == kp["public_key"] and "private_key" not in shown
        resp = api("DELETE", f"/os-keypairs/{name}", version=version)
        assert resp.status_code == deleted
        tempest_schemas.check(resp, "keypairs", "delete_keypair", version)
        assert api("GET", f"/os-keypairs/{name}").status_code == 404


def test_import_types_and_refusals(api, cleanup):
    _, public, fingerprint = keypairs.generate("x", "y")
    resp = api("POST", "/os-keypairs", version="2.92",
               body={"keypair": {"name": "imp.1@x", "public_key": public}})
    assert resp.status_code == 201 and resp.json()["keypair"]["fingerprint"] == fingerprint
    assert "private_key" not in resp.json()["keypair"]
    cleanup.append(("imp.1@x", None))
    # from 2.92 a key must be given; the name may hold '@' and '.'
    resp = api("POST", "/os-keypairs", body={"keypair": {"name": "nokey"}}, version="2.92")
    assert resp.status_code == 400 and "public_key" in resp.json()["badRequest"]["message"]
    resp = api("POST", "/os-keypairs", body={"keypair": {"name": "a@b"}}, version="2.91")
    assert resp.status_code == 400 and "name" in resp.json()["badRequest"]["message"]
    resp = api("POST", "/os-keypairs", version="2.92",
               body={"keypair": {"name": "imp.1@x", "public_key": public}})
    assert resp.status_code == 409
    resp = api("POST", "/os-keypairs", body={"keypair": {"name": "bad", "public_key": "ssh-rsa xx"}})
    assert resp.status_code == 400 and "Keypair data is invalid" in resp.text
    resp = api("POST", "/os-keypairs", version="2.2",
               body={"keypair": {"name": "t", "type": "rsa"}})
    assert resp.status_code == 400 and "type" in resp.json()["badRequest"]["message"]
    resp = api("POST", "/os-keypairs", body={"keypair": {"name": "t", "type": "x509"}})
    assert resp.status_code == 400  # no type at 2.1
    assert api("POST", "/os-keypairs", body={"kp": {}}).status_code == 400


def test_users_see_their_own_and_admins_name_others(api, cleanup):
    resp = api("POST", "/os-keypairs", body={"keypair": {"name": "mine"}}, token=USER2,
               version="2.10")
    assert resp.status_code == 201 and resp.json()["keypair"]["user_id"] == "other"
    cleanup.append(("mine", USER2))
    assert api("GET", "/os-keypairs/mine").status_code == 404  # the admin's own pairs
    assert api("GET", "/os-keypairs/mine?user_id=other", version="2.10").status_code == 200
    assert api("GET", "/os-keypairs?user_id=admin", token=USER2,
               version="2.10").status_code == 403
    resp = api("POST", "/os-keypairs", token=USER2, version="2.10",
               body={"keypair": {"name": "x", "user_id": "admin"}})
    assert resp.status_code == 403
    listed = api("GET", "/os-keypairs?user_id=other", version="2.10").json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["mine"]


def test_pages_from_2_35(api, cleanup):
    for name in ("p3", "p1", "p2"):
        assert api("POST", "/os-keypairs", body={"keypair": {"name": name}},
                   token="pager:demo").status_code == 200
        cleanup.append((name, "pager:demo"))
    # (tempest's list schema has no keypairs_links: the last page is checked with it)
    body = api("GET", "/os-keypairs?limit=2", token="pager:demo", version="2.35").json()
    assert [k["keypair"]["name"] for k in body["keypairs"]] == ["p1", "p2"]
    assert "marker=p2" in body["keypairs_links"][0]["href"]
    resp = api("GET", "/os-keypairs?limit=2&marker=p2", token="pager:demo", version="2.35")
    body = tempest_schemas.check(resp, "keypairs", "list_keypairs", "2.35")
    assert [k["keypair"]["name"] for k in body["keypairs"]] == ["p3"]
    assert api("GET", "/os-keypairs?marker=zz", token="pager:demo",
               version="2.35").status_code == 400
    assert api("GET", "/os-keypairs?limit=-1", token="pager:demo",
               version="2.35").status_code == 400
    assert api("GET", "/os-keypairs?foo=1", token="pager:demo",
               version="2.75").status_code == 400
    # before 2.35 the parameters are ignored
    assert len(api("GET", "/os-keypairs?limit=1", token="pager:demo",
                   version="2.34").json()["keypairs"]) == 3


def test_key_pair_quota(compute_cloud, api, cleanup):
    compute_cloud.conf.set_override("key_pairs", 1, group="quota")
    try:
        assert api("POST", "/os-keypairs", body={"keypair": {"name": "q1"}},
                   token="quota:demo").status_code == 200
        cleanup.append(("q1", "quota:demo"))
        resp = api("POST", "/os-keypairs", body={"keypair": {"name": "q2"}}, token="quota:demo")
        assert resp.status_code == 403 and "too many key pairs" in resp.text
    finally:
        compute_cloud.conf.clear_override("key_pairs", group="quota")


def test_a_server_booted_with_a_key_pair(compute_cloud, api, image_id, cleanup):
    assert api("POST", "/os-keypairs", body={"keypair": {"name": "boot"}}).status_code == 200
    cleanup.append(("boot", None))
    resp = api("POST", "/servers", body={"server": {"name": "k", "imageRef": image_id,
                                                    "flavorRef": "1", "key_name": "boot"}})
    assert resp.status_code == 202
    sid = resp.json()["server"]["id"]
    server = wait_for_server(compute_cloud, sid)
    assert server["key_name"] == "boot"
    api("DELETE", f"/servers/{sid}")
    resp = api("POST", "/servers", body={"server": {"name": "k", "imageRef": image_id,
                                                    "flavorRef": "1", "key_name": "nope"}})
    assert resp.status_code == 400
