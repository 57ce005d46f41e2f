"""Line scenarios: the demo line's machines as a serial line, with their cycle times, MTBF and
MTTR read from the twins, maintenance and its effect, comparisons with paired intervals, and
that running them (and optimizations) changes no twin, even while ingestion runs."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from holotwin.clock import ManualClock, SystemClock
from holotwin.compute import LocalExecutor
from holotwin.demo.plant import build_plant
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.ingest import IngestPipeline, InProcessSource, PipelineSettings, TopicMapping
from holotwin.service import TwinService
from holotwin.service.estimating import ESTIMATE
from holotwin.service.line_facts import line_facts
from holotwin.service.scenarios import parse_spec

HOUR = 3600.0
# parts per minute: machine-1-2 is the bottleneck (15 s a part; the others 10 s)
SPEEDS = {"machine-1-1": 6.0, "machine-1-2": 4.0, "machine-1-3": 6.0, "machine-1-4": 6.0}


def _status(service: TwinService, twin: str, value: str) -> None:
    service.patch_twin(twin, [{"op": "replace", "path": "/status", "value": value}])


@pytest.fixture
def line(any_service: TwinService, clock: ManualClock) -> TwinService:
    build_plant(any_service, lines=1, machines_per_line=4)
    for twin, speed in SPEEDS.items():
        any_service.patch_twin(twin, [{"op": "replace", "path": "/speed", "value": speed}])
    # machine-1-3's last 1,000 s: running, fault 200-250, running, fault 600-620, running
    for at, value in ((200, "fault"), (250, "running"), (600, "fault"), (620, "running")):
        clock.set(1_700_000_000.0 + at)
        _status(any_service, "machine-1-3", value)
    clock.set(1_700_001_000.0)
    return any_service


def _spec(**changes: Any) -> dict[str, Any]:
    return {"kind": "line", "line": "line-1", "horizon": 8 * HOUR, "replications": 3,
            "seed": 5, "lookback": 1000.0, **changes}


def test_facts_come_from_the_twins(line: TwinService) -> None:
    facts = {f.name: f for f in line_facts(line.store, parse_spec(_spec()), None,
                                           line.clock.now())}
    assert list(facts) == list(SPEEDS)  # flow order from the hasMachine relationships
    assert facts["machine-1-2"].cycle_time == pytest.approx(15.0)
    m3 = facts["machine-1-3"]
    assert m3.mtbf == pytest.approx((200 + 350 + 380) / 2)  # running time / faults
    assert m3.mttr == pytest.approx((50 + 20) / 2)
    assert "2 fault(s)" in m3.sources["mtbf"] and "2 repair(s)" in m3.sources["mttr"]
    assert facts["machine-1-1"].mtbf is None and facts["machine-1-1"].mttr is None
    # the history before the window is not counted: 500 s back, only the fault at 600 s
    half = {f.name: f for f in line_facts(line.store, parse_spec(_spec(lookback=500.0)),
                                          None, line.clock.now())}["machine-1-3"]
    assert half.mtbf == pytest.approx(100 + 380) and half.mttr == pytest.approx(20)
    # as of a past time: the twin then (speed set after the history began is the same)
    past = {f.name: f for f in line_facts(line.store, parse_spec(_spec(lookback=300.0)),
                                          1_700_000_300.0, line.clock.now())}["machine-1-3"]
    assert past.mtbf == pytest.approx(250.0) and past.mttr == pytest.approx(50.0)


def test_a_reliable_deterministic_line_runs_at_its_bottleneck(line: TwinService) -> None:
    # no failures in the history of 1-1, 1-2, 1-4; 1-3 is made reliable by an override
    spec = _spec(overrides={"stations": {"machine-1-3": {"mtbf": 1e12}}})
    doc = line.run_scenario(line.create_scenario(spec)["id"])
    assert doc["status"] == "done" and doc["kind"] == "line"
    kpis = doc["kpis"]
    assert kpis["bottleneck"] == "machine-1-2"
    assert kpis["throughput"]["mean"] == pytest.approx(HOUR / 15.0, rel=0.005)  # 240 / h
    assert kpis["oee"]["mean"] == pytest.approx(1.0, abs=0.002)
    stations = {s["name"]: s for s in doc["results"]["stations"]}
    assert stations["machine-1-2"]["sources"]["cycleTime"] == "twin: speed 4 parts/min"
    assert stations["machine-1-1"]["sources"]["mtbf"] == "defaults"
    assert stations["machine-1-3"]["sources"]["mtbf"] == "override"


def test_maintenance_of_the_bottleneck_costs_its_output_and_compares_paired(
        line: TwinService) -> None:
    reliable = {"stations": {"machine-1-3": {"mtbf": 1e12}}}
    base = line.run_scenario(line.create_scenario(_spec(name="as is",
                                                        overrides=reliable))["id"])
    stop = line.run_scenario(line.create_scenario(_spec(name="stop 1-2 for an hour", overrides={
        **reliable, "maintenance": [{"station": "machine-1-2", "start": HOUR,
                                     "duration": HOUR}]}))["id"])
    lost = base["kpis"]["good"]["mean"] - stop["kpis"]["good"]["mean"]
    assert lost == pytest.approx(HOUR / 15.0, abs=2)  # an hour of the bottleneck's output
    table = line.compare_scenarios([base["id"], stop["id"]])
    assert table["kind"] == "line" and table["baseline"] == "as is"
    delta = table["scenarios"][1]["vsBaseline"]["good"]
    assert table["scenarios"][1]["paired"] and delta["mean"] == pytest.approx(-lost)
    assert delta["low"] <= delta["mean"] <= delta["high"]


def test_maintenance_that_restores_a_worn_machine_pays_off(line: TwinService) -> None:
    # machine-1-2, the bottleneck, is worn: its health estimate is 0.05, so it fails every
    # 0.05 x 4 h = 720 s for 300 s; maintenance for 30 min makes it as new (4 h)
    with line.store.transaction() as tx:
        tx.put_document(ESTIMATE, "machine-1-2", {"t": line.clock.now(), "mean": [],
                                                  "cov": [], "derived": {"health": 0.05}},
                        line.clock.now())
    spec = _spec(horizon=24 * HOUR, replications=4,
                 defaults={"mtbf": 4 * HOUR, "mttr": 300.0},
                 overrides={"stations": {"machine-1-3": {"mtbf": 1e12}}})
    base = line.run_scenario(line.create_scenario(spec)["id"])
    fixed = line.run_scenario(line.create_scenario({**spec, "overrides": {
        **spec["overrides"], "maintenance": [{"station": "machine-1-2", "start": 0,
                                              "duration": 1800, "restore": True}]}})["id"])
    stations = {s["name"]: s for s in base["results"]["stations"]}
    assert stations["machine-1-2"]["mtbf"] == pytest.approx(720.0)
    assert stations["machine-1-2"]["sources"]["mtbf"].startswith("health 0.05")
    assert base["kpis"]["throughput"]["mean"] < 0.75 * HOUR / 15.0
    assert fixed["kpis"]["throughput"]["mean"] > 1.2 * base["kpis"]["throughput"]["mean"]
    assert fixed["results"]["maintenance"][0]["mtbfAfter"] == 4 * HOUR


def test_running_changes_no_twin_and_a_pool_gives_the_same_results(
        line: TwinService) -> None:
    before = {t: line.get_twin(t)["$etag"] for t in [*SPEEDS, "line-1"]}
    spec = _spec(replications=4)
    inline = line.run_scenario(line.create_scenario(spec)["id"])
    with LocalExecutor(workers=2) as pool:
        line.executor, old = pool, line.executor
        try:
            pooled = line.run_scenario(line.create_scenario(spec)["id"])
        finally:
            line.executor = old
    assert pooled["results"] == inline["results"] and pooled["kpis"] == inline["kpis"]
    assert {t: line.get_twin(t)["$etag"] for t in before} == before


def test_a_scenario_without_a_seed_draws_one_and_keeps_it(line: TwinService) -> None:
    doc = line.run_scenario(line.create_scenario(_spec(seed=None, replications=2))["id"])
    assert isinstance(doc["results"]["seed"], int) and doc["seed"] is None


@pytest.mark.parametrize(("changes", "message"), [
    ({"line": "line-9"}, "line-9"),
    ({"overrides": {"stations": {"machine-9-9": {"speed": 2.0}}}}, "no station 'machine-9-9'"),
    ({"overrides": {"maintenance": [{"station": "machine-1-1", "start": 0}]}},
     "maintenance[0].duration must be a finite number"),
    ({"overrides": {"buffers": [1, 2]}}, "has 3 buffer(s), got 2"),
    ({"overrides": {"stations": {"machine-1-1": {"speed": 0}}}}, "speed must be > 0"),
    ({"overrides": {"stations": {"machine-1-1": {"colour": 1}}}}, "unknown member 'colour'"),
    ({"warmup": 9e9}, "must be less than 'horizon'"),
    ({"replications": 0}, "'replications' must be an integer"),
    ({"relationship": "hasPump"}, "no 'hasPump' relationships"),
    ({"kind": "fleet"}, "'kind' must be one of forks, line"),
    ({"defaults": {"yield": 2}}, "defaults.yield must be in (0, 1]"),
    ({"stations": []}, "'stations' must be a non-empty list"),
])
def test_bad_line_scenarios_are_refused_before_they_run(
        line: TwinService, changes: dict[str, Any], message: str) -> None:
    with pytest.raises((InvalidInputError, NotFoundError), match=message.replace(
            "(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        line.create_scenario(_spec(**changes))
    assert line.list_scenarios() == []


def test_forks_and_lines_are_not_compared(line: TwinService) -> None:
    a = line.run_scenario(line.create_scenario(_spec(replications=1))["id"])
    b = line.run_scenario(line.create_scenario({"twins": ["machine-1-1"]})["id"])
    with pytest.raises(InvalidInputError, match="different kinds"):
        line.compare_scenarios([a["id"], b["id"]])


def test_the_mtbf_as_new_is_for_after_maintenance_only(line: TwinService) -> None:
    # machine-1-1 says nothing of its failures: it fails as defaults.mtbf says until its
    # maintenance, and as its mtbfNew says after it
    spec = _spec(defaults={"mtbf": 600.0, "mttr": 20.0}, overrides={
        "stations": {"machine-1-1": {"mtbfNew": 1e9}},
        "maintenance": [{"station": "machine-1-1", "start": 4 * HOUR, "duration": 60,
                         "restore": True}]})
    doc = line.run_scenario(line.create_scenario(spec)["id"])
    station = next(s for s in doc["results"]["stations"] if s["name"] == "machine-1-1")
    assert station["mtbf"] == 600.0 and station["sources"]["mtbf"] == "defaults"
    # operating about 2/3 of 4 h before the window at 600 s between failures, ~0 after
    assert 8 <= station["results"]["failures"]["mean"] <= 25
    assert doc["results"]["maintenance"][0]["mtbfAfter"] == 1e9


def test_line_scenarios_and_optimizations_change_nothing_while_ingestion_runs(
        any_service: TwinService) -> None:
    service = TwinService(any_service.store, SystemClock())
    build_plant(service, lines=1, machines_per_line=3)
    pipeline = IngestPipeline(service, PipelineSettings(max_batch=20, max_delay=0.01))
    source = InProcessSource("live", [TopicMapping.create("m/{machine}", "{machine}",
                                                          time="/ts")])
    source.start(pipeline)
    pipeline.start()
    twins = ["line-1", "machine-1-1", "machine-1-2", "machine-1-3"]
    before = {t: service.get_twin(t) for t in twins}
    relationships = service.list_relationships("line-1")
    start = time.time()
    published = 0
    stop = threading.Event()

    def publish() -> None:
        nonlocal published
        while not stop.is_set() and published < 3000:
            machine = f"machine-1-{published % 3 + 1}"
            source.publish(f"m/{machine}", json.dumps({"ts": start + published * 0.01,
                                                       "temperature": 40.0 + published % 7}))
            published += 1
            time.sleep(0.001)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    spec = _spec(horizon=HOUR, replications=2, defaults={"mtbf": 900.0, "mttr": 60.0})
    runs = 0
    try:
        for overrides in ({"stations": {"machine-1-2": {"speed": 0.5, "mtbf": 100.0}}},
                          {"buffers": [0, 50], "lineSpeed": 2.0},
                          {"maintenance": [{"station": "machine-1-1", "start": 0,
                                            "duration": 600, "restore": True}],
                           "stops": [{"start": 60, "duration": 60}]}):
            service.run_scenario(service.create_scenario({**spec, "overrides": overrides})["id"])
            runs += 1
        service.run_optimization(service.create_optimization({
            "scenario": spec, "objective": {"kpi": "/good/mean"},
            "knobs": [{"path": "/overrides/lineSpeed", "values": [0.5, 1.5]}]})["id"])
        runs += 1
    finally:
        stop.set()
        publisher.join(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and source.stats.written < published:
            time.sleep(0.02)
        pipeline.stop()
        source.stop()
    assert runs == 4 and published > 100
    assert {t: service.get_twin(t) for t in twins} == before  # no scenario wrote a twin
    assert service.list_relationships("line-1") == relationships
    points = sum(len(service.telemetry_history(f"machine-1-{k}", "temperature", 0, 2e9))
                 for k in (1, 2, 3))
    assert points == published  # and every reading that came in meanwhile is kept
    kinds = {e.kind for e in service.read_events(0, 1_000_000, twin_ids=twins)
             if e.time >= start}
    assert kinds == {"telemetry"}


def test_a_scenario_deleted_while_it_runs_stays_deleted(line: TwinService) -> None:
    created = line.create_scenario(_spec(horizon=48 * HOUR, replications=20))
    started = threading.Event()

    def progress(done: float) -> None:
        started.set()
        time.sleep(0.01)

    raised: list[BaseException] = []

    def run() -> None:
        try:
            line.run_scenario(created["id"], progress)
        except NotFoundError as exc:
            raised.append(exc)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert started.wait(60)
    line.delete_scenario(created["id"])
    runner.join(120)
    assert not runner.is_alive()
    assert len(raised) == 1 and "was deleted while it ran" in str(raised[0])
    with pytest.raises(NotFoundError):
        line.get_scenario(created["id"])
    assert line.list_scenarios() == []
