"""The options of the API services: [api] (authentication, limits, what the
Compute API answers) and [wsgi] (the embedded HTTP server)."""
from oslo_config import cfg

api_opts = [
    cfg.StrOpt("auth_strategy", default="keystone", choices=["keystone", "noauth2"],
               help="How API requests are authenticated: keystone (keystonemiddleware) "
                    "or noauth2 (X-Auth-Token: user:project, for local use only)."),
    cfg.IntOpt("max_limit", default=1000, min=1,
               help="Largest number of items one list request returns."),
    cfg.IntOpt("max_instances_per_request", default=1000, min=1,
               help="Most servers one create request makes: a larger max_count is "
                    "lowered to it (as the quota lowers it) and a larger min_count is "
                    "refused with a 400. Bounds a request's work when quotas are "
                    "unlimited."),
    cfg.StrOpt("compute_link_prefix", help="Base URL used in links instead of the request's."),
]

wsgi_opts = [
    cfg.StrOpt("api_paste_config", default="api-paste.ini",
               help="Paste deploy file with the pipelines of the WSGI apps; a relative "
                    "name is looked up beside the config file, in etc/ and in the package."),
    cfg.HostAddressOpt("listen", default="0.0.0.0",
                       help="Address compute-api and compute-placement-api listen on."),
    cfg.PortOpt("compute_port", default=8774, help="Port of compute-api."),
    cfg.PortOpt("placement_port", default=8778, help="Port of compute-placement-api."),
    cfg.PortOpt("image_port", default=9292, help="Port of compute-image-api."),
    cfg.IntOpt("threads", default=16, min=1,
               help="Threads running the API's requests in compute-api and "
                    "compute-placement-api (the embedded cloud: [aio] wsgi_threads). "
                    "Reading requests and writing answers is done by one event loop, "
                    "so slow or idle clients hold none of them."),
    cfg.IntOpt("max_connections", default=1000, min=1,
               help="Client connections the embedded HTTP server holds open at once "
                    "(each takes a file descriptor, not a thread); more wait in the "
                    "listen backlog."),
    cfg.IntOpt("idle_timeout", default=30, min=1,
               help="Seconds a connection with no request in progress (new, or kept "
                    "alive after a response) may stay silent before the embedded HTTP "
                    "server closes it."),
    cfg.IntOpt("header_timeout", default=10, min=1,
               help="Seconds from a request's first byte to the end of its headers; "
                    "a slower client is disconnected, however it trickles its bytes."),
    cfg.IntOpt("body_timeout", default=30, min=1,
               help="Seconds from the end of a request's headers to the end of its "
                    "body; a slower client is disconnected."),
]
