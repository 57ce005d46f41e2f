"""What-if scenarios on forked twins: overrides, comparison, storage, forks of the past, and
that forking never changes a live twin, even while ingestion runs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from holotwin.clock import SystemClock
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.ingest import IngestPipeline, InProcessSource, PipelineSettings, TopicMapping
from holotwin.service import TwinService
from holotwin.service.tracker import BehaviorTracker
from tests.service.test_behaviors import BINDING, CELL, MODELS, T0, feed, simulate

BASE: dict[str, Any] = {"twins": ["c1", "c2"], "horizon": 7200, "dt": 10, "samples": 100,
                        "seed": 1}


@pytest.fixture
def cells(any_service: TwinService) -> TwinService:
    any_service.add_models(MODELS)
    any_service.put_behavior_binding(CELL, BINDING)
    for twin_id in ("c1", "c2"):
        any_service.put_twin(twin_id, {"$metadata": {"$model": CELL}})
        feed(any_service, twin_id, simulate(60, seed=len(twin_id))[0], T0)
    any_service.update_estimates(["c1", "c2"])
    return any_service


def _eod(doc: dict[str, Any], twin: str) -> float:
    value = doc["results"][twin]["timeOfEvent"]["EOD"]["mean"]
    assert value is not None
    return float(value)


def test_overrides_change_the_outcome_and_runs_compare(cells: TwinService) -> None:
    base = cells.run_scenario(cells.create_scenario({**BASE, "name": "as is"})["id"])
    assert base["status"] == "done" and base["progress"] == 1.0 and base["runs"] == 1
    assert base["kpis"]["events"]["EOD"]["expected"] == pytest.approx(2.0)
    heavy = cells.run_scenario(cells.create_scenario({
        **BASE, "name": "c1 at 4 A", "overrides": {"c1": {"load": {"values": [[4.0]]}}}})["id"])
    assert _eod(heavy, "c1") < _eod(base, "c1") / 1.8  # 4 A instead of 2 A
    assert _eod(heavy, "c2") == pytest.approx(_eod(base, "c2"))  # untouched
    smaller = cells.run_scenario(cells.create_scenario({
        **BASE, "overrides": {"c1": {"parameters": {"qMax": 6000.0, "CMax": 6000.0}}}})["id"])
    assert _eod(smaller, "c1") < _eod(base, "c1")
    off = cells.run_scenario(cells.create_scenario({
        **BASE, "overrides": {"c2": {"off": True}}})["id"])
    assert off["results"]["c2"]["timeOfEvent"]["EOD"]["reached"] == 0.0  # no load, no EOD
    emptier = cells.run_scenario(cells.create_scenario({
        **BASE, "overrides": {"c1": {"state": {"qb": 6500.0}}}})["id"])
    assert _eod(emptier, "c1") < _eod(base, "c1")
    table = cells.compare_scenarios([base["id"], heavy["id"]])
    assert table["baseline"] == "as is"
    delta = table["scenarios"][1]["twins"]["c1"]["EOD"]["vsBaseline"]
    assert delta == pytest.approx(_eod(heavy, "c1") - _eod(base, "c1"))
    assert len(cells.list_scenarios()) == 5 and "results" not in cells.list_scenarios()[0]
    cells.delete_scenario(base["id"])
    with pytest.raises(NotFoundError):
        cells.get_scenario(base["id"])


def test_bad_scenarios_are_refused(cells: TwinService) -> None:
    cases = [({"horizon": 10}, "needs 'twins' or a 'subgraph'"),
             ({**BASE, "colour": 1}, "Unknown member 'colour'"),
             ({**BASE, "samples": 0}, "'samples' must be"),
             ({**BASE, "dt": -1}, "'dt' must be a positive"),
             ({**BASE, "overrides": {"c1": {"load": 3}}}, "load must be"),
             ({**BASE, "overrides": {"c1": {"warp": 1}}}, "unknown member 'warp'"),
             ({**BASE, "subgraph": {"root": "c1", "depth": 99}}, "'subgraph' must be")]
    for raw, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            cells.create_scenario(raw)
    with pytest.raises(NotFoundError):
        cells.create_scenario({**BASE, "twins": ["ghost"]})
    bad = cells.create_scenario({**BASE, "overrides": {"c1": {"parameters": {"nope": 1}}}})
    with pytest.raises(InvalidInputError, match="no parameter 'nope'"):
        cells.run_scenario(bad["id"])
    assert cells.get_scenario(bad["id"])["status"] == "failed"
    with pytest.raises(InvalidInputError, match="run it first"):
        cells.compare_scenarios([bad["id"]])


def test_a_fork_of_the_past_uses_the_estimate_history(cells: TwinService) -> None:
    first = cells.get_estimate("c1")
    feed(cells, "c1", simulate(60, seed=9)[0], T0 + 60)
    cells.update_estimates(["c1"])
    [fork] = cells.fork_twins(["c1"], at=first["t"] + 30)
    assert fork.t == first["t"]
    assert fork.mean.tolist() == pytest.approx(first["mean"])
    assert fork.cov.diagonal().tolist() == pytest.approx([s**2 for s in first["std"]])
    [now] = cells.fork_twins(["c1"])
    assert now.t == first["t"] + 60
    assert cells.fork_twins(["c1"], at=T0 - 100) == []  # nothing known that early


def test_a_background_run_shows_its_progress(cells: TwinService) -> None:
    sid = cells.create_scenario(BASE)["id"]
    cells.start_scenario(sid).join(30)
    doc = cells.get_scenario(sid)
    assert doc["status"] == "done" and doc["progress"] == 1.0 and set(doc["results"]) == {
        "c1", "c2"}


def test_forking_never_changes_a_live_twin_while_ingestion_runs(
    any_service: TwinService,
) -> None:
    service = TwinService(any_service.store, SystemClock())
    service.add_models(MODELS)
    service.put_behavior_binding(CELL, BINDING)
    service.put_twin("c1", {"$metadata": {"$model": CELL}})
    pipeline = IngestPipeline(service, PipelineSettings(max_batch=20, max_delay=0.01))
    source = InProcessSource("live", [TopicMapping.create("cells/{cell}", "{cell}", time="/ts")])
    source.start(pipeline)
    pipeline.start()
    tracker = BehaviorTracker(service, poll_interval=0.05)
    tracker.start()
    readings = simulate(400, seed=4)[0]
    stop = threading.Event()

    def publish() -> None:
        for k, values in enumerate(readings):
            if stop.is_set():
                return
            source.publish("cells/c1", json.dumps({"ts": T0 + k + 1, **values}))
            time.sleep(0.005)

    publisher = threading.Thread(target=publish, daemon=True)
    try:
        source.publish("cells/c1", json.dumps({"ts": T0, **readings[0]}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                service.get_estimate("c1")
                break
            except NotFoundError:
                time.sleep(0.05)
        before_twin = service.get_twin("c1")
        binding = service.get_behavior_binding(CELL)
        publisher.start()
        runs = 0
        while publisher.is_alive() and runs < 6:
            for override in ({"parameters": {"qMax": 5000.0}}, {"off": True},
                             {"state": {"qb": 100.0}}, {"load": {"values": [[9.0]]}}):
                sid = service.create_scenario({"twins": ["c1"], "horizon": 600, "dt": 10,
                                               "samples": 20, "overrides": {"c1": override}})
                service.run_scenario(sid["id"])
                runs += 1
    finally:
        stop.set()
        publisher.join(30)
        pipeline.stop()
        tracker.stop()
        source.stop()
    assert runs >= 4
    after = service.get_twin("c1")
    assert after["$etag"] == before_twin["$etag"]  # no scenario wrote the twin
    assert service.get_behavior_binding(CELL) == binding
    assert service.store.list_documents("calibration") == {}
    service.update_estimates(["c1"])
    estimate = service.get_estimate("c1")
    assert estimate["parameters"] == {}  # no override leaked into the live estimate
    assert estimate["measurements"] == len(service.telemetry_history("c1", "voltage", 0, 2e9))
    assert estimate["derived"]["soc"] > 0.5  # the live state, not an override's
    kinds = {e.kind for e in service.read_events(0, 100_000, twin_ids=["c1"])}
    assert kinds == {"twin.created", "telemetry"}
