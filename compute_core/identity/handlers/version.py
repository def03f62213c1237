"""Version discovery: GET / (every version, 300) and GET /v3 (this one)."""
from compute_core.identity import web

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"


def _doc(req):
    return {"id": VERSION_ID, "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": req.application_url + "/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


def versions(req):
    return web.json_response({"versions": {"values": [_doc(req)]}}, status=300)


def v3(req):
    return web.json_response({"version": _doc(req)})
