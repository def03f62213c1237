"""The client services use to talk to placement (scheduler, compute,
conductor, API): HTTP, or, in the embedded cloud with
``[aio] placement_in_process``, a call of placement's WSGI pipeline in the
same process (the same middleware and handlers, no socket)."""
from __future__ import annotations

import http.client
import json as jsonlib
import logging
import select
import threading
from urllib.parse import urlencode, urlsplit

import requests
import webob

from compute_core import exception, wsgi

LOG = logging.getLogger(__name__)
VERSION = "1.39"
# Requests that may be sent again when the connection dropped under them
# (a kept-alive connection the server had closed: RemoteDisconnected), and
# how many times in all one is sent.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
SEND_ATTEMPTS = 3


class PlacementAPIError(exception.ComputeCoreError):
    msg_fmt = "Placement API error: %(reason)s"


class LocalResponse:
    """What callers read of a response (as of a requests.Response), for a
    request answered by the in-process WSGI pipeline or over a direct
    http.client connection."""

    def __init__(self, status_code: int, headers, body: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.content)


class _Dropped(Exception):
    """The connection failed before an answer came: the request may be sent
    again if it is idempotent (as requests' ConnectionError)."""


def _closed_by_peer(sock) -> bool:
    """Whether a kept-alive connection, idle between requests, was closed
    by the server (readable: end of file, or bytes no one asked for)."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _Response(http.client.HTTPResponse):
    """http.client's response with its header block read without the email
    package: http.client parses every response's headers with
    email.parser (a FeedParser and a policy object per response), a tenth
    of the scheduler's CPU per request in bench/scheduler_rpc_cpu.py. The
    headers still come as an HTTPMessage (the same case-insensitive get);
    what follows them (chunked, length, will_close) is http.client's own
    reading, from the headers of the first response that is not a 100."""

    def begin(self):
        if self.headers is not None:
            return
        status, version = http.client.CONTINUE, ""
        while status == http.client.CONTINUE:
            version, status, reason = self._read_status()
            lines = self._header_lines()
        if version not in ("HTTP/1.0", "HTTP/0.9") and not version.startswith("HTTP/1."):
            raise http.client.UnknownProtocol(version)
        self.code = self.status = status
        self.reason = reason.strip()
        self.version = 11 if version.startswith("HTTP/1.") and version != "HTTP/1.0" else 10
        message = http.client.HTTPMessage()
        for line in lines:
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if not sep or name != name.strip() or not name:
                # A folded or odd header: the full parser's rules apply.
                self.fp = _Replay(b"".join(lines) + b"\r\n", self.fp)
                message = http.client.parse_headers(self.fp)
                self.fp = self.fp.rest
                break
            message.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
        self._after_headers(message)

    def _header_lines(self) -> list[bytes]:
        lines = []
        while True:
            line = self.fp.readline(http.client._MAXLINE + 1)
            if len(line) > http.client._MAXLINE:
                raise http.client.LineTooLong("header line")
            if line in (b"\r\n", b"\n", b""):
                return lines
            lines.append(line)
            if len(lines) > http.client._MAXHEADERS:
                raise http.client.HTTPException(
                    f"got more than {http.client._MAXHEADERS} headers")

    def _after_headers(self, message):
        self.headers = self.msg = message
        encoding = message.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = message.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                pass
            else:
                if self.length < 0:
                    self.length = None
        if self.status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or \
                100 <= self.status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the connection does


class _Replay:
    """Header bytes already read, then the rest of the stream (readline
    only, for http.client.parse_headers)."""

    def __init__(self, data: bytes, rest):
        self.lines = data.splitlines(keepends=True)
        self.rest = rest

    def readline(self, limit=-1):
        return self.lines.pop(0) if self.lines else self.rest.readline(limit)


class _DirectHTTP:
    """One thread's kept-alive http.client connection to a plain-HTTP
    placement endpoint that no proxy stands before. requests costs 3-4
    times http.client's own CPU per request (a quarter of the scheduler's
    CPU in bench/boot_distributed.py); HTTPS and proxied endpoints keep it."""

    def __init__(self, endpoint: str, timeout):
        parts = urlsplit(endpoint)
        self.endpoint = endpoint
        self.prefix = parts.path.rstrip("/")
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                               timeout=timeout)
        self.conn.response_class = _Response

    def send(self, method, path, body, headers) -> LocalResponse:
        conn = self.conn
        if conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()
        try:
            if conn.sock is None:
                conn.connect()
            conn.request(method, self.prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (ConnectionError, http.client.HTTPException) as exc:
            # Refused, reset, closed before the status line: nothing answered.
            conn.close()
            raise _Dropped(exc) from None
        except OSError:
            # A timeout: the request may be running still (not sent twice).
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        return LocalResponse(resp.status, resp.headers, data)

    def close(self):
        self.conn.close()


class _NoDirect:
    """Marks an endpoint that requests carries (false)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def __bool__(self):
        return False


