"""Exceptions of compute_core. Each API-facing one carries its HTTP code."""


class ComputeCoreError(Exception):
    """Base of our exceptions; ``code`` is the HTTP status it maps to."""

    code = 500
    msg_fmt = "An unknown error occurred."

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        super().__init__(message)
        self.message = str(message)


class ConfigError(ComputeCoreError):
    msg_fmt = "Invalid configuration."


class PluginLoadError(ComputeCoreError):
    msg_fmt = "Could not load plugin."


class NotFound(ComputeCoreError):
    code = 404
    msg_fmt = "Resource could not be found."


class Invalid(ComputeCoreError):
    code = 400
    msg_fmt = "Unacceptable parameters."


class Conflict(ComputeCoreError):
    code = 409
    msg_fmt = "Conflict."


class Forbidden(ComputeCoreError):
    code = 403
    msg_fmt = "Policy doesn't allow this operation to be performed."


class InstanceNotFound(NotFound):
    msg_fmt = "Instance %(instance_id)s could not be found."


class FlavorNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s could not be found."


class ImageNotFound(NotFound):
    msg_fmt = "Image %(image_id)s could not be found."


class ImageServiceUnavailable(ComputeCoreError):
    code = 503
    msg_fmt = "The image service could not be reached: %(reason)s"


class CellMappingNotFound(NotFound):
    msg_fmt = "Cell %(uuid)s has no mapping."


class ComputeHostNotFound(NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


class HypervisorNotFound(NotFound):
    msg_fmt = "Hypervisor %(hypervisor)s could not be found."


class KeypairNotFound(NotFound):
    msg_fmt = "Keypair %(name)s not found for user %(user_id)s"


class QuotaExceeded(ComputeCoreError):
    code = 403
    msg_fmt = "Quota exceeded for %(overs)s: Requested %(req)s, but already used %(used)s of %(allowed)s %(overs)s"


class NoValidHost(ComputeCoreError):
    msg_fmt = "No valid host was found. %(reason)s"


class InstanceInvalidState(Conflict):
    msg_fmt = ("Cannot '%(action)s' instance %(instance_uuid)s while it is in "
               "%(attr)s %(state)s")


class ConsoleTypeUnavailable(Invalid):
    """A console type this deployment or this compute host does not serve
    ([vnc]/[spice]/[serial_console] enabled off), or a guest made without
    it (Nova's 400)."""

    msg_fmt = "Unavailable console type %(console_type)s."


class NotSupportedByDriver(Conflict):
    msg_fmt = "The %(driver)s driver does not support %(action)s."


class VirtDriverError(ComputeCoreError):
    msg_fmt = "Virt driver failure: %(reason)s"


class LiveMigrationAborted(VirtDriverError):
    msg_fmt = "Live migration of %(instance_uuid)s aborted: %(reason)s"


class InstanceDeleted(ComputeCoreError):
    msg_fmt = "Instance %(instance_uuid)s was deleted while it was being built."


class NoMoreFixedIps(ComputeCoreError):
    msg_fmt = "No fixed IP addresses available for network %(net)s"


class DatabaseNotMigrated(ComputeCoreError):
    msg_fmt = "The %(which)s database is not migrated: run %(command)s."


class MarkerNotFound(Invalid):
    msg_fmt = "Marker %(marker)s could not be found."


class InstanceIsLocked(Conflict):
    msg_fmt = "Instance %(instance_uuid)s is locked"


class SecurityGroupNotFound(NotFound):
    msg_fmt = "Security group %(security_group_id)s not found."


class NotImplementedByDriver(ComputeCoreError):
    """What a driver declared it can do but cannot do for this guest now
    (the API answers 501, as Nova does for a password it cannot set)."""

    code = 501
    msg_fmt = "Unable to %(action)s: the virt driver does not implement it."


class PortNotFound(NotFound):
    msg_fmt = "Port id %(port_id)s could not be found."


class PortInUse(Conflict):
    msg_fmt = "Port %(port_id)s is still in use."


class PortNotUsable(Invalid):
    """A port of another project than the instance's (Nova's check of a
    Neutron port's tenant_id)."""

    msg_fmt = "Port %(port_id)s not usable for instance %(instance)s."


class NetworkNotFound(NotFound):
    msg_fmt = "Network %(network_id)s could not be found."


class FixedIpAlreadyInUse(Conflict):
    msg_fmt = "Fixed IP address %(address)s is already in use on network %(network)s."


class PortsNotSupported(ComputeCoreError):
    """A network backend that does not manage ports one by one (os-interface
    answers 501, as Nova does when its network API cannot)."""

    code = 501
    msg_fmt = "The network backend %(backend)s does not manage ports."
