"""The request log: one line per API request from outside (method, path
and query, status, duration, request id, and the caller's user and project
once authenticated); requests one embedded service makes to another inside
the process only at DEBUG."""
import logging
import re

import webob

from compute_core import context as ctx_mod
from compute_core import wsgi


def _app(environ, start_response):
    status = "404 Not Found" if environ["PATH_INFO"] == "/missing" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


def _records(caplog):
    return [r for r in caplog.records if r.name == "compute_core.requests"]


def test_one_info_line_per_request(caplog):
    app = wsgi.RequestIdMiddleware(_app)
    caplog.set_level(logging.INFO, logger="compute_core.requests")
    resp = webob.Request.blank("/v2.1/servers?limit=2").get_response(app)
    webob.Request.blank("/missing", method="DELETE").get_response(app)
    first, second = _records(caplog)
    assert first.levelno == logging.INFO
    match = re.fullmatch(r"GET /v2\.1/servers\?limit=2 200 [0-9.]+ ms (req-[0-9a-f-]+)",
                         first.getMessage())
    assert match and match.group(1) == resp.headers["x-openstack-request-id"]
    assert re.fullmatch(r"DELETE /missing 404 [0-9.]+ ms req-[0-9a-f-]+", second.getMessage())


def test_in_process_requests_only_at_debug(caplog):
    app = wsgi.RequestIdMiddleware(_app)
    req = webob.Request.blank("/resource_providers")
    req.environ[wsgi.IN_PROCESS_KEY] = True
    caplog.set_level(logging.INFO, logger="compute_core.requests")
    req.get_response(app)
    assert _records(caplog) == []
    caplog.set_level(logging.DEBUG, logger="compute_core.requests")
    req.get_response(app)
    (record,) = _records(caplog)
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith("GET /resource_providers 200 ")


def test_the_authenticated_caller_is_named(caplog):
    def authenticated(environ, start_response):
        environ[wsgi.CONTEXT_KEY] = ctx_mod.RequestContext(user_id="u-1", project_id="p-2")
        return _app(environ, start_response)

    caplog.set_level(logging.INFO, logger="compute_core.requests")
    webob.Request.blank("/v2.1/flavors").get_response(wsgi.RequestIdMiddleware(authenticated))
    (record,) = _records(caplog)
    assert re.fullmatch(r"GET /v2\.1/flavors 200 [0-9.]+ ms req-[0-9a-f-]+ user u-1 project p-2",
                        record.getMessage()), record.getMessage()


def test_request_id_from_oslo_middleware():
    """oslo.middleware's RequestId makes the id: the same one in the environ,
    in x-openstack-request-id and in x-compute-request-id; a valid inbound
    X-OpenStack-Request-ID becomes the global request id, not the local one."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return _app(environ, start_response)

    inbound = "req-" + "1" * 8 + "-1111-1111-1111-" + "1" * 12
    resp = webob.Request.blank("/", headers={"X-OpenStack-Request-ID": inbound}).get_response(
        wsgi.RequestIdMiddleware(app))
    req_id = resp.headers["x-openstack-request-id"]
    assert re.fullmatch(r"req-[0-9a-f-]{36}", req_id) and req_id != inbound
    assert resp.headers["x-compute-request-id"] == req_id
    assert seen["openstack.request_id"] == req_id
    assert seen["openstack.global_request_id"] == inbound
