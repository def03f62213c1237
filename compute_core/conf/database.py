"""The database options: [api_database] and [placement_database] (engine
options of ours) and oslo.db's [database], with our pool defaults."""
import copy

from oslo_config import cfg
from oslo_db import options as db_options

from compute_core.db import engines

def _engine_opts():
    """The engine options of [api_database] and [placement_database] (a
    subset of oslo.db's [database] ones, with the same names and the same
    defaults as our [database])."""
    return [
        cfg.IntOpt("max_pool_size", default=engines.DEFAULT_POOL_SIZE, min=0,
                   help="Connections a service keeps open to this database (0: no "
                        "limit). Fewer than the requests it serves at once means "
                        "connections opened and closed per request."),
        cfg.IntOpt("max_overflow", default=engines.DEFAULT_MAX_OVERFLOW, min=0,
                   help="Connections opened beyond max_pool_size under load (closed "
                        "again when returned)."),
        cfg.IntOpt("pool_timeout", default=engines.DEFAULT_POOL_TIMEOUT, min=1,
                   help="Seconds to wait for a connection of the pool."),
        cfg.IntOpt("connection_recycle_time", default=engines.DEFAULT_RECYCLE_TIME,
                   help="Connections older than this many seconds are replaced."),
        cfg.IntOpt("max_retries", default=engines.DEFAULT_MAX_RETRIES, min=-1,
                   help="Attempts to connect at start-up (-1: forever)."),
        cfg.IntOpt("retry_interval", default=engines.DEFAULT_RETRY_INTERVAL, min=0,
                   help="Seconds between two attempts to connect at start-up."),
        cfg.StrOpt("connection_parameters", default="",
                   help="Query string appended to the connection URL (e.g. "
                        "ssl_ca=/etc/ssl/ca.pem for TLS to MySQL, which is off unless "
                        "an ssl_ option asks for it)."),
    ]


api_database_opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the API database."),
    *_engine_opts(),
]

placement_database_opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the placement database (the placement service)."),
    *_engine_opts(),
]


def _database_opts():
    """oslo.db's [database] options, with our pool defaults (a service here
    serves many requests at once; oslo.db keeps 5 connections and waits
    SQLAlchemy's 30 s). Cell databases are opened with these options too."""
    ours = {"max_pool_size": engines.DEFAULT_POOL_SIZE,
            "pool_timeout": engines.DEFAULT_POOL_TIMEOUT}
    opts = []
    for opt in db_options.database_opts:
        if opt.name in ours:
            opt = copy.copy(opt)
            opt.default = ours[opt.name]
        opts.append(opt)
    return opts


database_opts = _database_opts()
