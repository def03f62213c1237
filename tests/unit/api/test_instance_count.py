"""How many servers one create request makes (Quota.servers_allowed):
the quota's room counted once, as Nova counts it, within
[api] max_instances_per_request."""
import types

import pytest

from compute_core import exception
from compute_core.api.quota import Quota

TINY = {"vcpus": 1, "memory_mb": 512}


def api(usage, per_request=1000):
    conf = types.SimpleNamespace(api=types.SimpleNamespace(
        max_instances_per_request=per_request))
    quota = Quota(types.SimpleNamespace(conf=conf))
    quota.usage = lambda project_id, user_id=None: dict(usage)
    return quota


def count(compute, limits, min_count, max_count, flavor=TINY):
    return compute.servers_allowed("p", flavor, min_count, max_count, limits)


LIMITS = {"instances": 10, "cores": 20, "ram": 51200}


@pytest.mark.parametrize("used, min_count, max_count, expected", [
    (0, 1, 1, 1),
    (0, 1, 2147483647, 10),
    (7, 1, 2147483647, 3),
    (7, 3, 5, 3),
    (0, 4, 4, 4),
])
def test_as_many_as_the_room_allows(used, min_count, max_count, expected):
    usage = {"instances": used, "cores": used, "ram": used * 512}
    assert count(api(usage), LIMITS, min_count, max_count) == expected


def test_the_tightest_resource_decides():
    usage = {"instances": 0, "cores": 16, "ram": 0}
    assert count(api(usage), LIMITS, 1, 50, {"vcpus": 2, "memory_mb": 512}) == 2


def test_fewer_than_min_count_is_nova_s_quota_error():
    usage = {"instances": 9, "cores": 9, "ram": 9 * 512}
    with pytest.raises(exception.QuotaExceeded) as err:
        count(api(usage), LIMITS, 2, 30)
    assert err.value.message == (
        "Quota exceeded for cores, instances: Requested 30, 2-30, but already used "
        "9, 9 of 20, 10 cores, instances")


def test_unlimited_quota_is_bounded_per_request():
    unlimited = {"instances": -1, "cores": -1, "ram": -1}
    compute = api({"instances": 0, "cores": 0, "ram": 0}, per_request=25)
    assert count(compute, unlimited, 1, 2147483647) == 25
    with pytest.raises(exception.Invalid) as err:
        count(compute, unlimited, 26, 30)
    assert "min_count" in err.value.message and "25" in err.value.message
