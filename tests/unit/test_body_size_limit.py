"""The sizelimit filter (oslo.middleware's RequestBodySizeLimiter) with the
API's own 413, for bodies of known length and for chunked ones."""
import io

import webob

from compute_core import conf as conf_mod
from compute_core import wsgi


def echo(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got %d" % len(body)]


def too_large(req, limit):
    return webob.Response(status=413, json_body={"tooBig": limit})


def limiter():
    conf = conf_mod.load(args=[], overrides={"oslo_middleware.max_request_body_size": 10})
    return wsgi.BodySizeLimiter(echo, conf, too_large)


def chunked(body):
    # As a server hands a chunked body: no CONTENT_LENGTH, input terminated.
    req = webob.Request.blank("/", method="POST")
    req.environ.pop("CONTENT_LENGTH", None)
    req.environ["wsgi.input"] = io.BytesIO(body)
    req.environ["wsgi.input_terminated"] = True
    return req


def test_a_body_over_the_limit_gets_the_apis_413():
    resp = webob.Request.blank("/", method="POST", body=b"x" * 11).get_response(limiter())
    assert resp.status_int == 413 and resp.json == {"tooBig": 10}


def test_a_body_at_the_limit_passes():
    resp = webob.Request.blank("/", method="POST", body=b"x" * 10).get_response(limiter())
    assert resp.status_int == 200 and resp.body == b"got 10"


def test_a_chunked_body_over_the_limit_gets_the_apis_413():
    resp = chunked(b"x" * 11).get_response(limiter())
    assert resp.status_int == 413 and resp.json == {"tooBig": 10}


def test_a_chunked_body_within_the_limit_reaches_the_app_whole():
    resp = chunked(b"x" * 7).get_response(limiter())
    assert resp.status_int == 200 and resp.body == b"got 7"


def test_a_request_without_a_body_passes():
    resp = webob.Request.blank("/").get_response(limiter())
    assert resp.status_int == 200 and resp.body == b"got 0"
