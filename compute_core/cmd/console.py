"""The console proxy services, one process each:

    compute-novncproxy        noVNC           [vnc] novncproxy_host/port (6080)
    compute-spicehtml5proxy   SPICE HTML5     [spice] html5proxy_host/port (6082)
    compute-serialproxy       serial          [serial_console] serialproxy_host/port (6083)
    compute-consoleproxy --proxy NAME         any plugin of compute_core.console_proxies

Each checks console tokens in the cell database of ``[database] connection``
(run one per cell, as the compute services are), serves the client pages
of its plugin and relays websockets to the guests' consoles (see
:mod:`compute_core.console.service`). Start-up errors are one line and
exit code 1; SIGTERM/SIGINT stop it cleanly.
"""
from __future__ import annotations

from compute_core.cmd import services


def _build(conf, args):
    from compute_core import assembly
    from compute_core.cmd.services import Resource, check_migrated
    from compute_core.console.service import ConsoleProxyService

    check_migrated(conf, "cell")
    db = assembly.cell_database(conf)
    try:
        service = ConsoleProxyService(conf, args.proxy, [db], listen=args.listen,
                                      port=args.port)
    except BaseException:
        db.dispose()
        raise
    return [Resource(db.dispose), service]


def _parser(prog, description, proxy=None):
    parser = services.argument_parser(prog, description)
    if proxy is None:
        parser.add_argument("--proxy", required=True, metavar="NAME",
                            help="console proxy plugin (compute_core.console_proxies)")
    parser.add_argument("--listen", metavar="ADDRESS", help="address to listen on "
                        "(default: the plugin's option)")
    parser.add_argument("--port", type=int, metavar="PORT",
                        help="port to listen on, 0 for any free one (default: the "
                             "plugin's option)")
    if proxy is not None:
        parser.set_defaults(proxy=proxy)
    return parser


def _main(prog, description, proxy, argv):
    parser = _parser(prog, description, proxy)
    args = parser.parse_args(argv)
    return services.run(parser.prog, args, _build)


def main(argv=None) -> int:
    return _main("compute-consoleproxy", "Run a console proxy plugin by name.", None, argv)


def novncproxy_main(argv=None) -> int:
    return _main("compute-novncproxy", "Run the noVNC console proxy.", "novnc", argv)


def spicehtml5proxy_main(argv=None) -> int:
    return _main("compute-spicehtml5proxy", "Run the SPICE HTML5 console proxy.",
                 "spice-html5", argv)


def serialproxy_main(argv=None) -> int:
    return _main("compute-serialproxy", "Run the serial console proxy.", "serial", argv)


if __name__ == "__main__":
    import sys

    sys.exit(main())
