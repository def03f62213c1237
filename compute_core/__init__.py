"""compute_core: a compute controller in the spirit of OpenStack Nova.

The public entry point for programs and test suites is :class:`Cloud`, a whole
cloud (compute API, conductor, scheduler, placement, compute hosts) running in
the calling process::

    from compute_core import Cloud
    with Cloud(hosts=2) as cloud:
        print(cloud.compute_url)
"""

import os
import sys

__all__ = ["Cloud"]


def _without_eventlet():
    # Threads are our concurrency model and nothing of ours uses eventlet,
    # but it is installed (oslo.service requires it) and futurist and
    # oslo.utils import it whenever they can: a deprecation warning on every
    # start, and oslo.messaging probing for monkey-patching. Hide it from
    # this process, unless the program hosting us has imported it already
    # (or sets COMPUTE_CORE_ALLOW_EVENTLET=1): then its choice stands.
    if "eventlet" not in sys.modules and os.environ.get("COMPUTE_CORE_ALLOW_EVENTLET") != "1":
        sys.modules["eventlet"] = None  # import eventlet -> ImportError


_without_eventlet()


def _prefer_threads():
    # oslo.messaging imports oslo.service, whose default backend is eventlet;
    # threads are our concurrency model. The hook only sets the default, so
    # a host program that already chose a backend keeps its choice.
    try:
        from oslo_service import backend
    except ImportError:
        return
    if backend.get_backend_type() is None:
        backend.register_backend_default_hook(lambda: backend.BackendType.THREADING)


_prefer_threads()


def __getattr__(name):
    # Imported lazily so that `import compute_core` stays cheap for the
    # console scripts that never start an embedded cloud.
    if name == "Cloud":
        from compute_core.cloud import Cloud

        return Cloud
    raise AttributeError(name)
