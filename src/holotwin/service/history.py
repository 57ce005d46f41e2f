"""Reported property values over time, from a twin's change history (reads only).

Every ``twin.*`` event carries the whole twin after the change, so the value of a property at
any time is that of the last event at or before it. :func:`property_spells` turns the history
of a window into spells, ``(from, to, value)`` with ``from < to``, that cover the window
without gaps (``None`` where the twin or the property did not exist); :func:`held_since`
looks back from a time to when a property took up the values it has there (when the fault
that is going on at the start of a window began, say).

Both read at most :data:`MAX_EVENTS` events of a twin: a longer history is cut short, and they
say so, rather than reading without bound.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from holotwin.store.base import Store
from holotwin.twins import ChangeEvent

__all__ = ["MAX_EVENTS", "Spell", "held_since", "property_spells", "status_spells",
           "twin_of"]

Spell = tuple[float, float, Any]
"""``(from, to, value)``: the property had ``value`` over ``[from, to)`` (epoch seconds)."""

MAX_EVENTS = 50_000
_PAGE = 1000


def twin_of(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The twin document a ``twin.*`` event carries (None after a delete)."""
    twin = (data or {}).get("twin")
    return twin if isinstance(twin, dict) else None


def property_spells(store: Store, twin: str, names: Sequence[str], start: float, end: float
                    ) -> tuple[dict[str, list[Spell]], bool]:
    """The values of the twin's top-level properties ``names`` over ``[start, end)`` as
    spells, from one pass over its history; True when the history held more than
    :data:`MAX_EVENTS` changes (the spells then end at the last change read)."""
    before = store.twin_event_at(twin, start)
    doc = twin_of(before.data) if before is not None else None
    values = {n: (doc or {}).get(n) for n in names}
    since = dict.fromkeys(names, start)
    spells: dict[str, list[Spell]] = {n: [] for n in names}
    seen: set[int] = set()
    cut, cursor, count = False, start, 0
    while True:
        page = store.twin_history(twin, cursor, end, _PAGE)
        fresh = [e for e in page if e.seq not in seen]
        for event in fresh:
            seen.add(event.seq)
            count += 1
            doc = twin_of(event.data) or {}
            for n in names:
                new = doc.get(n)
                if new != values[n]:
                    spells[n].append((since[n], event.time, values[n]))
                    since[n], values[n] = event.time, new
        if len(page) < _PAGE or not fresh:
            break
        if count >= MAX_EVENTS:
            cut = True
            end = page[-1].time
            break
        cursor = page[-1].time
    for n in names:
        spells[n].append((since[n], end, values[n]))
    return {n: [s for s in spells[n] if s[1] > s[0]] for n in names}, cut


def status_spells(store: Store, twin: str, prop: str, start: float, end: float
                  ) -> tuple[list[Spell], bool]:
    """The values of one property (a status) over ``[start, end)``; see
    :func:`property_spells`."""
    spells, cut = property_spells(store, twin, [prop], start, end)
    return spells[prop], cut


def held_since(store: Store, twin: str, prop: str, values: Collection[Any], at: float,
               max_events: int = 1000) -> tuple[float | None, bool]:
    """Since when the property has had one of ``values`` without a break, as of ``at``
    (None if it has none of them at ``at``), stepping back one change at a time; True when
    it looked back ``max_events`` changes without finding the start (the time returned is
    then the earliest it saw)."""
    def held(event: ChangeEvent | None) -> bool:
        return event is not None and (twin_of(event.data) or {}).get(prop) in values

    event = store.twin_event_at(twin, at)
    since: float | None = None
    for _ in range(max_events):
        if event is None or not held(event):
            return since, False
        since = event.time
        event = store.twin_event_at(twin, math.nextafter(event.time, -math.inf))
    return since, held(event)
