"""The pipeline with an in-process source and a manual clock, on both stores."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from holotwin.clock import ManualClock, to_iso
from holotwin.errors import InvalidInputError, StoreError
from holotwin.ingest import (
    IngestPipeline,
    InProcessSource,
    MappingError,
    PipelineSettings,
    TopicMapping,
)
from holotwin.service import TelemetryMessage, TwinService
from tests.conftest import MACHINE

T0 = 1_700_000_000.0


class Acks:
    """Records acknowledgements, and what the store held when each one came."""

    def __init__(self, service: TwinService) -> None:
        self.service = service
        self.done: list[str] = []
        self.stored_at_ack: list[int] = []

    def __call__(self, name: str) -> Any:
        def ack() -> None:
            self.done.append(name)
            self.stored_at_ack.append(len(self.service.store.telemetry_range(
                "m1", "temperature", 0, float("inf"))))
        return ack


def _setup(service: TwinService, **settings: Any) -> tuple[IngestPipeline, InProcessSource]:
    pipeline = IngestPipeline(service, PipelineSettings(**settings))
    source = InProcessSource("test", [
        TopicMapping.create("plant/{line}/{machine}/telemetry", "{machine}", time="/ts"),
        TopicMapping.create("plant/{line}/{machine}/batch", "{machine}", records="/rows",
                            time="/ts", signals={"temperature": "/temp"},
                            units={"temperature": "degreeFahrenheit"}),
    ])
    source.start(pipeline)
    return pipeline, source


def _msg(ts: float, **values: object) -> str:
    return json.dumps({"ts": ts, **values})


def _temps(service: TwinService, twin: str = "m1") -> list[tuple[float, float | None]]:
    return [(p.time, p.value) for p in service.telemetry_history(twin, "temperature", 0, 2e9)]


def test_batches_by_count_write_once_then_ack(plant: TwinService) -> None:
    pipeline, source = _setup(plant, max_batch=3, max_delay=10.0)
    acks = Acks(plant)
    seq = plant.last_event_seq()
    for i in range(3):
        source.publish("plant/l1/m1/telemetry", _msg(T0 + i, temperature=20 + i), acks(f"a{i}"))
        if i < 2:
            assert pipeline.flush_due() == 0 and acks.done == []
    assert pipeline.flush_due() == 3
    assert acks.done == ["a0", "a1", "a2"]
    assert acks.stored_at_ack == [3, 3, 3]  # every ack came after the whole batch committed
    assert _temps(plant) == [(T0, 20.0), (T0 + 1, 21.0), (T0 + 2, 22.0)]
    events = plant.read_events(after=seq, kinds=["telemetry"])  # one per twin and batch
    assert [e.data for e in events] == [
        {"values": {"temperature": 22.0}, "sourceTime": to_iso(T0 + 2),
         "firstSourceTime": to_iso(T0), "readings": 3}]
    assert source.status()["written"] == 3 and source.status()["received"] == 3
    assert pipeline.batches == 1 and pipeline.readings == 3


def test_batches_by_time_with_a_manual_clock(plant: TwinService) -> None:
    clock = plant.clock
    assert isinstance(clock, ManualClock)
    pipeline, source = _setup(plant, max_batch=500, max_delay=0.05)
    acks = Acks(plant)
    source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=1.0), acks("a"))
    clock.advance(0.049)
    assert pipeline.flush_due() == 0 and acks.done == []
    clock.advance(0.001)
    assert pipeline.flush_due() == 1 and acks.done == ["a"]
    assert pipeline.flush_due() == 0


def test_bad_messages_go_to_dead_letters_and_good_ones_are_written(plant: TwinService) -> None:
    pipeline, source = _setup(plant, max_payload=200)
    acks = Acks(plant)
    source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=20.0), acks("good1"))
    source.publish("plant/l1/m1/telemetry", b"{not json", acks("undecodable"))
    source.publish("plant/l1/m1/telemetry", b"\xff\xfe\x00", acks("binary"))
    source.publish("plant/l1/m1/telemetry", _msg(T0, pad="x" * 300), acks("oversized"))
    source.publish("plant/l1/m1/status", _msg(T0, temperature=1.0), acks("unrouted"))
    source.publish("plant/l1/m1/telemetry", json.dumps({"temperature": 1}), acks("no-time"))
    source.publish("plant/l1/m1/telemetry", _msg(T0 + 1, temperature="hot"), acks("wrong-type"))
    source.publish("plant/l1/ghost/telemetry", _msg(T0, temperature=1.0), acks("unknown-twin"))
    source.publish("plant/l1/m2/batch", json.dumps(
        {"rows": [{"ts": T0, "temp": 32}, {"ts": T0 + 1, "temp": 212}]}), acks("good-batch"))
    assert pipeline.flush() == 9
    assert acks.done == ["good1", "undecodable", "binary", "oversized", "unrouted", "no-time",
                         "wrong-type", "unknown-twin", "good-batch"]
    assert _temps(plant) == [(T0, 20.0)]
    assert _temps(plant, "m2") == [(T0, 0.0), (T0 + 1, pytest.approx(100.0))]
    letters = plant.list_dead_letters()
    got = [(d.stage, d.reason) for d in letters]
    assert [s for s, _ in got] == ["decode", "decode", "decode", "map", "map", "validate",
                                   "validate"]
    assert "Malformed JSON at line 1" in got[0][1]
    assert "not UTF-8" in got[1][1] and letters[1].encoding == "base64"
    assert "over the limit of 200 bytes" in got[2][1]
    assert "No mapping of source 'test' matches topic 'plant/l1/m1/status'" in got[3][1]
    assert "no source time at /ts" in got[4][1]
    assert "temperature" in got[5][1]
    assert got[6][1] == "Twin 'ghost' does not exist"
    assert letters[0].payload == "{not json" and letters[0].topic == "plant/l1/m1/telemetry"
    status = source.status()
    assert (status["received"], status["written"], status["deadLettered"]) == (9, 2, 7)


def test_a_failing_store_acks_nothing_and_the_batch_is_retried(
    plant: TwinService, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, source = _setup(plant, max_batch=10)
    acks = Acks(plant)
    source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=5.0), acks("a"))
    source.publish("plant/l1/m1/telemetry", b"junk", acks("bad"))
    real = plant.write_telemetry

    def broken(*args: Any, **kwargs: Any) -> int:
        raise StoreError("PostgreSQL is unavailable: connection refused")

    monkeypatch.setattr(plant, "write_telemetry", broken)
    assert pipeline.flush() == 0
    assert acks.done == [] and pipeline.pending == 2
    assert "connection refused" in (source.status()["lastError"] or "")
    monkeypatch.setattr(plant, "write_telemetry", real)
    assert pipeline.flush() == 2
    assert acks.done == ["a", "bad"]
    assert _temps(plant) == [(T0, 5.0)] and plant.count_dead_letters() == 1
    assert source.status()["received"] == 2


def test_duplicates_are_stored_once_with_one_event(plant: TwinService) -> None:
    pipeline, source = _setup(plant)
    seq = plant.last_event_seq()
    for _ in range(2):  # twice in one batch
        source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=7.0))
    pipeline.flush()
    source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=7.0))  # a later redelivery
    pipeline.flush()
    assert _temps(plant) == [(T0, 7.0)]
    assert len(plant.read_events(after=seq, kinds=["telemetry"])) == 1


def test_a_batch_gets_one_event_per_twin_with_its_new_readings(plant: TwinService) -> None:
    pipeline, source = _setup(plant)
    seq = plant.last_event_seq()
    rows = [{"ts": T0 + 2, "temp": 50}, {"ts": T0, "temp": 32}, {"ts": T0 + 1, "temp": 212}]
    source.publish("plant/l1/m2/batch", json.dumps({"rows": rows}))
    source.publish("plant/l1/m1/telemetry", _msg(T0, temperature=1.0, note="ok"))
    source.publish("plant/l1/m1/telemetry", _msg(T0 - 5, temperature=2))
    pipeline.flush()
    events = plant.read_events(after=seq, kinds=["telemetry"])
    assert [(e.twin_id, e.data) for e in events] == [
        ("m2", {"values": {"temperature": pytest.approx(10.0)}, "sourceTime": to_iso(T0 + 2),
                "firstSourceTime": to_iso(T0), "readings": 3}),
        ("m1", {"values": {"temperature": 1.0, "note": "ok"}, "sourceTime": to_iso(T0),
                "firstSourceTime": to_iso(T0 - 5), "readings": 3}),
    ]
    assert len(_temps(plant, "m2")) == 3
    # a redelivery that brings one new record among old ones: the event counts only that one
    rows.append({"ts": T0 + 3, "temp": 32})
    source.publish("plant/l1/m2/batch", json.dumps({"rows": rows}))
    pipeline.flush()
    again = plant.read_events(after=events[-1].seq, kinds=["telemetry"])
    assert [(e.data["readings"], e.data["firstSourceTime"], e.data["values"]) for e in again] \
        == [(1, to_iso(T0 + 3), {"temperature": 0.0})]
    assert len(_temps(plant, "m2")) == 4


def test_property_mappings_set_reported_values_idempotently(plant: TwinService) -> None:
    pipeline = IngestPipeline(plant)
    source = InProcessSource("props", [TopicMapping.create(
        "plant/{machine}/state", "{machine}", time="/ts", target="property")])
    source.start(pipeline)
    seq = plant.last_event_seq()
    source.publish("plant/m1/state", _msg(T0 + 1, speed=3.0, running=True))
    source.publish("plant/m1/state", _msg(T0 + 2, speed=4.0))
    pipeline.flush()
    m1 = plant.get_twin("m1")
    assert (m1["speed"], m1["running"]) == (4.0, True)
    assert m1["$metadata"]["speed"]["sourceTime"] == to_iso(T0 + 2)
    assert m1["$metadata"]["running"]["sourceTime"] == to_iso(T0 + 1)
    revision = m1["$metadata"]["$revision"]
    assert [e.kind for e in plant.read_events(after=seq)] == ["twin.updated"]  # one per batch
    # a redelivery and an older report change nothing; bad values are dead letters
    source.publish("plant/m1/state", _msg(T0 + 2, speed=4.0))
    source.publish("plant/m1/state", _msg(T0 + 1.5, speed=1.0))
    source.publish("plant/m1/state", _msg(T0 + 3, speed="fast"))
    source.publish("plant/m1/state", _msg(T0 + 3, colour="red"))
    source.publish("plant/ghost/state", _msg(T0 + 3, speed=1.0))
    pipeline.flush()
    assert plant.get_twin("m1")["$metadata"]["$revision"] == revision
    reasons = [d.reason for d in plant.list_dead_letters()]
    assert len(reasons) == 3 and "speed" in reasons[0]
    assert "has no property 'colour'" in reasons[1] and "'ghost' does not exist" in reasons[2]
    with pytest.raises(MappingError, match="target must be one of"):
        TopicMapping.create("a/{m}", "{m}", target="command")


def test_validation_of_a_batch_per_record(plant: TwinService) -> None:
    groups = [
        [TelemetryMessage("m1", {"temperature": 20, "label": "a", "blob": {"x": [1]}}, T0),
         TelemetryMessage("m2", {"temperature": 21.5}, T0)],
        [TelemetryMessage("m1", {"temperature": 1.0}, T0 + 1),
         TelemetryMessage("m1", {"temperature": True}, T0 + 2)],
        [TelemetryMessage("m1", {"temperature": "hot"}, T0 + 3)],
        [TelemetryMessage("m1", {"temperature": float("nan")}, T0 + 4)],
        [TelemetryMessage("m1", {"other": float("inf")}, T0 + 4)],
        [TelemetryMessage("m1", {}, T0 + 5)],
        [TelemetryMessage("m1", {"temperature": 2.0}, T0 + 6),
         TelemetryMessage("ghost", {"temperature": 2.0}, T0 + 6)],
        [TelemetryMessage("m2", {"temperature": 3.0}, T0 + 7, "msg-7")],
    ]
    prepared = plant.prepare_telemetry(groups)
    assert sorted(prepared.rejected) == [1, 2, 3, 4, 5, 6]
    assert prepared.rejected[1].startswith("record 1: ") and "temperature" in prepared.rejected[1]
    assert "temperature" in prepared.rejected[2] and "not a finite number" in prepared.rejected[3]
    assert "not a finite number" in prepared.rejected[4]
    assert "at least one name: value" in prepared.rejected[5]
    assert prepared.rejected[6] == "record 1: Twin 'ghost' does not exist"
    got = [(p.twin_id, p.signal, p.time, p.value, p.raw) for p in prepared.points]
    assert got == [("m1", "temperature", T0, 20.0, None), ("m1", "label", T0, None, "a"),
                   ("m1", "blob", T0, None, {"x": [1]}), ("m2", "temperature", T0, 21.5, None),
                   ("m2", "temperature", T0 + 7, 3.0, None)]
    assert prepared.models == {"m1": MACHINE, "m2": MACHINE}
    assert isinstance(prepared.points[0].value, float)


@pytest.fixture
def running(plant: TwinService) -> Iterator[tuple[IngestPipeline, InProcessSource]]:
    pipeline, source = _setup(plant, max_batch=50, max_delay=0.01)
    pipeline.start()
    yield pipeline, source
    pipeline.stop()


def test_the_worker_writes_in_the_background(
    running: tuple[IngestPipeline, InProcessSource], plant: TwinService
) -> None:
    pipeline, source = running
    acked = threading.Event()
    for i in range(120):
        source.publish("plant/l1/m1/telemetry", _msg(T0 + i, temperature=float(i)),
                       acked.set if i == 119 else lambda: None)
    # the worker times batches by the service clock, which is manual here: only full
    # batches (50) go by themselves; stop() writes the rest
    deadline = time.monotonic() + 10
    while pipeline.readings < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pipeline.readings == 100
    pipeline.stop()
    assert acked.is_set() and len(_temps(plant)) == 120


def test_max_pending_holds_the_source_while_the_store_is_down(
    plant: TwinService, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, source = _setup(plant, max_batch=5, max_pending=10, max_delay=0.0,
                              retry_delay=0.05, max_retry_delay=0.05)
    real = plant.write_telemetry
    down = threading.Event()
    down.set()

    def flaky(*args: Any, **kwargs: Any) -> int:
        if down.is_set():
            raise StoreError("PostgreSQL is unavailable: connection refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(plant, "write_telemetry", flaky)
    published = []

    def publish() -> None:
        for i in range(40):
            source.publish("plant/l1/m1/telemetry", _msg(T0 + i, temperature=float(i)))
            published.append(i)

    pipeline.start()
    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while pipeline.waits == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # the publisher stays held while the store is down
        assert publisher.is_alive() and pipeline.waits >= 1
        assert len(published) <= 10 + 5 + 1  # queued + the failed batch + the one held
        assert pipeline.pending <= 10 + 5
        down.clear()
        publisher.join(10)
        assert not publisher.is_alive() and len(published) == 40
    finally:
        pipeline.stop()
    assert _temps(plant) == [(T0 + i, float(i)) for i in range(40)]


def test_max_pending_must_hold_a_batch() -> None:
    with pytest.raises(InvalidInputError, match="max_pending"):
        PipelineSettings(max_batch=100, max_pending=50)
