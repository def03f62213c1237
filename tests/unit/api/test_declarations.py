"""The declarations resource modules make: @versioned handlers (404 outside
their range, several per route and method), VersionRange, ByVersion,
VersionedSchemas, ViewFields, and the route list that joins the modules."""
import json
import pathlib
import re
import types

import pytest
import webob

from compute_core import context, wsgi
from compute_core.api import app, microversion, routes, views
from compute_core.api.microversion import (APIVersion, ByVersion, SchemaField,
                                           VersionedSchemas, VersionRange, versioned)

V = APIVersion


def test_version_range():
    since = VersionRange("2.53")
    assert V("2.53") in since and V("2.100") in since and V("2.52") not in since
    until = VersionRange(None, "2.35")
    assert V("2.1") in until and V("2.35") in until and V("2.36") not in until
    assert "2.40" in VersionRange("2.40", "2.40")


def test_by_version_picks_the_range_holding_the_version():
    choice = ByVersion(("2.1", "2.46", "link"), ("2.47", None, "embedded"))
    assert choice.at(V("2.46")) == "link" and choice(V("2.47")) == "embedded"
    assert ByVersion(("2.5", None, 1)).at(V("2.4")) is None


def test_versioned_schemas_of_fields():
    base = {"type": "object", "properties": {"thing": {
        "type": "object", "properties": {"name": {}}, "required": ["name"]}}}
    schemas = VersionedSchemas.of_fields(base, "thing", (
        SchemaField("old", {"type": "string"}, until="2.9"),
        SchemaField("new", {"type": "integer"}, since="2.10", required=True),
        SchemaField("late", {}, since="2.50")))
    ranges = [(str(r.low), str(r.high) if r.high else None) for r, _ in schemas.entries]
    assert ranges == [("2.1", "2.9"), ("2.10", "2.49"), ("2.50", None)]

    def props(version):
        return schemas.at(V(version))["properties"]["thing"]

    assert set(props("2.9")["properties"]) == {"name", "old"}
    assert props("2.9")["required"] == ["name"]
    assert set(props("2.10")["properties"]) == {"name", "new"}
    assert props("2.10")["required"] == ["name", "new"]
    assert set(props("2.100")["properties"]) == {"name", "new", "late"}
    assert "old" not in base["properties"]["thing"]["properties"]  # the base is left alone


def test_view_fields_by_version():
    fields = views.ViewFields(
        ("id", None, "2.52", lambda x: x["id"]),
        ("id", "2.53", None, lambda x: x["uuid"]),
        ("extra", "2.61", None, lambda x: "yes"))
    item = {"id": 7, "uuid": "u"}
    assert fields.add({}, V("2.52"), item) == {"id": 7}
    assert fields.add({}, V("2.53"), item) == {"id": "u"}
    assert fields.add({}, V("2.61"), item) == {"id": "u", "extra": "yes"}


@versioned("2.1", "2.4")
def _old(call):
    return 200, {"which": "old"}


@versioned("2.5", "2.9", outside="Gone after 2.9.")
def _new(call):
    return 200, {"which": "new"}


@versioned(None, "2.9")
def _lone(call):
    return 200, {"which": "lone"}


def _unversioned(call):
    return 200, {"which": "any"}


def _module(name, routes_):
    return types.SimpleNamespace(__name__=name, ROUTES=routes_, RULES=())


def _get(table, path, version):
    application = app.ComputeApp(table)
    req = webob.Request.blank("/v2.1" + path, base_url="http://x/v2.1")
    req.script_name, req.path_info = "/v2.1", path
    req.headers["OpenStack-API-Version"] = f"compute {version}"
    req.environ[wsgi.CONTEXT_KEY] = context.RequestContext(user_id="u", project_id="p")
    req.environ[wsgi.SERVICES_KEY] = types.SimpleNamespace(
        conf=types.SimpleNamespace(default_availability_zone="nova"))
    resp = req.get_response(application)
    return resp.status_int, json.loads(resp.body)


def test_handlers_chosen_by_version_and_404_outside():
    table = routes.route_declarations([
        _module("a", {"/thing": {"GET": (_old, _new)}, "/lone": {"GET": _lone},
                      "/any": {"GET": _unversioned}})])
    assert _get(table, "/thing", "2.3") == (200, {"which": "old"})
    assert _get(table, "/thing", "2.5") == (200, {"which": "new"})
    status, body = _get(table, "/thing", "2.10")
    assert status == 404 and body["itemNotFound"]["message"] == "Gone after 2.9."
    assert _get(table, "/lone", "2.9")[0] == 200
    status, body = _get(table, "/lone", "2.10")
    assert status == 404 and body["itemNotFound"]["message"] == \
        "The resource could not be found."
    assert _get(table, "/any", "2.100")[0] == 200


def test_a_method_shared_by_handlers_needs_their_ranges():
    with pytest.raises(TypeError):
        routes.route_declarations([_module("a", {"/thing": {"GET": (_old, _unversioned)}})])


def test_a_route_declared_twice_is_an_error():
    with pytest.raises(ValueError, match="GET /thing is declared twice"):
        routes.route_declarations([_module("a", {"/thing": {"GET": _old}}),
                                   _module("b", {"/thing": {"GET": _new}})])


def test_every_resource_module_declares_routes_and_rules():
    for module in routes.RESOURCES:
        assert isinstance(module.ROUTES, dict) and module.ROUTES, module.__name__
        assert isinstance(module.RULES, tuple), module.__name__
    assert routes.ROUTE_DECLARATIONS["/servers"]["POST"].__module__ == \
        "compute_core.api.resources.servers"


API = pathlib.Path(microversion.__file__).parent
# A version compared inline: what the declarations replace
_INLINE = re.compile(r"at_least\(|version\s*(>=|<=|>|<|==)\s|\.(major|minor)\b")


def test_no_inline_version_comparisons_in_handlers_or_views():
    found = [f"{path.name}:{n}: {line.strip()}"
             for path in [*sorted((API / "resources").glob("*.py")), API / "views.py",
                          API / "app.py"]
             for n, line in enumerate(path.read_text().splitlines(), 1)
             if _INLINE.search(line)]
    assert found == []


README = pathlib.Path(__file__).resolve().parents[3] / "README.md"


def test_readme_example_is_the_real_module():
    text = README.read_text()
    section = text.split("## Adding an API resource", 1)[1].split("\n## ", 1)[0]
    example = section.split("```python\n", 1)[1].split("```", 1)[0].splitlines()
    path = example[0].removeprefix("# ").split(" ")[0]
    source = (README.parent / path).read_text()
    source_lines = {line.rstrip() for line in source.splitlines()}
    missing = [line for line in example[1:] if line.strip() and line not in source_lines]
    assert missing == [], f"lines of the README's example not in {path}"
    module = path.removesuffix(".py").replace("/", ".")
    assert module in {m.__name__ for m in routes.RESOURCES}
    assert "    services,\n" in (README.parent / "compute_core/api/routes.py").read_text()
