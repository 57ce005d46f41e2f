"""Clocks: core code takes time from a :class:`Clock`, never from ``time.time()``.

Times are float seconds since the Unix epoch (UTC). Timezone-aware datetimes appear only at the
edges (API, CLI); :func:`to_iso` and :func:`from_iso` convert.

>>> clock = ManualClock(100.0)
>>> clock.advance(2.5)
>>> clock.now()
102.5
>>> to_iso(0.25)
'1970-01-01T00:00:00.250000Z'
>>> from_iso('1970-01-01T00:00:01Z')
1.0
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from holotwin.errors import InvalidInputError

__all__ = ["Clock", "ManualClock", "SystemClock", "from_iso", "to_iso"]


class Clock(Protocol):
    """A source of the current time in float seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and as-fast-as-possible simulation."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"Cannot move a clock backwards by {seconds} s")
        self._now += seconds

    def set(self, t: float) -> None:
        self._now = float(t)


def to_iso(t: float) -> str:
    """Render epoch seconds as an ISO 8601 UTC timestamp with microseconds and a ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str) -> float:
    """Parse an ISO 8601 timestamp (``Z`` or offset; naive means UTC) to epoch seconds."""
    if not isinstance(text, str):
        raise InvalidInputError(f"Expected an ISO 8601 timestamp, got {text!r}")
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python's parser accepts at most 6 fractional digits; Azure sends 7.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = f"{head}.{digits[:6] or '0'}{rest}"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise InvalidInputError(f"Expected an ISO 8601 timestamp, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
