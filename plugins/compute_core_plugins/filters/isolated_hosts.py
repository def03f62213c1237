"""IsolatedHostsFilter: keep ``isolated_images`` on ``isolated_hosts``.

An isolated image runs only on isolated hosts. With
``restrict_isolated_hosts_to_isolated_images`` (the default) isolated hosts
also run nothing else; without it they take any image.
"""
from compute_core_plugins.filters.per_request import PerRequestFilter


class IsolatedHostsFilter(PerRequestFilter):
    run_filter_once_per_request = True
    RUN_ON_REBUILD = True

    def prepare(self, spec_obj):
        fs = self.conf.filter_scheduler
        image_id = (spec_obj.image or {}).get("id")
        image_isolated = bool(fs.isolated_images) and image_id in fs.isolated_images
        restrict = fs.restrict_isolated_hosts_to_isolated_images
        if not image_isolated and not restrict:
            return None
        return set(fs.isolated_hosts), image_isolated, restrict

    def passes(self, host_state, wanted):
        isolated_hosts, image_isolated, restrict = wanted
        host_isolated = host_state.host in isolated_hosts
        if image_isolated:
            return host_isolated
        return not (restrict and host_isolated)
