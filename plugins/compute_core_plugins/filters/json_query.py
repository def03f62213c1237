"""JsonFilter: the ``query`` hint, a JSON expression over the host state.

An expression is a list ``[operator, operand, ...]``; operands are literals,
nested expressions, or ``$name`` / ``$name.key.key`` lookups of host state
attributes (``$free_ram_mb``, ``$stats.gpu``). Comparison operators ``=``,
``<``, ``>``, ``<=``, ``>=`` compare the first operand with every other one
(at least two are needed), ``in`` tests the first among the others;
``not``, ``or`` and ``and`` combine. A lookup that finds nothing is dropped
from the operands. Example: ``[">=", "$free_ram_mb", 1024]``.
"""
from __future__ import annotations

import json
import operator

from compute_core_plugins.filters.per_request import PerRequestFilter


def _all_compare(op):
    def compare(args):
        return len(args) >= 2 and all(op(args[0], other) for other in args[1:])
    return compare


_OPERATORS = {
    "=": _all_compare(operator.eq),
    "<": _all_compare(operator.lt),
    ">": _all_compare(operator.gt),
    "<=": _all_compare(operator.le),
    ">=": _all_compare(operator.ge),
    "in": lambda args: len(args) >= 2 and args[0] in args[1:],
    "not": lambda args: [not a for a in args],
    "or": any,
    "and": all,
}


def lookup(host_state, ref: str):
    path = ref[1:].split(".")
    value = getattr(host_state, path[0], None)
    for key in path[1:]:
        if value is None:
            return None
        value = value.get(key)
    return value


def evaluate(expr, host_state):
    """The value of *expr* for the host (a bool, or a list for ``not``).
    An unknown operator raises KeyError."""
    if not expr:
        return True
    apply = _OPERATORS[expr[0]]
    args = []
    for arg in expr[1:]:
        if isinstance(arg, list):
            arg = evaluate(arg, host_state)
        elif isinstance(arg, str):
            if not arg:
                arg = None
            elif arg.startswith("$"):
                arg = lookup(host_state, arg)
        if arg is not None:
            args.append(arg)
    return apply(args)


class JsonFilter(PerRequestFilter):
    RUN_ON_REBUILD = False

    def prepare(self, spec_obj):
        query = spec_obj.get_scheduler_hint("query")
        if not query:
            return None
        return json.loads(query) if isinstance(query, str) else query

    def passes(self, host_state, query):
        result = evaluate(query, host_state)
        if isinstance(result, list):
            result = any(result)
        return bool(result)
