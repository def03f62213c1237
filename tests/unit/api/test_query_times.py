"""The times of the query parameters (compute_core.api.query): the forms
Nova's ``date-time`` takes (the iso8601 library's), each as a naive UTC
datetime, and a 400 naming the parameter for the rest."""
import datetime
import types

import pytest
import webob

from compute_core.api import query
from compute_core.api.faults import APIError

D = datetime.datetime


def call(query_string):
    return types.SimpleNamespace(req=webob.Request.blank("/servers?" + query_string))


@pytest.mark.parametrize("text, expected", [
    ("2026-02-04T10:20:30Z", D(2026, 2, 4, 10, 20, 30)),
    ("2026-02-04T10:20:30", D(2026, 2, 4, 10, 20, 30)),  # no zone: UTC
    ("2026-02-04T10:20:30.25+02:00", D(2026, 2, 4, 8, 20, 30, 250000)),
    ("2026-02-04T10:20:30,5-0130", D(2026, 2, 4, 11, 50, 30, 500000)),
    ("2026-02-04T10:20:30+05", D(2026, 2, 4, 5, 20, 30)),
    ("2026-02-04 10:20", D(2026, 2, 4, 10, 20)),
    ("2026-02-04T10", D(2026, 2, 4, 10)),
    ("20260204T102030Z", D(2026, 2, 4, 10, 20, 30)),
    ("20260204", D(2026, 2, 4)),
    ("2026-02-04", D(2026, 2, 4)),
    ("2026-2-4", D(2026, 2, 4)),
    ("2026-02", D(2026, 2, 1)),
    ("2026", D(2026, 1, 1)),
])
def test_nova_forms_are_taken(text, expected):
    assert query.utc_naive(text) == expected


@pytest.mark.parametrize("text", [
    "2026-W05-3", "2026-W05", "2026W053",  # week dates
    "2026-035", "2026035",  # ordinal dates
    "202602",  # YYYYMM
    "2026-02-04t10:20:30Z", "2026-02-04T10:20:30z",  # lower case
    "2026-02-30", "2026-13-01", "2026-02-04T24:00:00", "2026-02-04T10:20:60",
    "2026-02-04T10:20:30+24:00", "2026-02-04T10:20:30 +01:00",
    "", "now", "1770200430", "２０２６-02-04",
])
def test_other_forms_are_refused(text):
    with pytest.raises(ValueError):
        query.utc_naive(text)


def test_timestamp_refusal_names_the_parameter():
    with pytest.raises(APIError) as caught:
        query.timestamp(call("changes-since=2026-W05-3"), "changes-since")
    assert caught.value.code == 400
    assert caught.value.message == ("Invalid input for query parameters changes-since. "
                                    "Value: 2026-W05-3. '2026-W05-3' is not a 'date-time'")


def test_timestamp_checks_every_value_and_takes_the_last():
    both = "changes-since=2026-01-01&changes-since=2026-02-01"
    assert query.timestamp(call(both), "changes-since") == D(2026, 2, 1)
    with pytest.raises(APIError) as caught:
        query.timestamp(call("changes-since=2026-035&changes-since=2026-02-01"),
                        "changes-since")
    assert "'2026-035' is not a 'date-time'" in caught.value.message
    assert query.timestamp(call("other=1"), "changes-since") is None


def test_out_of_utc_range_is_a_400():
    with pytest.raises(APIError) as caught:
        query.timestamp(call("changes-before=9999-12-31T23:59:59-01:00"), "changes-before")
    assert "changes-before" in caught.value.message and "range" in caught.value.message


def test_single_timestamp_takes_one_value():
    assert query.single_timestamp(call("changes-since=2026-02-04"), "changes-since") == \
        D(2026, 2, 4)
    assert query.single_timestamp(call(""), "changes-since") is None
    with pytest.raises(APIError) as caught:
        query.single_timestamp(call("changes-since=2026&changes-since=2027"), "changes-since")
    assert "changes-since" in caught.value.message and "too long" in caught.value.message
