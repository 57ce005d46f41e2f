"""A small, safe expression language for rule conditions: :class:`Expression`.

Conditions read like Python but are parsed with :mod:`ast` and run by an interpreter of a
fixed set of node types here, never by ``eval``: no attribute access, subscripts, imports,
lambdas or comprehensions, only these:

- numbers, strings, ``true``/``false`` (also ``True``/``False``), ``none``;
- names of the twin's values: telemetry signals, reported properties, estimates and anomaly
  scores; a dotted name is one name (``estimate.health``, ``anomaly.temperature.flag``);
  a name that is not a valid identifier can be written ``value("rotor speed")``;
- arithmetic ``+ - * / % **``, comparisons (chained: ``60 < temperature <= 80``),
  ``and``, ``or``, ``not``, ``x if c else y``, ``in`` / ``not in`` over a list ``[...]``;
- functions: ``abs``, ``min``, ``max``, ``round``, ``value(name)``, ``exists(name)``,
  ``rate(name)`` (change per second between the last two readings of a signal) and
  ``rate(name, seconds)`` (change per second over the last ``seconds``), ``avg(name, seconds)``
  (mean of the readings in the last ``seconds``).

A value that is missing (a signal not heard from yet, a rate with one reading) makes the whole
condition *unknown* (:data:`UNKNOWN`, returned by :meth:`Expression.evaluate`), except under
``exists``; a rule leaves its state alone on an unknown result. Errors of the text (syntax, an
unknown function, a construct outside the language) are :class:`~holotwin.errors.InvalidInputError`
with the position; the size of an expression and of the numbers it makes are bounded.

>>> e = Expression("temperature > 80 and rate(temperature) > 0.5")
>>> sorted(e.names)
['temperature']
>>> e.evaluate(Values({"temperature": [(0.0, 79.0), (2.0, 82.0)]}))
True
>>> Expression("estimate.health < 0.3").evaluate(Values({})) is UNKNOWN
True
"""

from __future__ import annotations

import ast
import bisect
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from holotwin.errors import InvalidInputError

__all__ = ["UNKNOWN", "Expression", "Values"]

MAX_LENGTH = 2000
MAX_NODES = 300
#: the window assumed for a rate() or avg() whose seconds are not a constant, s
MAX_WINDOW = 3600.0
_MAX_EXPONENT = 64.0
_MAX_MAGNITUDE = 1e300


