"""How long a clean shutdown waits for a guest to power itself off.

As Nova: the image property ``os_shutdown_timeout`` of the instance's image
(kept in its system_metadata as ``image_os_shutdown_timeout``), an integer
of seconds >= 0, else ``[DEFAULT] shutdown_timeout``. A value that is not
such an integer is logged and the option's value used.
"""
from __future__ import annotations

import logging

LOG = logging.getLogger(__name__)

IMAGE_PROPERTY = "os_shutdown_timeout"


def _image_value(instance: dict):
    """The property as the instance keeps it: Nova's ``image_<property>``
    system_metadata item, else the ``image_properties`` copy; None."""
    sysmeta = instance.get("system_metadata") or {}
    value = sysmeta.get(f"image_{IMAGE_PROPERTY}")
    if value is None:
        value = (sysmeta.get("image_properties") or {}).get(IMAGE_PROPERTY)
    return value


def shutdown_timeout(conf, instance: dict) -> int:
    """Seconds a clean shutdown of *instance* waits before it is forced."""
    value = _image_value(instance)
    if value is None:
        return conf.shutdown_timeout
    text = str(value).strip()
    # Digits only: not a bool, a float or a sign (Glance keeps strings).
    if not (isinstance(value, (int, str)) and not isinstance(value, bool)
            and text.isascii() and text.isdigit()):
        LOG.warning("instance %s: image property %s=%r is not an integer >= 0; "
                    "waiting [DEFAULT] shutdown_timeout (%s s) instead",
                    instance.get("uuid"), IMAGE_PROPERTY, value, conf.shutdown_timeout)
        return conf.shutdown_timeout
    return int(text)