class ClaimRefused:
    """A claim placement answered with 409: false in a test, with the
    reason. ``raced`` when it lost a race (a provider or consumer
    generation moved: "placement.concurrent_update"), which fresh allocation
    candidates may win, rather than a lack of room."""

    def __init__(self, status: int, body: str):
        self.status = status
        self.body = body
        try:
            errors = jsonlib.loads(body).get("errors") or [{}]
            self.code = errors[0].get("code")
        except (ValueError, AttributeError):
            self.code = None

    @property
    def raced(self) -> bool:
        return self.code == "placement.concurrent_update"

    def __bool__(self) -> bool:
        return False

    def __repr__(self):
        return f"ClaimRefused({self.status}, {self.code!r})"


class PlacementClient:
    def __init__(self, conf, endpoint: str | None = None, app=None):
        """*app*: placement's WSGI pipeline to call in this process instead
        of going over HTTP to the endpoint."""
        self.conf = conf
        self._endpoint = endpoint
        self._app = app
        self._local = threading.local()
        self._sessions: list = []
        self._direct: list[_DirectHTTP] = []
        self._lock = threading.Lock()
        self._ks_session = None

    @property
    def endpoint(self) -> str:
        # Read each time: the embedded cloud sets it once placement listens.
        url = self._endpoint or self.conf.placement.endpoint_override
        if not url and self.conf.placement.auth_strategy == "keystone":
            p = self.conf.placement
            url = self._endpoint = self._keystone().get_endpoint(
                service_type="placement", region_name=p.region_name,
                interface=[i.strip() for i in p.valid_interfaces.split(",") if i.strip()])
        if not url:
            raise exception.ConfigError("[placement] endpoint_override is not set")
        return url.rstrip("/")

    def _keystone(self):
        """The service user's keystoneauth1 session, from the auth plugin
        ([placement] auth_type and its options) and the session options
        ([placement] cafile, insecure, timeout ...), as Nova loads them."""
        if self._ks_session is None:
            from keystoneauth1 import exceptions as ks_exc
            from keystoneauth1 import loading as ks_loading

            try:
                auth = ks_loading.load_auth_from_conf_options(self.conf, "placement")
            except ks_exc.MissingRequiredOptions as exc:
                names = ", ".join(o.dest for o in exc.options)
                raise exception.ConfigError(
                    f"[placement] auth_strategy = keystone needs {names} in [placement] "
                    "(the service user's credentials)") from None
            if auth is None:
                raise exception.ConfigError("[placement] auth_type is not set")
            self._ks_session = ks_loading.load_session_from_conf_options(
                self.conf, "placement", auth=auth)
        return self._ks_session

    def _session(self) -> requests.Session:
        sess = getattr(self._local, "session", None)
        if sess is None:
            sess = requests.Session()
            # What the environment says for the endpoint (proxies, CA
            # bundle), read once: requests reads it again for every request
            # otherwise, a sixth of the scheduler's CPU under load.
            settings = sess.merge_environment_settings(self.endpoint, {}, None, None, None)
            sess.trust_env = False
            sess.proxies.update(settings["proxies"])
            sess.verify = settings["verify"]
            if settings["cert"] is not None:
                sess.cert = settings["cert"]
            if self.conf.placement.auth_strategy == "keystone":
                # [placement] cafile / insecure / certfile, as for Keystone.
                ks = self._keystone()
                sess.verify = ks.verify
                if ks.cert is not None:
                    sess.cert = ks.cert
            self._local.session = sess
            with self._lock:
                self._sessions.append(sess)
        return sess

    def _direct_http(self) -> _DirectHTTP | None:
        """This thread's :class:`_DirectHTTP` to the endpoint, or None when
        requests carries the requests (HTTPS, or a proxy for the endpoint
        in the environment, as the session read it)."""
        endpoint = self.endpoint
        direct = getattr(self._local, "direct", None)
        if direct is not None and direct.endpoint == endpoint:
            return direct or None
        direct = False
        proxies = self._session().proxies
        if urlsplit(endpoint).scheme == "http" and not (proxies.get("http")
                                                        or proxies.get("all")):
            direct = _DirectHTTP(endpoint, self.conf.placement.timeout)
            with self._lock:
                self._direct.append(direct)
        else:
            direct = _NoDirect(endpoint)
        self._local.direct = direct
        return direct or None

    def _token(self, fresh: bool = False) -> str:
        if self.conf.placement.auth_strategy == "noauth2":
            return self.conf.placement.noauth_token
        from keystoneauth1 import exceptions as ks_exc

        session = self._keystone()
        try:
            if fresh:
                session.invalidate()
            token = session.get_token()
        except ks_exc.ClientException as exc:
            raise PlacementAPIError(reason=f"the service user could not authenticate: "
                                           f"{type(exc).__name__}: {exc}") from None
        if not token:
            raise PlacementAPIError(reason="the identity service gave the service user "
                                           "no token")
        return token

    def request(self, method, path, json=None, params=None, version=VERSION):
        resp = self._request(method, path, json, params, version, self._token())
        if resp.status_code == 401 and self.conf.placement.auth_strategy == "keystone":
            # The token expired or was revoked under us: once with a new one.
            resp = self._request(method, path, json, params, version, self._token(fresh=True))
        return resp

    def _request(self, method, path, json, params, version, token):
        headers = {"OpenStack-API-Version": f"placement {version}",
                   "Accept": "application/json", "X-Auth-Token": token}
        if self._app is not None:
            return self._local_request(method, path, json, params, headers)
        attempts = SEND_ATTEMPTS if method.upper() in IDEMPOTENT else 1
        direct = self._direct_http()
        target, body = path, None
        if direct is not None:
            if params:
                target = f"{path}{'&' if '?' in path else '?'}{urlencode(params, doseq=True)}"
            if json is not None:
                body = jsonlib.dumps(json).encode()
                headers["Content-Type"] = "application/json"
        for attempt in range(1, attempts + 1):
            try:
                if direct is not None:
                    return direct.send(method, target, body, headers)
                return self._session().request(method, self.endpoint + path, json=json,
                                               params=params, headers=headers,
                                               timeout=self.conf.placement.timeout)
            except (_Dropped, requests.ConnectionError) as exc:
                # A read timeout is no ConnectionError: the request may be
                # running still, and is not sent twice.
                if attempt == attempts:
                    raise PlacementAPIError(reason=f"{method} {path}: {exc}") from None
                LOG.info("placement %s %s: connection lost (%s); sending it again",
                         method, path, exc)
            except requests.RequestException as exc:
                raise PlacementAPIError(reason=f"{method} {path}: {exc}") from None
            except OSError as exc:  # direct: a timeout, or a socket error after sending
                raise PlacementAPIError(reason=f"{method} {path}: {exc}") from None

    def _local_request(self, method, path, json, params, headers):
        if params:
            path = f"{path}{'&' if '?' in path else '?'}{urlencode(params)}"
        req = webob.Request.blank(path, method=method, headers=headers)
        req.environ["REMOTE_ADDR"] = "127.0.0.1"
        req.environ[wsgi.IN_PROCESS_KEY] = True  # logged at DEBUG, not in the request log
        if json is not None:
            req.body = jsonlib.dumps(json).encode()
            req.content_type = "application/json"
        try:
            resp = req.get_response(self._app)
        except Exception as exc:  # the pipeline answers faults itself; this is a bug
            LOG.exception("in-process placement request %s %s failed", method, path)
            raise PlacementAPIError(reason=f"{method} {path}: {exc}") from None
        return LocalResponse(resp.status_code, resp.headers, resp.body)

    def close(self):
        with self._lock:
            sessions, self._sessions = self._sessions, []
            direct, self._direct = self._direct, []
        for s in sessions:
            s.close()
        for d in direct:
            d.close()

    # ----------------------------------------------------- scheduler side
    def allocation_candidates(self, resources: dict, limit: int, required=None,
                              member_of=None, in_tree=None):
        params = {"resources": ",".join(f"{k}:{v}" for k, v in sorted(resources.items())),
                  "limit": str(limit)}
        if required:
            params["required"] = ",".join(required)
        if member_of:
            params["member_of"] = "in:" + ",".join(member_of)
        if in_tree:
            params["in_tree"] = in_tree
        resp = self.request("GET", "/allocation_candidates", params=params)
        if resp.status_code != 200:
            LOG.warning("allocation candidates failed: %s %s", resp.status_code, resp.text)
            return [], {}
        body = resp.json()
        return body["allocation_requests"], body["provider_summaries"]

    def claim(self, consumer_uuid, allocation_request: dict, project_id, user_id,
              consumer_generation=None, consumer_type="INSTANCE"):
        """PUT the allocations: True, or a :class:`ClaimRefused` (false) on a
        conflict (capacity or generation)."""
        body = {"allocations": allocation_request["allocations"], "project_id": project_id,
                "user_id": user_id, "consumer_generation": consumer_generation,
                "consumer_type": consumer_type}
        resp = self.request("PUT", f"/allocations/{consumer_uuid}", json=body)
        if resp.status_code == 204:
            return True
        if resp.status_code == 409:
            LOG.info("claim for %s refused: %s", consumer_uuid, resp.text)
            return ClaimRefused(resp.status_code, resp.text)
        raise PlacementAPIError(reason=f"claim failed: {resp.status_code} {resp.text}")

    def get_allocations(self, consumer_uuid) -> dict:
        resp = self.request("GET", f"/allocations/{consumer_uuid}")
        if resp.status_code != 200:
            raise PlacementAPIError(reason=f"{resp.status_code} {resp.text}")
        return resp.json()

    def move_allocations(self, source, target, project_id, user_id,
                         target_type="MIGRATION", source_type="INSTANCE") -> bool:
        """Give *target* the allocations *source* holds and leave *source*
        none, in one atomic POST /allocations (as Nova does with a move's
        migration record). False when *source* holds nothing or on a
        generation conflict."""
        held = self.get_allocations(source)
        allocations = {rp: {"resources": v["resources"]}
                       for rp, v in (held.get("allocations") or {}).items()}
        if not allocations:
            return False
        target_held = self.get_allocations(target)
        body = {
            target: {"allocations": allocations, "project_id": project_id,
                     "user_id": user_id, "consumer_type": target_type,
                     "consumer_generation": target_held.get("consumer_generation")},
            source: {"allocations": {}, "project_id": project_id, "user_id": user_id,
                     "consumer_type": source_type,
                     "consumer_generation": held.get("consumer_generation")},
        }
        resp = self.request("POST", "/allocations", json=body)
        if resp.status_code == 204:
            return True
        if resp.status_code == 409:
            LOG.info("moving allocations %s -> %s refused: %s", source, target, resp.text)
            return False
        raise PlacementAPIError(reason=f"move allocations: {resp.status_code} {resp.text}")

    def delete_allocations(self, consumer_uuid) -> bool:
        resp = self.request("DELETE", f"/allocations/{consumer_uuid}")
        if resp.status_code in (204, 404):
            return resp.status_code == 204
        raise PlacementAPIError(reason=f"delete allocations: {resp.status_code} {resp.text}")

    def _get_json(self, path):
        resp = self.request("GET", path)
        if resp.status_code != 200:
            raise PlacementAPIError(reason=f"GET {path}: {resp.status_code} {resp.text}")
        return resp.json()

    # ------------------------------------------------------- compute side
    def ensure_provider(self, uuid, name) -> dict:
        resp = self.request("GET", f"/resource_providers/{uuid}")
        if resp.status_code == 200:
            return resp.json()
        resp = self.request("POST", "/resource_providers", json={"uuid": uuid, "name": name})
        if resp.status_code == 200:
            return resp.json()
        if resp.status_code == 409:
            return self.request("GET", f"/resource_providers/{uuid}").json()
        raise PlacementAPIError(reason=f"create provider: {resp.status_code} {resp.text}")

    def set_inventory(self, uuid, inventories: dict, attempts: int = 3) -> None:
        for _ in range(attempts):
            current = self._get_json(f"/resource_providers/{uuid}/inventories")
            if current["inventories"] == inventories:
                return
            resp = self.request("PUT", f"/resource_providers/{uuid}/inventories", json={
                "resource_provider_generation": current["resource_provider_generation"],
                "inventories": inventories})
            if resp.status_code == 200:
                return
            if resp.status_code != 409:
                raise PlacementAPIError(reason=f"set inventory: {resp.status_code} {resp.text}")
        raise PlacementAPIError(reason=f"set inventory of {uuid}: generation conflicts")

    def set_traits(self, uuid, traits, attempts: int = 3) -> None:
        for t in traits:
            if t.startswith("CUSTOM_"):
                self.request("PUT", f"/traits/{t}")
        for _ in range(attempts):
            current = self._get_json(f"/resource_providers/{uuid}/traits")
            if set(current["traits"]) == set(traits):
                return
            resp = self.request("PUT", f"/resource_providers/{uuid}/traits", json={
                "resource_provider_generation": current["resource_provider_generation"],
                "traits": sorted(traits)})
            if resp.status_code == 200:
                return
            if resp.status_code != 409:
                raise PlacementAPIError(reason=f"set traits: {resp.status_code} {resp.text}")
        raise PlacementAPIError(reason=f"set traits of {uuid}: generation conflicts")

    def provider_traits(self, uuid) -> list[str]:
        return self._get_json(f"/resource_providers/{uuid}/traits")["traits"]

    def list_providers(self) -> list[dict]:
        resp = self.request("GET", "/resource_providers")
        if resp.status_code != 200:
            raise PlacementAPIError(reason=f"{resp.status_code} {resp.text}")
        return resp.json()["resource_providers"]

    def usages(self, project_id) -> dict:
        resp = self.request("GET", "/usages", params={"project_id": project_id})
        return resp.json()["usages"] if resp.status_code == 200 else {}
