"""[placement]: how the services reach the placement API (endpoint, noauth2
or keystoneauth1 with the service user's defaults)."""
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

placement_opts = [
    cfg.URIOpt("endpoint_override",
               help="URL of the placement API. Required with noauth2; with keystone it "
                    "is found in the service catalog when unset."),
    cfg.StrOpt("auth_strategy", default="noauth2", choices=["keystone", "noauth2"],
               help="How this service authenticates to placement: keystone, as its "
                    "service user through keystoneauth1 (auth_type and the auth "
                    "plugin's options below, e.g. auth_url, username, password, "
                    "project_name), or noauth2 with noauth_token."),
    cfg.StrOpt("noauth_token", default="admin:admin", secret=True,
               help="X-Auth-Token sent to placement with noauth2."),
    cfg.StrOpt("region_name", help="Region of the placement endpoint."),
    cfg.StrOpt("valid_interfaces", default="internal,public",
               help="Catalog interfaces of the placement endpoint, in order of "
                    "preference (keystone, when endpoint_override is unset)."),
    cfg.IntOpt("timeout", default=30, min=1, help="Seconds before a placement request fails."),
]


def _placement_keystoneauth_opts():
    """keystoneauth1's options in [placement], as Nova has them: the auth
    plugin's name (auth_type, auth_section) and the session's (TLS);
    timeout stays ours. The plugin's own options (auth_url, username ...)
    are registered once the files are read: see
    :func:`register_placement_auth_plugin`."""
    ours = {opt.dest for opt in placement_opts}
    opts = ks_loading.get_auth_common_conf_options() + ks_loading.get_session_conf_options()
    return [opt for opt in opts if opt.dest not in ours]


#: The placement service user's defaults: a password in project "service"
#: of the default domain unless told otherwise.
PLACEMENT_AUTH_DEFAULTS = {"auth_type": "password", "project_name": "service",
                           "user_domain_name": "Default", "project_domain_name": "Default"}
