"""The OpenAPI documents: current in etc/, valid, and made of the schemas the
handlers validate with."""
import os

import pytest
from openapi_spec_validator import validate

from compute_core import openapi
from compute_core.api import routes as compute_routes
from compute_core.api.resources import server_actions, servers
from compute_core.api.microversion import APIVersion
from compute_core.placement import app as placement_app
from compute_core.placement.schemas import resource_provider as provider_schemas


@pytest.mark.parametrize("api", sorted(openapi.ETC_FILES))
def test_etc_documents_are_current(api):
    path = os.path.join(openapi.etc_dir(), openapi.ETC_FILES[api])
    with open(path, "rb") as f:
        on_disk = f.read()
    assert on_disk == openapi.render(openapi.document(api)), (
        f"{path} is stale: run 'python -m compute_core.openapi'")


def test_command_writes_one_version(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert openapi.main(["--api", "compute", "--version", "2.47", "--output", str(out)]) == 0
    assert out.read_bytes() == openapi.render(openapi.document("compute", "2.47"))
    with pytest.raises(SystemExit):
        openapi.main(["--api", "placement", "--version", "1.99"])


@pytest.mark.parametrize("api,version", [
    ("compute", "2.1"), ("compute", "2.47"), ("compute", "2.79"), ("compute", None),
    ("placement", "1.0"), ("placement", "1.20"), ("placement", "1.39")])
def test_documents_are_valid_openapi_31(api, version):
    doc = openapi.document(api, version)
    validate(doc)
    assert doc["openapi"] == "3.1.0"


@pytest.mark.parametrize("routes", [compute_routes.ROUTE_DECLARATIONS,
                                    placement_app.ROUTE_DECLARATIONS])
def test_every_route_is_documented(routes):
    ids = [h.openapi.op_id for methods in routes.values() for entry in methods.values()
           for h in getattr(entry, "handlers", (entry,))]
    assert len(ids) == len(set(ids))


def _op(doc, path, method):
    return doc["paths"][path][method]


def _body(doc, path, method):
    return _op(doc, path, method)["requestBody"]["content"]["application/json"]["schema"]


def test_server_create_body_is_the_handlers_schema_per_version():
    for version in ("2.1", "2.19", "2.37", "2.57", "2.90", "2.100"):
        doc = openapi.document("compute", version)
        assert _body(doc, "/servers", "post") == servers.CREATE.at(APIVersion(version))
    old, new = (openapi.document("compute", v) for v in ("2.18", "2.19"))
    assert "description" not in _body(old, "/servers", "post")["properties"]["server"][
        "properties"]
    assert "description" in _body(new, "/servers", "post")["properties"]["server"]["properties"]
    assert "networks" in _body(openapi.document("compute", "2.37"), "/servers", "post")[
        "properties"]["server"]["required"]
    assert "personality" not in _body(openapi.document("compute", "2.57"), "/servers",
                                      "post")["properties"]["server"]["properties"]


def test_action_body_lists_every_action():
    doc = openapi.document("compute", "2.56")
    names = [next(iter(s["properties"])) for s in
             _body(doc, "/servers/{server_id}/action", "post")["oneOf"]]
    assert {"os-stop", "reboot", "resize", "migrate", "confirmResize"} <= set(names)
    migrate = server_actions.action_schema("migrate", APIVersion("2.56"))
    assert migrate["properties"]["migrate"]["properties"]["host"]
    assert server_actions.action_schema("migrate", APIVersion("2.55"))["properties"][
        "migrate"] == {}


def test_microversion_ranges():
    assert "/images" in openapi.document("compute", "2.35")["paths"]
    assert "/images" not in openapi.document("compute", "2.36")["paths"]
    images = _op(openapi.document("compute", "2.1"), "/images", "get")
    assert images["x-openstack-microversion"] == {"min": "2.1", "max": "2.35"}
    early = openapi.document("placement", "1.4")["paths"]
    assert "delete" not in early["/resource_providers/{uuid}/inventories"]
    assert "/traits" not in early
    late = openapi.document("placement", "1.39")
    assert _op(late, "/traits", "get")["x-openstack-microversion"]["min"] == "1.6"
    header = next(p for p in _op(late, "/traits", "get")["parameters"]
                  if p["name"] == "OpenStack-API-Version")
    assert header["schema"]["enum"] == ["placement 1.39"] and not header["required"]


def test_placement_create_provider_answer_changes_at_1_20():
    old = _op(openapi.document("placement", "1.19"), "/resource_providers", "post")
    new = _op(openapi.document("placement", "1.20"), "/resource_providers", "post")
    assert "201" in old["responses"] and "links" not in old["responses"]["201"]
    assert new["responses"]["200"]["links"]["GetProvider"]["operationId"] == \
        "showResourceProvider"
    assert _body(openapi.document("placement", "1.14"), "/resource_providers", "post") == \
        provider_schemas.provider_schema((1, 14))


def test_fault_shapes():
    compute = openapi.document("compute")
    fault = compute["components"]["responses"]["Fault404"]["content"]["application/json"]
    assert fault["schema"]["required"] == ["itemNotFound"]
    place = openapi.document("placement", "1.22")["components"]["responses"]["Fault409"]
    error = place["content"]["application/json"]["schema"]["properties"]["errors"]["items"]
    assert "code" not in error["required"]
    place = openapi.document("placement", "1.23")["components"]["responses"]["Fault409"]
    error = place["content"]["application/json"]["schema"]["properties"]["errors"]["items"]
    assert "code" in error["required"]


def test_unknown_versions_are_refused():
    with pytest.raises(LookupError):
        openapi.document("compute", "2.105")
    with pytest.raises(ValueError):
        openapi.document("placement", "one.two")


def _query_names(doc, path):
    return {p["name"] for p in _op(doc, path, "get")["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize("path,version,names", [
    # a parameter appears at the version the handler starts reading it
    ("/os-migrations", "2.58", {"hidden", "host", "instance_uuid", "source_compute", "status",
                                "migration_type"}),
    ("/os-migrations", "2.59", {"hidden", "host", "instance_uuid", "source_compute", "status",
                                "migration_type", "limit", "marker", "changes-since"}),
    ("/os-migrations", "2.79", {"hidden", "host", "instance_uuid", "source_compute", "status",
                                "migration_type", "limit", "marker", "changes-since",
                                "changes-before"}),
    ("/os-hypervisors", "2.32", set()),
    ("/os-hypervisors/detail", "2.33", {"limit", "marker"}),
    ("/os-hypervisors", "2.53", {"limit", "marker", "hypervisor_hostname_pattern",
                                 "with_servers"}),
    ("/os-simple-tenant-usage", "2.39", {"start", "end", "detailed"}),
    ("/os-simple-tenant-usage/{tenant_id}", "2.40", {"start", "end", "detailed", "limit",
                                                      "marker"}),
])
def test_query_parameters_declared_by_version(path, version, names):
    assert _query_names(openapi.document("compute", version), path) == names
