"""The Compute API's surface: the resource modules, one line each.

Each module's ``ROUTES`` (``{path: {method: handler}}``) joins the routing
table; its ``RULES`` join the policy. Adding a resource is adding a module
under ``compute_core/api/resources/`` and a line here.
"""
from __future__ import annotations

from compute_core.api.microversion import VersionDispatch
from compute_core.api.resources import (aggregates, attach_interfaces, availability_zones, console_auth_tokens,
                                        extensions, remote_consoles,
                                        flavor_access, instance_usage_audit_log,
                                        flavor_extra_specs, flavors, hypervisors, images,
                                        instance_actions, keypairs, lifecycle_actions, limits, migrations,
                                        os_hosts, quota_sets, removed, server_actions, server_diagnostics,
                                        server_external_events,
                                        server_groups, server_password,
                                        server_ips, server_metadata, server_tags, servers,
                                        services, simple_tenant_usage, versions)

RESOURCES = (
    versions,
    servers,
    server_actions,
    lifecycle_actions,
    instance_actions,
    flavors,
    flavor_extra_specs,
    flavor_access,
    services,
    hypervisors,
    limits,
    quota_sets,
    simple_tenant_usage,
    migrations,
    extensions,
    os_hosts,
    server_external_events,
    server_password,
    server_diagnostics,
    instance_usage_audit_log,
    images,
    keypairs,
    server_groups,
    server_metadata,
    server_tags,
    server_ips,
    attach_interfaces,
    aggregates,
    availability_zones,
    remote_consoles,
    console_auth_tokens,
    removed,
)


def route_declarations(resources=RESOURCES) -> dict:
    """``{path: {method: handler}}`` of *resources*; a method that lists
    several handlers (each @versioned) becomes a VersionDispatch. A path and
    method declared twice is an error."""
    table: dict = {}
    for module in resources:
        for path, methods in module.ROUTES.items():
            merged = table.setdefault(path, {})
            for method, handler in methods.items():
                if method in merged:
                    raise ValueError(f"{method} {path} is declared twice (again by "
                                     f"{module.__name__})")
                if isinstance(handler, (tuple, list)):
                    handler = VersionDispatch(handler)
                merged[method] = handler
    return table


ROUTE_DECLARATIONS = route_declarations()
