"""A threaded HTTP server on a free port of 127.0.0.1 for the placement
client's tests, serving on a daemon thread from construction."""
from __future__ import annotations

import http.server
import threading


class LocalServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.seen = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"
