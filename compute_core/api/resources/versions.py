"""GET /v2.1/ : the version document of the v2.1 API."""
from __future__ import annotations

from compute_core.api import microversion
from compute_core.apispec import keyed, operation

V21 = {"id": "v2.1", "status": "CURRENT", "version": microversion.MAX_VERSION,
       "min_version": microversion.MIN_VERSION, "updated": "2013-07-23T11:33:21Z"}

RULES = ()  # the version document needs no authorization


def version_doc(base):
    """The version document of v2.1 whose links start at *base*."""
    return dict(V21, links=[{"rel": "self", "href": base.rstrip("/") + "/"},
                            {"rel": "describedby", "type": "text/html",
                             "href": "https://docs.openstack.org/"}],
                **{"media-types": [{"base": "application/json",
                                    "type": "application/vnd.openstack.compute+json;version=2.1"}]})


@operation("showVersion", "The v2.1 version document (no authentication)",
           ok={200: keyed("version")}, public=True)
def show(call):
    return 200, {"version": version_doc(call.req.application_url)}


ROUTES = {
    "/": {"GET": show},
}
