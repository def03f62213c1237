"""The last completed audit period of [DEFAULT] instance_usage_audit_period,
as Nova counts them: unit and @offset, the period that ends exactly now is
not completed yet, and months and years wrap."""
from datetime import datetime as dt

import pytest

from compute_core.compute.audit import last_completed_period


@pytest.mark.parametrize("unit,now,expected", [
    ("hour", dt(2026, 12, 4, 19, 45, 12), (dt(2026, 12, 4, 18), dt(2026, 12, 4, 19))),
    ("hour", dt(2026, 12, 4, 19, 0, 0), (dt(2026, 12, 4, 17), dt(2026, 12, 4, 18))),
    ("hour@30", dt(2026, 12, 4, 19, 45), (dt(2026, 12, 4, 18, 30), dt(2026, 12, 4, 19, 30))),
    ("hour@30", dt(2026, 12, 4, 19, 10), (dt(2026, 12, 4, 17, 30), dt(2026, 12, 4, 18, 30))),
    ("hour", dt(2026, 1, 1, 0, 30), (dt(2025, 12, 31, 23), dt(2026, 1, 1, 0))),
    ("day", dt(2026, 12, 4, 19, 45), (dt(2026, 12, 3), dt(2026, 12, 4))),
    ("day@18", dt(2026, 12, 4, 19, 45), (dt(2026, 12, 3, 18), dt(2026, 12, 4, 18))),
    ("day@20", dt(2026, 12, 4, 19, 45), (dt(2026, 12, 2, 20), dt(2026, 12, 3, 20))),
    ("day", dt(2026, 3, 1, 5), (dt(2026, 2, 28), dt(2026, 3, 1))),
    ("month", dt(2026, 12, 4, 19, 45), (dt(2026, 11, 1), dt(2026, 12, 1))),
    ("month", dt(2026, 12, 1, 0, 0), (dt(2026, 10, 1), dt(2026, 11, 1))),
    ("month", dt(2026, 1, 15), (dt(2025, 12, 1), dt(2026, 1, 1))),
    ("month", dt(2026, 2, 15), (dt(2026, 1, 1), dt(2026, 2, 1))),
    ("month@15", dt(2026, 12, 4), (dt(2026, 10, 15), dt(2026, 11, 15))),
    ("month@15", dt(2026, 1, 10), (dt(2025, 11, 15), dt(2025, 12, 15))),
    ("month@15", dt(2026, 1, 20), (dt(2025, 12, 15), dt(2026, 1, 15))),
    ("year", dt(2026, 12, 4), (dt(2025, 1, 1), dt(2026, 1, 1))),
    ("year", dt(2026, 1, 1), (dt(2024, 1, 1), dt(2025, 1, 1))),
    ("year@3", dt(2026, 2, 1), (dt(2024, 3, 1), dt(2025, 3, 1))),
    ("year@3", dt(2026, 4, 1), (dt(2025, 3, 1), dt(2026, 3, 1))),
])
def test_last_completed_period(unit, now, expected):
    assert last_completed_period(unit, now) == expected


@pytest.mark.parametrize("unit", ["hour", "day@6", "month", "month@28", "year@7"])
def test_each_period_ends_where_the_next_begins(unit):
    moment = dt(2026, 12, 4, 19, 45)
    begin, end = last_completed_period(unit, moment)
    assert begin < end < moment
    earlier = last_completed_period(unit, begin + (end - begin) / 2)
    assert earlier[1] == begin


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError):
        last_completed_period("week", dt(2026, 12, 4))


@pytest.mark.parametrize("value,valid", [
    ("month@28", True), ("hour@59", True), ("day@23", True), ("year@12", True),
    ("month@31", False), ("hour@60", False), ("day@24", False), ("year@13", False),
    ("week", False),
])
def test_the_option_takes_only_offsets_every_period_has(value, valid):
    """month@31 would have no start in February: refused when the
    configuration is read, not a failure of the audit or its API later."""
    from oslo_config import cfg

    from compute_core.conf import opts

    conf = cfg.ConfigOpts()
    conf.register_opts(opts.default_opts)
    conf([], project="compute_core_test", default_config_files=[])
    if valid:
        conf.set_override("instance_usage_audit_period", value)
        assert conf.instance_usage_audit_period == value
    else:
        with pytest.raises(ValueError, match="regex"):
            conf.set_override("instance_usage_audit_period", value)
