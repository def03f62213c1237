"""The image service: a Glance v2-compatible WSGI app, embedded in the
cloud (catalog type ``image``) and standalone as ``compute-image-api``.

* :mod:`.store` the object layer: image records in the API database, their
  data in the store directory (``[image] images_path``);
* :mod:`.app` the routing table, Glance's error format and the paste
  factories; :mod:`.handlers` one module per resource.

Exports :class:`ImageServices`, what the handlers reach through the environ.
"""
from __future__ import annotations

from compute_core.image.service.store import ImageStore


class ImageServices:
    """The image API's configuration, API database and store."""

    def __init__(self, conf, api_db):
        self.conf = conf
        self.api_db = api_db
        self.store = ImageStore(conf, api_db)


__all__ = ["ImageServices", "ImageStore"]
