"""The operator syntax of extra-spec requirements, as flavor extra specs use it
against host capabilities and aggregate metadata.

A requirement is either a plain string (exact match) or an operator
followed by operands:

- ``= N``: numeric, value at least N;  ``== N``, ``!= N``, ``>= N``, ``<= N``
- ``s== S``, ``s!= S``, ``s< S``, ``s<= S``, ``s> S``, ``s>= S``: string order
- ``<in> S``: S is a substring of the value
- ``<all-in> A B ...``: every word is in the value
- ``<or> A <or> B ...``: the value equals one of the words
"""
from __future__ import annotations

import operator


def _num(compare):
    return lambda value, operand: compare(float(value), float(operand))


_BINARY = {
    "=": _num(operator.ge),
    "==": _num(operator.eq),
    "!=": _num(operator.ne),
    ">=": _num(operator.ge),
    "<=": _num(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda value, operand: operand in value,
}


def matches(value, requirement: str) -> bool:
    """True if *value* (a string) satisfies *requirement*. A numeric operator
    over a non-number raises ValueError."""
    words = str(requirement).split()
    op = words[0] if words else None
    if op == "<or>":
        # "<or> a <or> b": the alternatives sit at the odd positions.
        return value is not None and value in words[1::2]
    if op == "<all-in>":
        return value is not None and len(words) > 1 and all(w in value for w in words[1:])
    compare = _BINARY.get(op)
    if compare is None:
        return value == requirement
    if value is None or len(words) < 2:
        return False
    return compare(value, words[1])
