"""``compute-api``, ``compute-placement-api`` and ``compute-image-api``: the
paste-deployed compute, placement and image APIs served by the threaded WSGI
server, one process each.

Address and port come from ``--host``/``--port``, else from
``[wsgi] listen`` and ``[wsgi] compute_port`` / ``placement_port`` /
``image_port`` (0.0.0.0:8774, 0.0.0.0:8778 and 0.0.0.0:9292). Behind Apache httpd, use the WSGI entry
points of :mod:`compute_core.wsgi_apps` instead.
"""
from __future__ import annotations

from compute_core.cmd import services as svc


class _Server:
    """The WSGI server of one API plus the app's resources."""

    def __init__(self, conf, kind, host, port):
        from compute_core import assembly, wsgi_apps

        self.application = wsgi_apps.Application(conf, kind)
        try:
            self.server = assembly.api_server(conf, self.application, host, port,
                                              conf.wsgi.threads, kind)
        except OSError as exc:
            self.application.close()
            raise svc.StartupError(f"cannot listen on {host}:{port}: "
                                   f"{exc.strerror or exc}") from None

    def start(self):
        self.server.start()
        svc.LOG.info("%s API listening on %s", self.application.kind, self.server.url)

    def stop(self):
        try:
            self.server.stop()
        finally:
            self.application.close()


def _serve(prog: str, kind: str, argv) -> int:
    parser = svc.argument_parser(prog, f"Serve the {kind} API over HTTP.")
    parser.add_argument("--host", metavar="ADDRESS",
                        help="address to listen on (default: [wsgi] listen)")
    parser.add_argument("--port", type=int, metavar="PORT",
                        help=f"port to listen on (default: [wsgi] {kind}_port)")
    args = parser.parse_args(argv)

    def build(conf, args):
        host = args.host or conf.wsgi.listen
        port = conf.wsgi[f"{kind}_port"] if args.port is None else args.port
        return [_Server(conf, kind, host, port)]

    return svc.run(prog, args, build)


def main(argv=None) -> int:
    return _serve("compute-api", "compute", argv)


def placement_main(argv=None) -> int:
    return _serve("compute-placement-api", "placement", argv)


def image_main(argv=None) -> int:
    return _serve("compute-image-api", "image", argv)
