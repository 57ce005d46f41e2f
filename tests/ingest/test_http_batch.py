"""``POST /ingest/batch``: bulk readings through the pipeline, answered after the commit."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.api import ApiSettings
from holotwin.errors import InvalidInputError
from holotwin.ingest import IngestPipeline
from holotwin.ingest.http import HttpBatchSource, batch_items
from holotwin.service import TwinService
from tests.api.conftest import make_client

T0 = 1_700_000_000.0


def _temps(service: TwinService, twin: str = "m1") -> list[tuple[float, float | None]]:
    return [(p.time, p.value) for p in service.telemetry_history(twin, "temperature", 0, 2e9)]


def test_a_batch_is_written_with_a_per_item_report(plant: TwinService) -> None:
    seq = plant.last_event_seq()
    body: dict[str, Any] = {
        "readings": [
            {"twinId": "m1", "signal": "temperature", "time": T0, "value": 20.0},
            {"twinId": "m1", "signal": "temperature", "time": "2023-11-14T22:13:21Z",
             "value": 21.0},
            {"twinId": "nope", "signal": "temperature", "time": T0, "value": 1.0},
            {"twinId": "m1", "signal": "temperature", "time": "yesterday", "value": 1.0},
            {"twinID": "m1", "signal": "temperature", "value": 1.0},
        ],
        "messages": [
            {"twinId": "m2", "time": T0 * 1000, "values": {"temperature": 5.0, "power": 7}},
            {"twinId": "m2", "time": T0, "values": {"temperature": "hot"}},
        ],
    }
    with make_client(plant) as client:
        r = client.post("/ingest/batch", json=body)
        assert r.status_code == 200, r.text
        report = r.json()
        assert {k: report[k] for k in ("items", "accepted", "rejected", "readings", "inserted",
                                       "duplicates")} == {
            "items": 7, "accepted": 3, "rejected": 4, "readings": 4, "inserted": 4,
            "duplicates": 0}
        errors = {e["item"]: (e["stage"], e["reason"]) for e in report["errors"]}
        assert errors["/readings/2"] == ("validate", "Twin 'nope' does not exist")
        assert errors["/readings/3"][0] == "map" and "'yesterday'" in errors["/readings/3"][1]
        assert "unknown member 'twinID'" in errors["/readings/4"][1]
        assert errors["/messages/1"][0] == "validate"
        assert _temps(plant) == [(T0, 20.0), (T0 + 1, 21.0)]
        assert _temps(plant, "m2") == [(T0, 5.0)]
        events = plant.read_events(after=seq, kinds=["telemetry"])  # one per twin and batch
        assert [(e.twin_id, e.data["readings"]) for e in events] == [("m1", 2), ("m2", 2)]
        letters = plant.list_dead_letters()
        assert sorted((d.source, d.topic) for d in letters) == [
            ("http-batch", f"batch/{item}") for item in
            ("messages/1", "readings/2", "readings/3", "readings/4")]

        # the same body again: nothing new, every reading a duplicate, no new events
        seq = plant.last_event_seq()
        again = client.post("/ingest/batch", json=body).json()
        assert (again["accepted"], again["inserted"], again["duplicates"]) == (3, 0, 4)
        assert plant.read_events(after=seq, kinds=["telemetry"]) == []

        status = client.get("/ingest/connectors").json()["value"]
        assert status[-1]["name"] == "http-batch" and status[-1]["received"] == 14


def test_an_array_body_and_duplicates_within_one_batch(plant: TwinService) -> None:
    item = {"twinId": "m1", "signal": "temperature", "time": T0, "value": 1.5}
    with make_client(plant) as client:
        report = client.post("/ingest/batch", json=[item, item]).json()
    assert (report["accepted"], report["inserted"], report["duplicates"]) == (2, 1, 1)
    assert _temps(plant) == [(T0, 1.5)]


@pytest.mark.parametrize(
    ("content", "status", "detail"),
    [
        (b"{not json", 400, "Malformed JSON"),
        (b'{"readings": {}}', 400, "'readings' must be an array"),
        (b'{"rows": []}', 400, "unknown member 'rows'"),
        (b'{"readings": []}', 400, "holds no items"),
        (b"42", 400, "A batch is an object"),
        (b"[" + b'{"twinId": "m1"},' * 200 + b"{}]", 413, None),
    ],
)
def test_bad_bodies_are_problems(plant: TwinService, content: bytes, status: int,
                                 detail: str | None) -> None:
    with make_client(plant, ApiSettings(max_body=2000)) as client:
        r = client.post("/ingest/batch", content=content,
                        headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    if detail:
        assert detail in r.json()["detail"]
    assert plant.count_dead_letters() == 0


def test_a_failing_store_stores_nothing_and_says_so(plant: TwinService,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from holotwin.errors import StoreError

    source = HttpBatchSource()
    source.start(IngestPipeline(plant))

    def fail(*args: object, **kwargs: object) -> int:
        raise StoreError("disk full")

    monkeypatch.setattr(plant, "write_telemetry", fail)
    with pytest.raises(StoreError, match="nothing was stored"):
        source.ingest([{"twinId": "m1", "signal": "temperature", "time": T0, "value": 1.0}])
    assert source.status()["lastError"] == "Store: disk full"


def test_batch_items_checks_the_shape() -> None:
    with pytest.raises(InvalidInputError, match="over the limit"):
        batch_items([{}] * 100_001)
