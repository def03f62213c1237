"""The embedded cloud's identity endpoint: the part of Keystone v3 that
clients and keystonemiddleware use (version discovery, tokens, the service
catalog, project/user/role listings), so every OpenStack client and the
production auth path (keystonemiddleware's auth_token) work against
``compute-aio`` unchanged. Production uses a real Keystone.

* :mod:`.schema` its tables (its own SQLite file in the state directory);
* :mod:`.store` the object layer: users, projects, roles, application
  credentials and tokens (with expiry and revocation);
* :mod:`.app` the routing table, Keystone's error format and the token
  checks handlers share; :mod:`.handlers` one module per resource.

Exports :class:`IdentityServices` (what the handlers reach) and
:class:`UserSpec` (a declared user).
"""
from compute_core.identity.store import IdentityServices, UserSpec, parse_user_spec

__all__ = ["IdentityServices", "UserSpec", "parse_user_spec"]