class _Unknown:
    """The result of a condition whose values are not all known yet."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; compare with `is UNKNOWN`")


UNKNOWN: Final = _Unknown()


def _time(point: tuple[float, Any]) -> float:
    return float(point[0])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_Code = Callable[["Values"], Any]


class _Missing(Exception):
    """A value the expression needs is not known (caught: the result is UNKNOWN)."""


class Values:
    """What an expression reads: recent readings per name, oldest first, as ``(time, value)``
    pairs (a property has one pair), at evaluation time ``now`` (default: the latest time)."""

    def __init__(self, series: Mapping[str, Sequence[tuple[float, Any]]],
                 now: float | None = None) -> None:
        self.series = series
        self.now = now if now is not None else max(
            (s[-1][0] for s in series.values() if s), default=0.0)

    def latest(self, name: str) -> Any:
        points = self.series.get(name)
        if not points:
            raise _Missing(name)
        return points[-1][1]

    def numbers(self, name: str, seconds: float) -> list[tuple[float, float]]:
        """The numeric readings of the last ``seconds``."""
        points = self.series.get(name) or ()
        first = bisect.bisect_left(points, self.now - seconds, key=_time)
        return [(t, float(v)) for t, v in points[first:] if _is_number(v)]

    def rate(self, name: str, seconds: float | None) -> float:
        """Change per second between the first and the last numeric reading of the last
        ``seconds`` (None: the last two numeric readings)."""
        points = self.series.get(name) or ()
        if seconds is None:
            ends = [p for p in reversed(points) if _is_number(p[1])][:2][::-1]
        else:
            first = bisect.bisect_left(points, self.now - seconds, key=_time)
            window = points[first:]
            head = next((p for p in window if _is_number(p[1])), None)
            tail = next((p for p in reversed(window) if _is_number(p[1])), None)
            ends = [] if head is None or tail is None else [head, tail]
        if len(ends) < 2 or ends[1][0] <= ends[0][0]:
            raise _Missing(name)
        return (float(ends[1][1]) - float(ends[0][1])) / float(ends[1][0] - ends[0][0])


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "none": None,
              "None": None}
# function name -> (min args, max args, which args are value names)
_FUNCTIONS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "abs": (1, 1, ()), "min": (1, 16, ()), "max": (1, 16, ()), "round": (1, 2, ()),
    "value": (1, 1, (0,)), "exists": (1, 1, (0,)), "rate": (1, 2, (0,)),
    "avg": (2, 2, (0,)),
}


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` as one name, or None when ``node`` is not a chain of plain names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class Expression:
    """A parsed condition (see the module docs); raises :class:`InvalidInputError` for text
    outside the language."""

    def __init__(self, text: object, what: str = "expression") -> None:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"The {what} must be a non-empty string")
        if len(text) > MAX_LENGTH:
            raise InvalidInputError(f"The {what} is longer than {MAX_LENGTH} characters")
        self.text = text
        self.what = what
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise InvalidInputError(
                f"The {what} {text!r} is not valid: {exc.msg} at column {exc.offset}") from None
        nodes = sum(1 for _ in ast.walk(tree))
        if nodes > MAX_NODES:
            raise InvalidInputError(f"The {what} is too large ({nodes} parts, at most "
                                    f"{MAX_NODES})")
        self.names: set[str] = set()
        #: the longest window of its rate() and avg() calls, s (0: none)
        self.window = 0.0
        self._check(tree.body)
        self._run = self._compile(tree.body)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    # checking ----------------------------------------------------------------------------
    def _refuse(self, node: ast.AST, what: str) -> InvalidInputError:
        column = getattr(node, "col_offset", 0) + 1
        return InvalidInputError(f"The {self.what} {self.text!r} uses {what} at column "
                                 f"{column}, which conditions do not allow")

    def _check(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool) and node.value is not None:
                raise self._refuse(node, f"the constant {node.value!r}")
        elif isinstance(node, ast.Name | ast.Attribute):
            name = _dotted(node)
            if name is None or any(part.startswith("__") for part in name.split(".")):
                raise self._refuse(node, "attribute access")
            if name not in _CONSTANTS:
                self.names.add(name)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
                raise self._refuse(node, f"the operator {type(node.op).__name__}")
            self._check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check(value)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise self._refuse(node, f"the comparison {type(op).__name__}")
            for value in [node.left, *node.comparators]:
                self._check(value)
        elif isinstance(node, ast.IfExp):
            for value in (node.test, node.body, node.orelse):
                self._check(value)
        elif isinstance(node, ast.List | ast.Tuple):
            for value in node.elts:
                self._check(value)
        elif isinstance(node, ast.Call):
            self._check_call(node)
        else:
            raise self._refuse(node, type(node).__name__)

    def _check_call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name is None or name not in _FUNCTIONS:
            shown = name or ast.unparse(node.func)
            raise InvalidInputError(
                f"The {self.what} {self.text!r} calls {shown!r}; the functions are "
                f"{', '.join(sorted(_FUNCTIONS))}")
        low, high, named = _FUNCTIONS[name]
        if node.keywords or not low <= len(node.args) <= high:
            count = f"{low}" if low == high else f"{low} to {high}"
            raise InvalidInputError(f"The {self.what} {self.text!r}: {name}() takes {count} "
                                    "positional argument(s)")
        if name in ("rate", "avg") and len(node.args) > 1:
            given = node.args[1].value if isinstance(node.args[1], ast.Constant) else None
            constant = isinstance(given, int | float) and not isinstance(given, bool)
            self.window = max(self.window, float(given) if isinstance(given, int | float)
                              and constant else MAX_WINDOW)
        for i, arg in enumerate(node.args):
            if i in named:
                target = self._name_argument(arg, name)
                self.names.add(target)
            else:
                self._check(arg)

    def _name_argument(self, node: ast.expr, function: str) -> str:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            return node.value
        dotted = _dotted(node)
        if dotted is None or dotted in _CONSTANTS:
            raise InvalidInputError(f"The {self.what} {self.text!r}: the first argument of "
                                    f"{function}() must be a name or a string")
        return dotted

    # evaluating --------------------------------------------------------------------------
    def evaluate(self, values: Values) -> Any:
        """The expression's value, or :data:`UNKNOWN` when a value it needs is missing or an
        operation is undefined for the values (division by zero, comparing text with a
        number)."""
        try:
            return self._run(values)
        except _Missing:
            return UNKNOWN
        except (ArithmeticError, TypeError, ValueError):
            return UNKNOWN

    def holds(self, values: Values) -> bool | _Unknown:
        """The condition's truth: True, False or :data:`UNKNOWN`."""
        result = self.evaluate(values)
        return result if result is UNKNOWN else bool(result)

    # compiling: the checked tree becomes nested closures, run without walking the tree
    def _compile(self, node: ast.expr) -> _Code:
        if isinstance(node, ast.Constant):
            constant = node.value
            return lambda v: constant
        if isinstance(node, ast.Name | ast.Attribute):
            name = _dotted(node)
            assert name is not None  # checked at parse time
            if name in _CONSTANTS:
                fixed = _CONSTANTS[name]
                return lambda v: fixed
            return lambda v: v.latest(name)
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.UnaryOp):
            operand = self._compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda v: not operand(v)
            negate = isinstance(node.op, ast.USub)

            def signed(v: Values) -> Any:
                value = operand(v)
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise TypeError("sign of a non-number")
                return -value if negate else value

            return signed
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(value) for value in node.values]
            conjunction = isinstance(node.op, ast.And)

            def logic(v: Values) -> Any:
                # Python's short circuit: an unknown value that is not needed does not matter
                result: Any = None
                for part in parts:
                    result = part(v)
                    if (not result) if conjunction else result:
                        return result
                return result

            return logic
        if isinstance(node, ast.Compare):
            terms = [self._compile(node.left), *(self._compile(c) for c in node.comparators)]
            ops = [_COMPARE[type(op)] for op in node.ops]

            def compare(v: Values) -> bool:
                left = terms[0](v)
                for op, term in zip(ops, terms[1:], strict=True):
                    right = term(v)
                    if not op(left, right):
                        return False
                    left = right
                return True

            return compare
        if isinstance(node, ast.IfExp):
            test, body, orelse = (self._compile(node.test), self._compile(node.body),
                                  self._compile(node.orelse))
            return lambda v: body(v) if test(v) else orelse(v)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self._compile(e) for e in node.elts]
            return lambda v: [item(v) for item in items]
        if isinstance(node, ast.Call):
            return self._function(node)
        raise TypeError(type(node).__name__)  # unreachable: refused at parse time

    def _binary(self, node: ast.BinOp) -> _Code:
        left, right = self._compile(node.left), self._compile(node.right)
        op = _BINARY[type(node.op)]
        power = isinstance(node.op, ast.Pow)
        textless = isinstance(node.op, ast.Mult | ast.Mod | ast.Pow)

        def binary(v: Values) -> Any:
            a, b = left(v), right(v)
            if power and (not isinstance(b, int | float) or abs(b) > _MAX_EXPONENT):
                raise ValueError("exponent out of range")
            if textless and (isinstance(a, str) or isinstance(b, str)):
                raise TypeError("no repeating or formatting of text")
            return _bounded(op(a, b))

        return binary

    def _function(self, node: ast.Call) -> _Code:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        if name in ("value", "exists", "rate", "avg"):
            target = self._name_argument(node.args[0], name)
            if name == "value":
                return lambda v: v.latest(target)
            if name == "exists":
                return lambda v: bool(v.series.get(target))
            window = self._compile(node.args[1]) if len(node.args) > 1 else None
            average = name == "avg"

            def windowed(v: Values) -> Any:
                seconds = None
                if window is not None:
                    seconds = window(v)
                    if not isinstance(seconds, int | float) or seconds <= 0:
                        raise ValueError("a window must be a positive number of seconds")
                if average:
                    points = v.numbers(target, float(seconds))  # type: ignore[arg-type]
                    if not points:
                        raise _Missing(target)
                    return sum(p[1] for p in points) / len(points)
                return v.rate(target, None if seconds is None else float(seconds))

            return windowed
        args = [self._compile(a) for a in node.args]
        if name == "abs":
            return lambda v: abs(args[0](v))
        if name == "round":
            if len(args) > 1:
                return lambda v: round(args[0](v), int(args[1](v)))
            return lambda v: round(args[0](v))
        pick = min if name == "min" else max

        def extreme(v: Values) -> Any:
            values = [a(v) for a in args]
            if len(values) == 1 and isinstance(values[0], list):
                values = values[0]
            return pick(values)

        return extreme


def _bounded(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > \
            _MAX_MAGNITUDE:
        raise ValueError("number out of range")
    if isinstance(value, str) and len(value) > MAX_LENGTH:
        raise ValueError("text too long")
    return value
