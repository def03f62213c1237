"""The request-input checks every WSGI app shares (compute_core.wsgi)."""
import json

import pytest
import webob

from compute_core import wsgi


def _id(value):
    # gabbi's pytest hook takes any test id with a ':' for one of its own.
    return repr(value).replace(":", "=")


def parse(body: bytes):
    return wsgi.json_body(webob.Request.blank("/", method="POST", body=body))


@pytest.mark.parametrize("body, field", [
    (b'{"a": NaN}', "a"),
    (b'{"a": {"b": [1, Infinity]}}', "a/b/1"),
    (b'[-Infinity]', "0"),
    (b'{"x": 1e400}', "x"),
    (b'{"x": -1e999}', "x"),
], ids=_id)
def test_non_finite_numbers_are_refused_naming_the_field(body, field):
    with pytest.raises(wsgi.BadJSON) as err:
        parse(body)
    assert err.value.field == field and "not a JSON number" in err.value.reason


def test_finite_numbers_and_big_integers_pass():
    assert parse(b'{"a": 1e308, "b": -0.5, "c": 99999999999999999999}') == \
        {"a": 1e308, "b": -0.5, "c": 99999999999999999999}


@pytest.mark.parametrize("body, field", [
    (b'{"name": "\\ud800"}', "name"),
    (b'{"a": ["ok", "x\\udfffy"]}', "a/1"),
    (b'{"\\ud800": 1}', "\ud800"),  # a member name
], ids=_id)
def test_lone_surrogates_are_refused_naming_the_field(body, field):
    with pytest.raises(wsgi.BadJSON) as err:
        parse(body)
    assert err.value.field == field and "surrogate" in err.value.reason


def test_a_surrogate_pair_is_a_character():
    assert parse(b'{"e": "\\ud83d\\ude00"}') == {"e": "\U0001F600"}


@pytest.mark.parametrize("depth", [wsgi.MAX_JSON_DEPTH + 1, 900, 100_000])
def test_nesting_is_bounded(depth):
    body = b"[" * depth + b"]" * depth
    with pytest.raises(wsgi.BadJSON) as err:
        parse(body)
    assert "nested deeper than" in err.value.reason


def test_nesting_up_to_the_bound_passes():
    depth = wsgi.MAX_JSON_DEPTH
    assert parse(b"[" * depth + b"]" * depth) is not None


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe{}", b"{'a': 1}"], ids=_id)
def test_malformed_bodies_are_bad_json(body):
    with pytest.raises(wsgi.BadJSON):
        parse(body)


@pytest.mark.parametrize("path, query, part", [
    ("/servers/\xff\xfe", "", "path"),            # PEP 3333: one latin-1 char per byte
    ("/servers/\xc0\xaf", "", "path"),            # overlong encoding of '/'
    ("/servers", "name=%ff", "query string"),
    ("/servers", "name=%ED%A0%80", "query string"),  # an encoded surrogate
    ("/servers", "a=%e2%82&b=1", "query string"),    # truncated sequence
    ("/servers/caf\xc3\xa9", "name=caf%C3%A9+x&k", None),
    ("/", "", None),
])
def test_undecodable_url_part(path, query, part):
    assert wsgi.undecodable_url_part({"PATH_INFO": path, "QUERY_STRING": query}) == part


def test_url_guard_answers_with_the_apps_rejection():
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b"reached"]

    def reject(environ, message):
        return webob.Response(status=400, json_body={"why": message})

    guard = wsgi.UrlDecodeGuard(app, reject)
    bad = webob.Request.blank("/")
    bad.environ["PATH_INFO"] = "/x/\xff"
    resp = bad.get_response(guard)
    assert resp.status_int == 400 and "path" in json.loads(resp.body)["why"]
    assert webob.Request.blank("/x/y?z=1").get_response(guard).body == b"reached"


def test_last_resort_faults_answer_in_the_apps_format():
    def broken(environ, start_response):
        raise RuntimeError("a bug")

    wrapped = wsgi.LastResortFaults(
        broken, lambda environ: webob.Response(status=500, json_body={"mine": True}), "test")
    resp = webob.Request.blank("/").get_response(wrapped)
    assert resp.status_int == 500 and json.loads(resp.body) == {"mine": True}
