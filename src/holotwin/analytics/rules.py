"""Rules: conditions on a twin's values that raise and clear alerts: :class:`Rule`, :func:`step`.

A rule is a JSON document::

    {"condition": "temperature > 80",        # the safe expression language, see expressions
     "clear": "temperature < 75",            # optional: hysteresis (default: not condition)
     "for": 30,                              # s the condition must hold before it raises
     "clearFor": 10,                         # s the clear condition must hold before clearing
     "severity": "warning",                  # info | warning | critical
     "model": "dtmi:example:Machine;1",      # twins of this model (and models extending it)
     "twins": ["machine-1"],                 # ... or these twins (one of the two, or both)
     "message": "{temperature:.1f} °C",      # template over the values the condition reads
     "description": "...", "enabled": true}

**Lifecycle** (per rule and twin, :class:`RuleState`, evaluated in the order of the readings'
source times): *normal* -> the condition becomes true -> *pending* -> it held ``for`` seconds
-> *active*: an alert is **raised**. While active the condition may go false and true again
without a new alert (de-duplication: the open alert counts it, transition ``repeated``);
the alert is **cleared** only when the clear condition (hysteresis) has held ``clearFor``
seconds. A result that cannot be known (a value missing) changes nothing. Acknowledging an
alert is a person's act and is kept on the alert, not here.

Durations are measured in source time, between readings: a condition that holds for 30 s is
noticed at the first reading at least 30 s after it became true.

>>> rule = Rule.parse("hot", {"condition": "t > 80", "clear": "t < 75", "for": 10,
...                          "twins": ["m1"]})
>>> state = RuleState()
>>> for time, value in [(0, 81), (5, 82), (10, 83), (20, 78), (30, 74)]:
...     state, change = step(rule, state, time, Values({"t": [(time, value)]}))
...     print(time, state.phase, change.kind if change else "-")
0 pending -
5 pending -
10 active raised
20 active -
30 normal cleared
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from holotwin.analytics.expressions import UNKNOWN, Expression, Values
from holotwin.errors import InvalidInputError

__all__ = ["SEVERITIES", "Rule", "RuleState", "Transition", "render", "step"]

SEVERITIES = ("info", "warning", "critical")
_KEYS = {"condition", "clear", "for", "clearFor", "severity", "model", "twins", "message",
         "description", "enabled", "name"}
_MAX_DURATION = 366 * 86400.0
_FIELD = re.compile(r"\{([A-Za-z_][\w.]*)(?::([^{}]*))?\}")
PHASES = ("normal", "pending", "active", "clearing")


def _duration(document: Mapping[str, Any], key: str) -> float:
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            0 <= value <= _MAX_DURATION):
        raise InvalidInputError(f"Rule '{key}' must be a number of seconds from 0 to "
                                f"{_MAX_DURATION:.0f}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Rule:
    """A parsed, checked rule (see the module docs); :meth:`to_json` gives its document."""

    id: str
    condition: Expression
    clear: Expression | None = None
    for_seconds: float = 0.0
    clear_for: float = 0.0
    severity: str = "warning"
    model: str | None = None
    twins: tuple[str, ...] = ()
    message: str = ""
    description: str = ""
    enabled: bool = True
    name: str = ""

    @classmethod
    def parse(cls, rule_id: str, document: object) -> Rule:
        if not isinstance(document, Mapping):
            raise InvalidInputError("A rule must be a JSON object")
        unknown = sorted(set(document) - _KEYS - {"id", "$etag", "updated"})
        if unknown:
            raise InvalidInputError(f"Unknown rule field(s) {', '.join(map(repr, unknown))}; "
                                    f"the fields are {', '.join(sorted(_KEYS))}")
        if "condition" not in document:
            raise InvalidInputError("A rule needs a 'condition'")
        condition = Expression(document["condition"], "rule condition")
        clear = None if document.get("clear") is None else Expression(
            document["clear"], "rule clear condition")
        severity = document.get("severity", "warning")
        if severity not in SEVERITIES:
            raise InvalidInputError(f"Rule 'severity' must be one of {', '.join(SEVERITIES)}, "
                                    f"got {severity!r}")
        model = document.get("model")
        if model is not None and (not isinstance(model, str) or not model):
            raise InvalidInputError("Rule 'model' must be a model id")
        twins = document.get("twins", [])
        if not isinstance(twins, list) or not all(isinstance(t, str) and t for t in twins):
            raise InvalidInputError("Rule 'twins' must be a list of twin ids")
        if model is None and not twins:
            raise InvalidInputError("A rule applies to a 'model' (its twins) or to 'twins'; "
                                    "give one")
        texts = {k: document.get(k, "") for k in ("message", "description", "name")}
        for key, text in texts.items():
            if not isinstance(text, str) or len(text) > 2000:
                raise InvalidInputError(f"Rule '{key}' must be text of at most 2000 characters")
        enabled = document.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInputError(f"Rule 'enabled' must be true or false, got {enabled!r}")
        return cls(rule_id, condition, clear, _duration(document, "for"),
                   _duration(document, "clearFor"), severity, model, tuple(twins),
                   texts["message"], texts["description"], enabled, texts["name"])

    @property
    def names(self) -> set[str]:
        """Every value name the rule reads (its conditions and its message)."""
        found = set(self.condition.names)
        if self.clear is not None:
            found |= self.clear.names
        found |= {m.group(1) for m in _FIELD.finditer(self.message)}
        return found

    def applies_to(self, twin_id: str, model_family: set[str] | None) -> bool:
        """Whether the rule covers a twin (``model_family``: the twin's model and the models
        it extends)."""
        return twin_id in self.twins or (self.model is not None and model_family is not None
                                         and self.model in model_family)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "condition": self.condition.text,
                               "for": self.for_seconds, "clearFor": self.clear_for,
                               "severity": self.severity, "enabled": self.enabled}
        if self.clear is not None:
            out["clear"] = self.clear.text
        if self.model is not None:
            out["model"] = self.model
        if self.twins:
            out["twins"] = list(self.twins)
        for key in ("message", "description", "name"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class RuleState:
    """Where a rule stands for one twin (JSON round trip: :meth:`to_json`, :meth:`of`).

    ``since`` is when the condition (phase pending) or the clear condition (clearing) became
    true; ``t`` the source time of the last evaluation; ``holds`` the condition's last known
    truth (a false-to-true change while active is a repeat).
    """

    phase: str = "normal"
    since: float | None = None
    t: float = -math.inf
    holds: bool = False

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not math.isfinite(self.t):
            out["t"] = None
        return out

    @classmethod
    def of(cls, document: Mapping[str, Any] | None) -> RuleState:
        if not document:
            return cls()
        t = document.get("t")
        return cls(str(document.get("phase", "normal")), document.get("since"),
                   -math.inf if t is None else float(t), bool(document.get("holds", False)))


@dataclass(frozen=True)
class Transition:
    """What an evaluation did to the rule's alert: ``raised``, ``repeated`` or ``cleared``,
    at source time ``time``; ``since`` is when the condition began to hold."""

    kind: str
    time: float
    since: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def step(rule: Rule, state: RuleState, t: float, values: Values
         ) -> tuple[RuleState, Transition | None]:
    """Evaluate ``rule`` at source time ``t`` on ``values``; the new state and what happened
    to the alert (None: nothing). Times before the state's last one are ignored (the rule
    moves forward in time, so a replay raises nothing twice)."""
    if t < state.t:
        return state, None
    holds = rule.condition.holds(values)
    if holds is UNKNOWN:
        return RuleState(state.phase, state.since, t, state.holds), None
    holds = bool(holds)
    phase = state.phase
    if phase in ("normal", "pending"):
        if not holds:
            return RuleState("normal", None, t, False), None
        since = state.since if phase == "pending" and state.since is not None else t
        if t - since >= rule.for_seconds:
            return RuleState("active", None, t, True), Transition("raised", t, since)
        return RuleState("pending", since, t, True), None
    # active or clearing
    repeat = Transition("repeated", t) if holds and not state.holds else None
    clear = (not holds) if rule.clear is None else rule.clear.holds(values)
    if clear is UNKNOWN or not clear:
        return RuleState("active", None, t, holds), repeat
    since = state.since if phase == "clearing" and state.since is not None else t
    if t - since >= rule.clear_for:
        return RuleState("normal", None, t, holds), Transition("cleared", t, since)
    return RuleState("clearing", since, t, holds), repeat


def render(template: str, values: Values) -> str:
    """``template`` with each ``{name}`` or ``{name:spec}`` replaced by the name's latest value
    (``?`` when unknown). Only plain names and format specs: no attribute or index lookups."""
    def one(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2) or ""
        points = values.series.get(name)
        if not points:
            return "?"
        value = points[-1][1]
        try:
            return format(value, spec)
        except (TypeError, ValueError):
            return str(value)

    return _FIELD.sub(one, template)
