"""The embedded HTTP server of compute-api, compute-placement-api and the
embedded cloud: waitress, with deadlines on reading a request.

Why waitress: its event loop reads every request in whole (request line,
headers and body) before a worker thread sees it, so clients that connect and
send nothing, or send half a header, or trickle a body, cost a socket and a
buffer but never a worker; the workers only run the application. (cheroot,
used before, gave each new connection to a worker that then waited on the
socket: 16 silent clients took all 16 workers for a minute.)

waitress closes connections silent for ``channel_timeout``; here a request
also has a deadline: its headers must be in ``header_timeout`` seconds after
its first byte, its body ``body_timeout`` seconds after its headers, however
slowly the bytes trickle in.
"""
from __future__ import annotations

import logging
import threading
import time

from waitress import channel as waitress_channel
from waitress import server as waitress_server
from waitress import task as waitress_task
from waitress import wasyncore

LOG = logging.getLogger(__name__)


class _Task(waitress_task.WSGITask):
    """A request's task that keeps an HTTP/1.1 connection open after an
    answer without a body (1xx, 204, 304). waitress closes every HTTP/1.1
    answer that has no Content-Length, these too, although their end is
    known without one (RFC 9112 6.3): each PUT or DELETE /allocations (204)
    cost the placement client a new TCP connection for its next request."""

    _bodiless_keep_alive = False

    def build_response_header(self):
        self._bodiless_keep_alive = (
            not self.has_body and self.version == "1.1"
            and self.request.headers.get("CONNECTION", "").lower() != "close")
        try:
            return super().build_response_header()
        finally:
            self._bodiless_keep_alive = False

    def set_close_on_finish(self) -> None:
        if not self._bodiless_keep_alive:
            super().set_close_on_finish()


class _Channel(waitress_channel.HTTPChannel):
    """A connection that notes when its request in progress began and when
    that request's headers were complete (monotonic seconds)."""

    task_class = _Task
    request_began = None
    headers_done = None

    def received(self, data):
        before = self.request
        result = super().received(data)
        partial = self.request
        if partial is not None:
            now = time.monotonic()
            if partial is not before:
                self.request_began, self.headers_done = now, None
            if partial.headers_finished and self.headers_done is None:
                self.headers_done = now
        return result


    def handle_close(self):
        partial = self.request
        if (self.server.deliver_truncated and partial is not None
                and partial.headers_finished and not partial.completed
                and partial.body_rcv is not None and not partial.error):
            # The client went away (or ran out of time) in the middle of
            # the body: the application gets what came, flagged, so that
            # what the request began (an image's upload) ends as it should.
            self.request = None
            self.server.add_task(_TruncatedRequest(self, partial))
        super().handle_close()


#: The WSGI environ key set on a request whose body ended before its end.
TRUNCATED = "compute_core.input_truncated"


class _TruncatedRequest:
    """The task of a request whose body did not arrive in whole: the
    application runs on the bytes that came (``wsgi.input`` ends there, and
    ``environ[TRUNCATED]`` is True); its answer goes nowhere."""

    def __init__(self, channel, request):
        self.request = request
        self.environ = waitress_task.WSGITask(channel, request).get_environment()
        self.environ[TRUNCATED] = True
        self.app = channel.server.application

    def defer(self):
        pass

    def cancel(self):
        self.request.close()

    def service(self):
        def start_response(status, headers, exc_info=None):
            return lambda data: None

        try:
            result = self.app(self.environ, start_response)
            try:
                for _ in result:
                    pass
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            LOG.exception("the application failed on a truncated %s %s",
                          self.environ.get("REQUEST_METHOD"), self.environ.get("PATH_INFO"))
        finally:
            self.request.close()


class _Server(waitress_server.TcpWSGIServer):
    channel_class = _Channel
    deliver_truncated = False
    header_timeout = 10.0
    body_timeout = 30.0

    def maintenance(self, now):
        super().maintenance(now)  # silent connections with no request running
        mono = time.monotonic()
        for channel in list(self.active_channels.values()):
            if channel.request is None or channel.request_began is None:
                continue
            if channel.headers_done is None:
                late = mono - channel.request_began > self.header_timeout
            else:
                late = mono - channel.headers_done > self.body_timeout
            if late:
                channel.will_close = True


class WSGIServer:
    """A threaded HTTP server for one WSGI app; port 0 = any free port.

    *threads* run the application; *max_connections* are held at once (more
    wait in the listen backlog); a connection with no request in progress is
    closed after *idle_timeout* seconds of silence; a request's headers must
    arrive within *header_timeout* seconds of its first byte and its body
    within *body_timeout* seconds of its headers; a body over
    *max_body_size* bytes is refused with 413 before it is read. With
    *deliver_truncated*, a request whose client goes away (or whose body
    runs out of time) in the middle of its body still reaches the
    application, with what arrived and ``environ[TRUNCATED]`` set, so the
    application can undo or mark what the request began; otherwise such a
    request is dropped unseen.
    """

    def __init__(self, app, host, port, threads=16, name="wsgi", *, idle_timeout=30,
                 header_timeout=10, body_timeout=30, max_connections=1000,
                 max_body_size=1 << 30, recv_bytes=8192, deliver_truncated=False):
        self.name = name
        self._map = {}
        # Threads start only once the port is bound.
        self._dispatcher = waitress_server.ThreadedTaskDispatcher()
        try:
            self.server = _Server(
                app, map=self._map, dispatcher=self._dispatcher, host=host, port=port,
                ident="compute_core", server_name=name, backlog=1024,
                connection_limit=max_connections, channel_timeout=idle_timeout,
                # waitress refuses a body of its limit already.
                cleanup_interval=1, max_request_body_size=max_body_size + 1,
                # Bytes per socket read: larger for an API whose bodies are
                # images (one event-loop turn per read).
                recv_bytes=recv_bytes,
                # Answers up to 16 MiB stay in memory (the application built
                # them there already); waitress's 1 MiB put a listing of 1,000
                # servers through a temporary file (+25% CPU per request).
                outbuf_overflow=1 << 24,
                # poll(), not select(): more than 1024 descriptors.
                asyncore_use_poll=True,
                # X-Forwarded-* reach the application as they came.
                clear_untrusted_proxy_headers=False)
        except BaseException:
            wasyncore.close_all(self._map, ignore_all=True)
            raise
        self.server.header_timeout = header_timeout
        self.server.deliver_truncated = deliver_truncated
        self.server.body_timeout = body_timeout
        self._dispatcher.set_thread_count(threads)
        self.host, self.port = self.server.effective_host, int(self.server.effective_port)
        self._thread = threading.Thread(target=self._serve, name=f"{name}-server", daemon=True)

    def _serve(self):
        try:
            self.server.run()
        except Exception:
            LOG.exception("%s HTTP server stopped with an error", self.name)

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._thread.start()

    def _in_loop(self, fn):
        """Run *fn* in the event loop's thread (or here if it is not running)."""
        if not self._thread.is_alive():
            fn()
            return
        done = threading.Event()

        def thunk():
            try:
                fn()
            finally:
                done.set()

        self.server.trigger.pull_trigger(thunk)
        done.wait(timeout=10)

    def stop(self):
        """Stop accepting, let running requests finish (5 s at most), close
        every connection."""
        self._in_loop(lambda: wasyncore.dispatcher.close(self.server))
        self._dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._in_loop(lambda: wasyncore.close_all(self._map, ignore_all=True))
        if self._thread.is_alive():
            self._thread.join(timeout=10)
