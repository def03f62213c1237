"""/os-quota-sets/{project_id} (show, detail, defaults, update, delete; a
user's with ``?user_id=``) and /os-quota-class-sets/{class} (the default
class's limits).

The resources and their order are Nova's. The network ones (fixed_ips,
floating_ips, security_groups, security_group_rules) leave at 2.36, the
injected-file ones at 2.57. Usage (``in_use`` in the detail) is counted from
the rows, never stored.
"""
from __future__ import annotations

from compute_core.api import policy, query, schemas
from compute_core.api.faults import APIError
from compute_core.api.microversion import ByVersion
from compute_core.api.quota import Quota
from compute_core.apispec import keyed, operation
from compute_core.db import keypairs as keypairs_db
from compute_core.db import quotas as quotas_db
from compute_core.db import server_groups as groups_db

_ROOT = "os_compute_api:os-quota-sets:"
_CLASS_ROOT = "os_compute_api:os-quota-class-sets:"
_SET = "/os-quota-sets/{project_id}"
RULES = (
    policy.rule(_ROOT + "show", policy.PROJECT_READER_OR_ADMIN, "Show a project's quotas",
                [("GET", _SET)]),
    policy.rule(_ROOT + "detail", policy.PROJECT_READER_OR_ADMIN,
                "Show a project's quotas with their usage", [("GET", _SET + "/detail")]),
    policy.rule(_ROOT + "defaults", policy.ANY, "Show the default quotas",
                [("GET", _SET + "/defaults")]),
    policy.rule(_ROOT + "update", policy.ADMIN, "Set a project's (or user's) quotas",
                [("PUT", _SET)]),
    policy.rule(_ROOT + "delete", policy.ADMIN, "Revert a project's quotas to the defaults",
                [("DELETE", _SET)]),
    policy.rule(_CLASS_ROOT + "show", policy.ADMIN, "Show a quota class",
                [("GET", "/os-quota-class-sets/{id}")]),
    policy.rule(_CLASS_ROOT + "update", policy.ADMIN, "Set a quota class's limits",
                [("PUT", "/os-quota-class-sets/{id}")]),
)

# (API name, [quota] option or None, default when no option) in Nova's order
RESOURCES = (
    ("instances", "instances", None), ("cores", "cores", None), ("ram", "ram", None),
    ("floating_ips", None, 10), ("fixed_ips", None, -1),
    ("metadata_items", "metadata_items", None), ("injected_files", "injected_files", None),
    ("injected_file_content_bytes", "injected_file_content_bytes", None),
    ("injected_file_path_bytes", "injected_file_path_length", None),
    ("security_groups", None, 10), ("security_group_rules", None, 20),
    ("key_pairs", "key_pairs", None), ("server_groups", "server_groups", None),
    ("server_group_members", "server_group_members", None),
)
NAMES = tuple(name for name, _, _ in RESOURCES)
_NETWORK = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
_INJECTED = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
# The resources shown (and settable) by version
SHOWN = ByVersion(("2.1", "2.35", NAMES),
                  ("2.36", "2.56", tuple(n for n in NAMES if n not in _NETWORK)),
                  ("2.57", None, tuple(n for n in NAMES if n not in _NETWORK | _INJECTED)))

_LIMIT = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1,
          "maximum": schemas.SQL_INT_MAX}
_BOOL = {"type": ["boolean", "string"],
         "enum": [True, False, "True", "False", "true", "false", "1", "0", "yes", "no",
                  "on", "off", "TRUE", "FALSE"]}


def _update_schema(names, key="quota_set", force=True):
    props = {n: _LIMIT for n in names}
    if force:
        props["force"] = _BOOL
    return {"type": "object",
            "properties": {key: {"type": "object", "properties": props,
                                 "additionalProperties": False}},
            "required": [key], "additionalProperties": False}


UPDATE = ByVersion(*((low, high, _update_schema(SHOWN.at(low)))
                     for low, high in (("2.1", "2.35"), ("2.36", "2.56"), ("2.57", None))))
CLASS_UPDATE = ByVersion(*((low, high, _update_schema(SHOWN.at(low), "quota_class_set", False))
                           for low, high in (("2.1", "2.49"), ("2.50", "2.56"),
                                             ("2.57", None))))


# ------------------------------------------------------------------ limits

def _defaults(quota: Quota) -> dict:
    """Every resource's default: the default quota class's, else [quota]'s."""
    conf = quota.defaults()
    out = {name: conf[option] if option else default for name, option, default in RESOURCES}
    stored = quotas_db.class_limits(quota.s.api_db)
    stored = {("injected_file_path_bytes" if k == "injected_file_path_length" else k): v
              for k, v in stored.items()}
    out.update({k: v for k, v in stored.items() if k in out})
    return out


def _stored(d: dict) -> dict:
    return {("injected_file_path_bytes" if k == "injected_file_path_length" else k): v
            for k, v in d.items()}


def limits_of(quota: Quota, project_id, user_id=None) -> dict:
    out = _defaults(quota)
    out.update({k: v for k, v in _stored(quotas_db.project_limits(
        quota.s.api_db, project_id)).items() if k in out})
    if user_id is not None:
        out.update({k: v for k, v in _stored(quotas_db.user_limits(
            quota.s.api_db, project_id, user_id)).items() if k in out})
    return out


def usage_of(call, quota: Quota, project_id, user_id=None) -> dict:
    out = dict.fromkeys(NAMES, 0)
    out.update(quota.usage(project_id, user_id))
    out["key_pairs"] = keypairs_db.count(call.services.api_db,
                                         user_id or call.ctx.user_id)
    out["server_groups"] = groups_db.count(call.services.api_db, project_id, user_id)
    return out


