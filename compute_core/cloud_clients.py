"""The clients' side of the embedded cloud (:class:`compute_core.cloud.Cloud`
takes it in): tokens of its users (noauth2's ``user:project``, or issued by
its identity endpoint), the admin check of the control API, and what an
OpenStack client is given to reach it (clouds.yaml, an openstacksdk
Connection)."""
from __future__ import annotations

from compute_core import clock as clock_mod
from compute_core import exception

ADMIN_TOKEN = "admin:admin"
MEMBER_TOKEN = "demo:demo"
REGION = "RegionOne"


class CloudClients:
    """Tokens and client configuration of a :class:`~compute_core.cloud.Cloud`
    (whose ``auth``, ``identity``, ``clock``, URLs and declared users it reads)."""

    @property
    def admin_token(self) -> str:
        """A token of the admin (project admin)."""
        return self.token("admin", "admin") if self.auth == "keystone" else ADMIN_TOKEN

    @property
    def member_token(self) -> str:
        """A token of the member demo (project demo)."""
        return self.token("demo", "demo") if self.auth == "keystone" else MEMBER_TOKEN

    def token(self, user, project=None) -> str:
        """A valid token of *user* scoped to *project* (default: the user's
        declared project): ``user:project`` with noauth2, else one the
        identity endpoint issued (reused until near its expiry)."""
        if self.auth != "keystone":
            return ADMIN_TOKEN if user == "admin" else f"{user}:{project or user}"
        key = (user, project)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached.expires_at - self.clock.time() > 60:
                return cached.id
            account = self.identity.user(name=user)
            if account is None:
                raise exception.NotFound(f"no identity user {user!r}")
            project_id = account["default_project_id"] if project is None else \
                (self.identity.project(name=project) or {}).get("id")
            token = self.identity.issue_token(account["id"], project_id)
            self._tokens[key] = token
            return token.id

    def is_admin_token(self, token) -> bool:
        """Whether *token* is an admin's (the control API's check)."""
        if not token:
            return False
        if self.auth != "keystone":
            return token.split(":", 1)[0] == "admin"
        with clock_mod.using(self.clock):
            found = self.identity.token(token)
        if found is None:
            return False
        return any(r["name"] == "admin" for r in self.identity.roles_by_id(found.role_ids))

    # ---------------------------------------------------------- clients
    def _credentials(self, project, user):
        """(user, password, project) for password authentication."""
        user = user or project or "demo"
        if user not in self._passwords:
            raise exception.NotFound(f"no declared identity user {user!r}")
        password, own_project = self._passwords[user]
        if project is None or (user == "admin" and project == "demo"):
            project = own_project
        return user, password, project

    def _password_auth(self, project, user) -> dict:
        user, password, project = self._credentials(project, user)
        return {"auth_url": self.identity_url + "/v3", "username": user, "password": password,
                "project_name": project, "user_domain_name": "Default",
                "project_domain_name": "Default"}

    def clouds_yaml(self, name="compute-core", project="demo", user=None) -> dict:
        """A clouds.yaml document for openstacksdk/OpenStackClient: password
        authentication at the identity endpoint (auth="keystone"; every
        client works), else noauth2's admin_token with endpoint overrides."""
        if self.auth == "keystone":
            return {"clouds": {name: {
                "auth_type": "password", "auth": self._password_auth(project, user),
                "region_name": REGION, "identity_api_version": "3",
                "interface": "public"}}}
        user = user or project
        token = ADMIN_TOKEN if user == "admin" else f"{user}:{project}"
        return {"clouds": {name: {
            "auth_type": "admin_token",
            "auth": {"token": token, "endpoint": self.compute_url},
            "compute_endpoint_override": self.compute_url,
            "placement_endpoint_override": self.placement_url,
            "image_endpoint_override": self.image_url,
            "region_name": "RegionOne",
            "identity_api_version": "3",
        }}}

    def connection(self, project="demo", user=None):
        """An openstacksdk Connection to this cloud (needs openstacksdk)."""
        import openstack

        if self.auth == "keystone":
            return openstack.connect(auth_type="password",
                                     auth=self._password_auth(project, user),
                                     region_name=REGION, load_envvars=False,
                                     load_yaml_config=False)
        user = user or project
        token = ADMIN_TOKEN if user == "admin" else f"{user}:{project}"
        return openstack.connect(
            auth_type="admin_token", auth={"token": token, "endpoint": self.compute_url},
            compute_endpoint_override=self.compute_url,
            placement_endpoint_override=self.placement_url,
            image_endpoint_override=self.image_url,
            region_name="RegionOne", load_envvars=False, load_yaml_config=False)
