"""Quota: a project's limits and usage, and the checks a create or resize
makes against them (the ``limits`` resource shows them; ``os-quota-sets``
will edit them). Usage is counted from the rows themselves, never kept."""
from __future__ import annotations

from compute_core import exception
from compute_core.db import api_db, cell_db
from compute_core.db import quotas as quotas_db

# The limits [quota] sets by default, as the API names them
LIMITED = ("instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups",
           "server_group_members", "injected_files", "injected_file_content_bytes",
           "injected_file_path_length")


class Quota:
    def __init__(self, services):
        self.s = services

    def defaults(self) -> dict:
        """The limits of a project nobody set limits for: [quota], then the
        default quota class's."""
        q = self.s.conf.quota
        return {k: getattr(q, k) for k in LIMITED}

    def limits(self, project_id, user_id=None) -> dict:
        """The project's limits; with *user_id*, that user's (a user's own
        limits override the project's)."""
        limits = api_db.get_quota_limits(self.s.api_db, project_id, self.defaults())
        if user_id is not None:
            limits.update(quotas_db.user_limits(self.s.api_db, project_id, user_id))
        return limits

    def limits_and_user_bounds(self, project_id, user_id) -> tuple[dict, dict]:
        """:meth:`limits` of the project and :meth:`user_bounds` of the
        user, read at once (a boot needs both)."""
        if user_id is None:
            return self.limits(project_id), {}
        limits, own = api_db.get_quota_limits_and_user(self.s.api_db, project_id, user_id,
                                                       self.defaults())
        return limits, _bounds(own)

    def usage(self, project_id, user_id=None) -> dict:
        """Servers, cores and RAM the project (or one of its users) uses."""
        usage = {"instances": 0, "cores": 0, "ram": 0}
        # The build requests first, and the cell rows but theirs: a server
        # the conductor moves into a cell meanwhile is counted once (as the
        # listing sees it once).
        builds = api_db.list_build_requests(self.s.api_db, project_id)
        for build in builds:
            inst = build["instance"]
            if user_id is not None and inst.get("user_id") != user_id:
                continue
            usage["instances"] += 1
            usage["cores"] += inst.get("vcpus") or 0
            usage["ram"] += inst.get("memory_mb") or 0
        moving = [b["instance_uuid"] for b in builds]
        for cell in self.s.cells.cells(include_cell0=True):
            counted = cell_db.count_instances(self.s.cells.get(cell["uuid"]), project_id,
                                              user_id=user_id, exclude_uuids=moving)
            for k in usage:
                usage[k] += counted[k]
        return usage

    def check_servers(self, project_id, count, flavor, already_recorded=0, limits=None,
                      user_id=None, user_bounds=None):
        """Raise QuotaExceeded unless *count* more servers of *flavor* fit;
        *already_recorded* of them are counted in the usage already;
        *limits*: the project's limits when the caller has read them. With
        *user_id*, the limits set for that user hold too (*user_bounds*:
        them, as :meth:`user_bounds` gave them, when the caller has read
        them)."""
        per_server = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["memory_mb"]}
        wanted = {k: count * v for k, v in per_server.items()}
        recorded = {k: already_recorded * v for k, v in per_server.items()}
        self.check_room(project_id, wanted, recorded, limits)
        bounds = self.user_bounds(project_id, user_id) if user_bounds is None else user_bounds
        if bounds:
            usage = self.usage(project_id, user_id)
            for resource, limit in bounds.items():
                used = usage[resource] - recorded[resource]
                if used + wanted[resource] > limit:
                    raise exception.QuotaExceeded(overs=resource, req=wanted[resource],
                                                  used=used, allowed=limit)

    def user_bounds(self, project_id, user_id) -> dict:
        """The limits on servers, cores and RAM set for the user itself."""
        if user_id is None:
            return {}
        return _bounds(quotas_db.user_limits(self.s.api_db, project_id, user_id))

    def check_room(self, project_id, wanted: dict, recorded=None, limits=None):
        """Raise QuotaExceeded unless the project's usage (less *recorded*,
        what of *wanted* it counts already) plus *wanted* fits every limited
        resource among instances, cores and ram."""
        limits = self.limits(project_id) if limits is None else limits
        limited = [r for r in ("instances", "cores", "ram")
                   if r in wanted and limits.get(r) is not None and limits[r] >= 0]
        if not limited:
            return  # unlimited: nothing to count
        usage = self.usage(project_id)
        for resource in limited:
            used = usage[resource] - (recorded or {}).get(resource, 0)
            if used + wanted[resource] > limits[resource]:
                raise exception.QuotaExceeded(overs=resource, req=wanted[resource],
                                              used=used, allowed=limits[resource])

    def check_upsize(self, project_id, old, new):
        """Raise QuotaExceeded unless the project's cores and ram have room
        for what flavor *new* adds over *old* (a downsize adds nothing)."""
        deltas = {"cores": new["vcpus"] - old.get("vcpus", 0),
                  "ram": new["memory_mb"] - old.get("memory_mb", 0)}
        deltas = {k: v for k, v in deltas.items() if v > 0}
        if deltas:
            self.check_room(project_id, deltas)

    def servers_allowed(self, project_id, flavor, min_count, max_count, limits,
                        user_id=None, user_bounds=None) -> int:
        """How many servers of *flavor* to create: as many as the quota's
        room allows up to *max_count* (and [api] max_instances_per_request),
        counted once, as Nova does; QuotaExceeded, with Nova's details of
        the whole request, when that is fewer than *min_count*. *user_bounds*:
        as for :meth:`check_servers`."""
        allowed = self._servers_allowed(project_id, flavor, min_count, max_count, limits)
        bounds = self.user_bounds(project_id, user_id) if user_bounds is None else user_bounds
        if bounds:  # the user's own limits, over the user's own servers
            allowed = min(allowed, self._servers_allowed(
                project_id, flavor, min_count, allowed, bounds, user_id))
        return allowed

    def _servers_allowed(self, project_id, flavor, min_count, max_count, limits,
                         user_id=None) -> int:
        bound = self.s.conf.api.max_instances_per_request
        if min_count > bound:
            raise exception.Invalid(f"Invalid input for field/attribute min_count. Value: "
                                    f"{min_count}. At most {bound} servers may be created "
                                    f"by one request ([api] max_instances_per_request)")
        allowed = min(max_count, bound)
        per_server = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["memory_mb"]}
        limited = [r for r in sorted(per_server)
                   if limits.get(r) is not None and limits[r] >= 0]
        if not limited:
            return allowed
        usage = self.usage(project_id, user_id)
        for resource in limited:
            if per_server[resource] > 0:
                room = max(limits[resource] - usage[resource], 0) // per_server[resource]
                allowed = min(allowed, room)
        if allowed >= min_count:
            return allowed
        overs = [r for r in limited
                 if usage[r] + max_count * per_server[r] > limits[r]]
        requested = {r: max_count * per_server[r] for r in per_server}
        requested["instances"] = str(min_count) if min_count == max_count else \
            f"{min_count}-{max_count}"
        raise exception.QuotaExceeded(
            overs=", ".join(overs), req=", ".join(str(requested[r]) for r in overs),
            used=", ".join(str(usage[r]) for r in overs),
            allowed=", ".join(str(limits[r]) for r in overs))


def _bounds(own: dict) -> dict:
    """Of a user's own limits, those on servers, cores and RAM that bound."""
    return {r: v for r, v in own.items()
            if r in ("instances", "cores", "ram") and v is not None and v >= 0}
