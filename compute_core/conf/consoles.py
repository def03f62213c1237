"""The console options: the proxies' TLS ([DEFAULT] cert, key, ssl_only),
[consoleauth], [console], [vnc], [spice] and [serial_console]."""
from oslo_config import cfg

console_default_opts = [
    cfg.StrOpt("cert", default="self.pem",
               help="TLS certificate (PEM) of the console proxies; used when the file "
                    "exists (relative: to the working directory)."),
    cfg.StrOpt("key", help="TLS private key of the console proxies (PEM); unset: the "
                           "key is in the cert file."),
    cfg.BoolOpt("ssl_only", default=False,
                help="The console proxies refuse connections that are not TLS."),
]

consoleauth_opts = [
    cfg.IntOpt("token_ttl", default=600, min=1,
               help="Seconds a console token stays valid after the API made it."),
]

console_opts = [
    cfg.ListOpt("allowed_origins", default=[],
                help="Host names (besides the proxy's own, from the Host header) a "
                     "browser page may be served from and still open a console "
                     "websocket (its Origin header). A request without Origin "
                     "(not a browser) is not checked."),
]

vnc_opts = [
    cfg.BoolOpt("enabled", default=True,
                help="VNC consoles: the API hands out noVNC consoles, and the libvirt "
                     "driver gives its guests VNC graphics."),
    cfg.URIOpt("novncproxy_base_url", default="http://127.0.0.1:6080/vnc_lite.html",
               help="Page of the noVNC proxy a console URL points at; the token is "
                    "added as ?path=%3Ftoken%3D<token> (what noVNC's pages read). "
                    "The embedded cloud sets it to the proxy it started."),
    cfg.HostAddressOpt("novncproxy_host", default="0.0.0.0",
                       help="Address compute-novncproxy listens on."),
    cfg.PortOpt("novncproxy_port", default=6080, help="Port of compute-novncproxy."),
    cfg.StrOpt("novnc_path", default="/usr/share/novnc",
               help="Directory of the noVNC client (Debian's novnc package, or the "
                    "@novnc/novnc npm package) the proxy serves its pages from."),
    cfg.HostAddressOpt("server_listen", default="127.0.0.1",
                       help="Address the guests' VNC servers listen on (a compute host "
                            "option; the libvirt driver gives guests VNC graphics while "
                            "enabled is on)."),
    cfg.HostAddressOpt("server_proxyclient_address", default="127.0.0.1",
                       help="Address of this compute host the noVNC proxy connects to "
                            "for its guests' VNC servers."),
]

spice_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="SPICE consoles: the API hands out SPICE HTML5 consoles, and the "
                     "libvirt driver gives its guests SPICE graphics (with a QXL card)."),
    cfg.URIOpt("html5proxy_base_url", default="http://127.0.0.1:6082/spice_auto.html",
               help="Page of the SPICE HTML5 proxy a console URL points at "
                    "(?token=<token> is added)."),
    cfg.HostAddressOpt("html5proxy_host", default="0.0.0.0",
                       help="Address compute-spicehtml5proxy listens on."),
    cfg.PortOpt("html5proxy_port", default=6082, help="Port of compute-spicehtml5proxy."),
    cfg.StrOpt("html5_path", default="/usr/share/spice-html5",
               help="Directory of the SPICE HTML5 client (Debian's spice-html5 "
                    "package) the proxy serves its pages from."),
    cfg.HostAddressOpt("server_listen", default="127.0.0.1",
                       help="Address the guests' SPICE servers listen on (a compute host "
                            "option; the libvirt driver gives guests SPICE graphics while "
                            "enabled is on)."),
    cfg.HostAddressOpt("server_proxyclient_address", default="127.0.0.1",
                       help="Address of this compute host the SPICE HTML5 proxy connects "
                            "to for its guests' SPICE servers."),
]

serial_console_opts = [
    cfg.BoolOpt("enabled", default=False,
                help="Serial consoles: the API hands them out, and the libvirt driver "
                     "makes its guests' first serial port a TCP server on a port of "
                     "port_range (still logged for os-getConsoleOutput). The embedded "
                     "cloud enables them."),
    cfg.URIOpt("base_url", default="ws://127.0.0.1:6083/",
               help="Websocket URL of the serial proxy a console URL points at "
                    "(?token=<token> is added)."),
    cfg.HostAddressOpt("serialproxy_host", default="0.0.0.0",
                       help="Address compute-serialproxy listens on."),
    cfg.PortOpt("serialproxy_port", default=6083, help="Port of compute-serialproxy."),
    cfg.StrOpt("port_range", default="10000:20000", regex=r"^\d+:\d+$",
               help="MIN:MAX, the TCP ports of this compute host its guests' serial "
                    "consoles listen on (the libvirt driver, while enabled is on)."),
    cfg.HostAddressOpt("proxyclient_address", default="127.0.0.1",
                       help="Address of this compute host its guests' serial consoles "
                            "listen on and the serial proxy connects to."),
]
