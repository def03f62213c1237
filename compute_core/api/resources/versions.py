"""GET /v2.1/ : the version document of the v2.1 API."""
from __future__ import annotations

from compute_core.api import microversion
from compute_core.apispec import keyed, operation

V21 = {"id": "v2.1", "status": "CURRENT", "version": microversion.MAX_VERSION,
       "min_version": microversion.MIN_VERSION, "updated": "2013-07-23T11:33:21Z"}

# The legacy v2.0 API: listed, as Nova lists it, for clients that look for it.
V20 = {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
       "updated": "2011-01-21T11:33:21Z"}

RULES = ()  # the version document needs no authorization


def version_doc(base):
    """The version document of v2.1 whose links start at *base*."""
    return dict(V21, links=[{"rel": "self", "href": base.rstrip("/") + "/"},
                            {"rel": "describedby", "type": "text/html",
                             "href": "https://docs.openstack.org/"}],
                **{"media-types": [{"base": "application/json",
                                    "type": "application/vnd.openstack.compute+json;version=2.1"}]})


def versions_list(root):
    """The versions document (GET /) whose links start at *root*."""
    root = root.rstrip("/")
    v21 = version_doc(root + "/v2.1")
    v21.pop("media-types")
    return {"versions": [dict(V20, links=[{"rel": "self", "href": root + "/v2/"}]), v21]}


@operation("showVersion", "The v2.1 version document (no authentication)",
           ok={200: keyed("version")}, public=True)
def show(call):
    return 200, {"version": version_doc(call.req.application_url)}


ROUTES = {
    "/": {"GET": show},
}
