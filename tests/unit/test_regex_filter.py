"""Regular-expression list filters run on RE2 (compute_core.regex_filter)."""
import re

import pytest

from compute_core import exception, regex_filter


@pytest.mark.timeout(30)
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)+$", "(a*)*b", "^(a|a?)+$",
                                     "(.*a){25}$"])
def test_evil_patterns_answer_at_once(pattern):
    # A backtracking engine explores about 2^30 ways of each of these.
    assert regex_filter.matches(pattern, "a" * 30 + "!") is False


@pytest.mark.parametrize("pattern, text", [
    ("vm", "my-vm-1"), ("^vm", "my-vm-1"), ("^my-", "my-vm-1"), ("1$", "my-vm-1"),
    ("v.-", "my-vm-1"), ("[0-9]+", "abc"), ("(?i)VM", "my-vm"), ("é", "café"),
    ("", "anything"), ("x", None),
])
def test_search_semantics_are_python_s(pattern, text):
    assert regex_filter.matches(pattern, text) == bool(re.search(pattern, text or ""))


@pytest.mark.parametrize("pattern", ["(", "(a)\\1", "(?=a)b", "a{2,1}", "[z-a]"])
def test_invalid_or_backtracking_only_patterns_are_invalid(pattern):
    with pytest.raises(exception.Invalid) as err:
        regex_filter.compile_filter(pattern, "ip")
    assert "query parameters ip" in err.value.message
    assert "not a valid regular expression" in err.value.message