def _to_db(name):
    return "injected_file_path_length" if name == "injected_file_path_bytes" else name


# ---------------------------------------------------------------- handlers

def _target(project_id):
    return {"project_id": project_id}


def _user(call, allowed=("user_id",)):
    query.refuse_unknown(call, allowed)
    return call.req.GET.get("user_id") or None


def _view(version, values, project_id=None, key="quota_set"):
    out = {"id": str(project_id)} if project_id is not None else {}
    out.update({n: values[n] for n in SHOWN.at(version)})
    return {key: out}


@operation("showQuotaSet", "Show a project's (or user's) quotas", ok={200: keyed("quota_set")},
           errors=(400, 403), query={"user_id": {"type": "string"}})
def show(call, project_id):
    call.authorize(_ROOT + "show", _target(project_id))
    user_id = _user(call)
    return 200, _view(call.version, limits_of(Quota(call.services), project_id, user_id),
                      project_id)


@operation("showQuotaSetDetail", "Show a project's quotas with their usage",
           ok={200: keyed("quota_set")}, errors=(400, 403), query={"user_id": {"type": "string"}})
def detail(call, project_id):
    call.authorize(_ROOT + "detail", _target(project_id))
    user_id = _user(call)
    quota = Quota(call.services)
    limits = limits_of(quota, project_id, user_id)
    used = usage_of(call, quota, project_id, user_id)
    values = {n: {"limit": limits[n], "in_use": used[n], "reserved": 0} for n in NAMES}
    return 200, _view(call.version, values, project_id)


@operation("showQuotaSetDefaults", "Show the default quotas", ok={200: keyed("quota_set")})
def defaults(call, project_id):
    call.authorize(_ROOT + "defaults", _target(project_id))
    return 200, _view(call.version, _defaults(Quota(call.services)), project_id)


def _limit(name, value) -> int:
    """A limit as an int in [-1, SQL_INT_MAX] (the schema's bounds miss the
    string form, and "2147483647.0")."""
    limit = int(float(value)) if isinstance(value, float) else int(value)
    if not -1 <= limit <= schemas.SQL_INT_MAX:
        raise APIError(400, f"Invalid input for field/attribute {name}. Value: {value}. "
                            f"It must be between -1 and {schemas.SQL_INT_MAX}")
    return limit


def _force(value) -> bool:
    return str(value).lower() in ("true", "1", "yes", "on")


@operation("updateQuotaSet", "Set a project's (or one of its users') quotas",
           ok={200: keyed("quota_set")}, errors=(400, 403), admin=True, body=UPDATE,
           query={"user_id": {"type": "string"}})
def update(call, project_id):
    call.authorize(_ROOT + "update", _target(project_id))
    user_id = _user(call)
    body = call.json()
    schemas.validate(body, UPDATE.at(call.version))
    wanted = dict(body["quota_set"])
    force = _force(wanted.pop("force", False))
    quota = Quota(call.services)
    values = {k: _limit(k, v) for k, v in wanted.items()}
    if not force and values:
        used = usage_of(call, quota, project_id, user_id)
        project = limits_of(quota, project_id) if user_id else None
        for name, limit in values.items():
            unlimited = limit == -1
            if not unlimited and limit < used[name]:
                raise APIError(400, f"Quota limit {limit} for {name} must be greater than or "
                                    f"equal to already used and reserved {used[name]}.")
            if user_id and project[name] != -1 and (unlimited or limit > project[name]):
                raise APIError(400, f"Quota limit {limit} for {name} must be less than or "
                                    f"equal to {project[name]}.")
    quotas_db.set_limits(call.services.api_db, project_id,
                         {_to_db(k): v for k, v in values.items()}, user_id=user_id)
    return 200, _view(call.version, limits_of(quota, project_id, user_id))


@operation("deleteQuotaSet", "Revert a project's (or user's) quotas to the defaults",
           ok={202: None}, errors=(403,), admin=True, query={"user_id": {"type": "string"}})
def delete(call, project_id):
    call.authorize(_ROOT + "delete", _target(project_id))
    quotas_db.delete_limits(call.services.api_db, project_id, user_id=_user(call))
    return 202, None


@operation("showQuotaClassSet", "Show a quota class's limits",
           ok={200: keyed("quota_class_set")}, errors=(403,), admin=True)
def show_class(call, id):
    call.authorize(_CLASS_ROOT + "show", {})
    return 200, _view(call.version, _class_limits(call, id), id, "quota_class_set")


def _class_limits(call, class_name):
    values = _defaults(Quota(call.services))
    if class_name != "default":
        values.update({k: v for k, v in _stored(quotas_db.class_limits(
            call.services.api_db, class_name)).items() if k in values})
    return values


@operation("updateQuotaClassSet", "Set a quota class's limits (the default class is "
           "every project's default)", ok={200: keyed("quota_class_set")}, errors=(400, 403),
           admin=True, body=CLASS_UPDATE)
def update_class(call, id):
    call.authorize(_CLASS_ROOT + "update", {})
    body = call.json()
    schemas.validate(body, CLASS_UPDATE.at(call.version))
    values = {_to_db(k): _limit(k, v) for k, v in body["quota_class_set"].items()}
    quotas_db.set_class_limits(call.services.api_db, id, values)
    return 200, _view(call.version, _class_limits(call, id), None, "quota_class_set")


ROUTES = {
    _SET: {"GET": show, "PUT": update, "DELETE": delete},
    _SET + "/detail": {"GET": detail},
    _SET + "/defaults": {"GET": defaults},
    "/os-quota-class-sets/{id}": {"GET": show_class, "PUT": update_class},
}
