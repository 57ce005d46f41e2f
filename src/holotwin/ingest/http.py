"""HTTP batch ingestion (``POST /ingest/batch``): many readings in one request, through the
one pipeline, answered after the commit with what became of each item.

A body is a JSON object with ``readings`` and/or ``messages`` arrays, or an array of items::

    {"readings": [{"twinId": "m1", "signal": "temperature", "time": "2024-01-01T00:00:00Z",
                   "value": 21.5}],
     "messages": [{"twinId": "m2", "time": 1704067200, "values": {"temperature": 20.1}}]}

Each item is one :class:`~holotwin.ingest.source.RawMessage` (topic ``batch/readings/0``: the
item's place in the body), so it is validated, deduplicated and dead-lettered exactly as a
broker message is, and the whole body is written in one transaction. ``time`` is ISO 8601 or
epoch seconds / milliseconds; without it the receive time is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from holotwin.errors import InvalidInputError, StoreError
from holotwin.ingest.mapping import MappingError, Reading, _parse_time
from holotwin.ingest.source import PushSource, RawMessage, SourceError

__all__ = ["MAX_BATCH_ITEMS", "HttpBatchSource"]

#: items in one request body
MAX_BATCH_ITEMS = 100_000

_READING_KEYS = frozenset({"twinId", "signal", "time", "value"})
_MESSAGE_KEYS = frozenset({"twinId", "values", "time"})


class HttpBatchSource(PushSource):
    """Turns request bodies into pipeline batches; :meth:`ingest` returns the report."""

    kind = "http"

    def __init__(self, name: str = "http-batch") -> None:
        super().__init__(name, ())

    def ingest(self, body: object) -> dict[str, Any]:
        """Write the items of a request body in one transaction; return the report::

            {"items": 3, "accepted": 2, "rejected": 1, "readings": 2, "inserted": 1,
             "duplicates": 1, "errors": [{"item": "/readings/2", "stage": "validate",
                                         "reason": "Twin 'x' does not exist"}]}

        ``readings`` counts the signal values of accepted items, ``inserted`` the new ones
        (the rest were stored before). Raises :class:`InvalidInputError` for a body of the wrong
        shape and :class:`StoreError` when nothing could be written.
        """
        pipeline = self._pipeline
        if pipeline is None:
            raise SourceError(f"Source '{self.name}' is not started")
        items = batch_items(body)
        now = pipeline.clock.now()
        messages = [RawMessage(self.name, "batch" + pointer,
                               json.dumps(item, ensure_ascii=False).encode(), now)
                    for pointer, item in items]
        self.stats.add(received=len(messages))
        report = pipeline.process_report(messages)
        if report is None:
            raise StoreError(f"The batch of {len(messages)} items could not be written; "
                             "nothing was stored, send it again")
        return {
            "items": len(messages),
            "accepted": len(messages) - len(report.dead_letters),
            "rejected": len(report.dead_letters),
            "readings": report.readings,
            "inserted": report.inserted,
            "duplicates": report.duplicates,
            "errors": [{"item": items[i][0], "stage": letter.stage, "reason": letter.reason}
                       for i, letter in sorted(report.dead_letters.items())],
        }

    def map(self, message: RawMessage, document: object) -> list[Reading]:
        """One item: ``{twinId, signal, time, value}`` or ``{twinId, values, time}``."""
        where = f"Item {message.topic.removeprefix('batch')}"
        if not isinstance(document, dict):
            raise MappingError(f"{where}: expected an object with twinId, time and signal + "
                               "value or values")
        keys = _MESSAGE_KEYS if "values" in document else _READING_KEYS
        unknown = sorted(set(document) - keys)
        if unknown:
            raise MappingError(f"{where}: unknown member {unknown[0]!r} (expected: "
                               f"{', '.join(sorted(keys))})", pointer=f"/{unknown[0]}")
        twin_id = document.get("twinId")
        if not isinstance(twin_id, str) or not twin_id:
            raise MappingError(f"{where}: twinId must be a non-empty string, got {twin_id!r}",
                               pointer="/twinId")
        if "values" in document:
            values = document["values"]
            if not isinstance(values, dict) or not values:
                raise MappingError(f"{where}: values must be a non-empty object of signal: "
                                   f"value, got {values!r}", pointer="/values")
        else:
            signal = document.get("signal")
            if not isinstance(signal, str) or not signal:
                raise MappingError(f"{where}: signal must be a non-empty string, got "
                                   f"{signal!r}", pointer="/signal")
            if "value" not in document:
                raise MappingError(f"{where}: value is missing", pointer="/value")
            values = {signal: document["value"]}
        time = message.received
        if "time" in document:
            time = _parse_time(document["time"], "auto", f"{where}: time")
        return [Reading(twin_id, dict(values), time)]


def batch_items(body: object) -> list[tuple[str, object]]:
    """The items of a body with their JSON pointers; InvalidInputError for a wrong shape.

    >>> batch_items({"readings": [{"twinId": "a"}], "messages": []})
    [('/readings/0', {'twinId': 'a'})]
    >>> batch_items([{"twinId": "a"}])
    [('/0', {'twinId': 'a'})]
    """
    items: list[tuple[str, object]] = []
    if isinstance(body, list):
        items = [(f"/{i}", item) for i, item in enumerate(body)]
    elif isinstance(body, Mapping):
        unknown = sorted(set(body) - {"readings", "messages"})
        if unknown or not body:
            raise InvalidInputError(
                "A batch is an object with 'readings' and/or 'messages' arrays, or an array of "
                "items" + (f"; unknown member {unknown[0]!r}" if unknown else ""))
        for key in ("readings", "messages"):
            if key not in body:
                continue
            array = body[key]
            if not isinstance(array, list):
                raise InvalidInputError(f"'{key}' must be an array, got {type(array).__name__}")
            items.extend((f"/{key}/{i}", item) for i, item in enumerate(array))
    else:
        raise InvalidInputError("A batch is an object with 'readings' and/or 'messages' "
                                "arrays, or an array of items")
    if not items:
        raise InvalidInputError("The batch holds no items")
    if len(items) > MAX_BATCH_ITEMS:
        raise InvalidInputError(f"The batch holds {len(items)} items, over the limit of "
                                f"{MAX_BATCH_ITEMS}; split it")
    return items
