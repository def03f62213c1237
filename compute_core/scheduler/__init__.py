"""The scheduler: placement candidates, then filter and weigher plugins,
then an atomic claim. Exports the plugin contracts."""
from compute_core.scheduler.filters import BaseHostFilter, HostState, HostStates  # noqa: F401
from compute_core.scheduler.request_spec import RequestSpec  # noqa: F401
from compute_core.scheduler.weights import BaseHostWeigher  # noqa: F401
