"""The SSE change feed on a real server: live delivery, filters, and resuming without gaps."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from holotwin.service import TwinService
from tests.conftest import LINE, MACHINE, PLANT_MODELS, machine


def read_sse(url: str, count: int, headers: dict[str, str] | None = None,
             params: dict[str, Any] | None = None, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Read ``count`` events from an SSE stream, then close it."""
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", url, headers={"Accept": "text/event-stream", **(headers or {})},
                      params=params, timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                events.append(current)
                current = {}
                if len(events) == count:
                    break
            elif line == "":
                current = {}
    return events


def test_live_events_filters_and_resume(live_server: tuple[str, TwinService]) -> None:
    url, service = live_server
    service.add_models(PLANT_MODELS)
    service.put_twin("line", {"$metadata": {"$model": LINE}})
    base = service.last_event_seq()

    received: list[dict[str, Any]] = []
    # lastEventId=base: the stream delivers everything after base, however late it connects
    reader = threading.Thread(target=lambda: received.extend(
        read_sse(f"{url}/events", 6, params={"modelId": MACHINE, "lastEventId": base})))
    reader.start()
    for i in range(3):
        service.put_twin(f"m{i}", machine(serial=f"S{i}"))
        service.put_twin(f"x{i}", {"$metadata": {"$model": LINE}})  # filtered out
        service.publish_telemetry(f"m{i}", {"temperature": 20.0 + i})
    reader.join(timeout=20)
    assert [e["event"] for e in received] == ["twin.created", "telemetry"] * 3
    assert all(e["data"]["modelId"] == MACHINE for e in received)
    ids = [e["id"] for e in received]
    assert ids == sorted(ids) and ids[0] > base

    # resume after the 2nd event: everything after it, nothing before, no gaps
    resumed = read_sse(f"{url}/events", 4, headers={"Last-Event-ID": str(ids[1])},
                       params={"modelId": MACHINE})
    assert [e["id"] for e in resumed] == ids[2:]

    # unfiltered replay from the start holds every event in order
    everything = read_sse(f"{url}/events", service.last_event_seq(), params={"lastEventId": 0})
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)
    assert len(everything) == service.last_event_seq()
