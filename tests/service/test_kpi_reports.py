"""KPI reports kept for dashboards (service/kpi_reports.py): answered from memory within
their maxAge, computed again in the background past half of it, stale ones answered while
they are, forgotten when nobody asks; the overview's root warmed at start. Both stores, on
a manual clock."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from holotwin.clock import ManualClock, from_iso
from holotwin.demo.plant import build_plant
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.service import TwinService
from holotwin.service.graph import twin_graph
from holotwin.service.kpi_reports import KpiReports, default_root

C0 = 1_700_000_000.0


@pytest.fixture
def plant(any_service: TwinService, clock: ManualClock) -> TwinService:
    clock.set(C0)
    build_plant(any_service, lines=2, machines_per_line=2)
    for k, twin in enumerate(["machine-1-1", "machine-1-2", "machine-2-1", "machine-2-2"]):
        any_service.patch_twin(twin, [{"op": "add", "path": "/status", "value": "running"}])
        clock.advance(10.0 + k)
    clock.set(C0 + 600)
    return any_service


def set_status(service: TwinService, twin: str, status: str) -> None:
    service.patch_twin(twin, [{"op": "add", "path": "/status", "value": status}])


def availability(report: dict[str, Any], twin: str) -> float:
    stack = [report]
    while stack:
        node = stack.pop()
        if node["twinId"] == twin:
            return float(node["kpis"]["availability"])
        stack.extend(node.get("children", []))
    raise AssertionError(f"{twin} is not in the report")


def test_reports_come_from_memory_within_their_age_and_are_kept_fresh(
    plant: TwinService, clock: ManualClock
) -> None:
    reports = KpiReports(plant, keep_for=300.0)
    first = reports.get("plant", 2, 60.0)
    assert reports.computed == 1 and from_iso(first["computedAt"]) == C0 + 600
    assert first == {**plant.twin_kpis("plant", depth=2), "computedAt": first["computedAt"]}
    set_status(plant, "machine-1-1", "fault")
    clock.advance(20.0)
    assert reports.get("plant", 2, 60.0) is first  # 20 s old: from memory
    assert reports.refresh() == 0  # not yet half its age (30 s)
    clock.advance(15.0)
    assert reports.refresh() == 1  # 35 s: computed again in the background
    fresh = reports.get("plant", 2, 60.0)
    assert from_iso(fresh["computedAt"]) == C0 + 635 and reports.computed == 2
    assert availability(fresh, "machine-1-1") < availability(first, "machine-1-1") == 1.0
    # past its age without the thread: answered stale, the thread is woken to compute it
    clock.advance(100.0)
    assert reports.get("plant", 2, 60.0) is fresh and reports.computed == 2
    assert reports._woken
    assert reports.refresh() == 1
    # another depth is another report; a smaller maxAge asks for a fresher one
    assert reports.get("plant", 0, 60.0)["children"] == []
    assert reports.computed == 4
    clock.advance(10.0)
    reports.get("plant", 2, 10.0)
    assert reports.refresh() == 1  # 10 s old, due at 5 s under the new age


def test_reports_nobody_asks_for_are_forgotten(plant: TwinService, clock: ManualClock) -> None:
    reports = KpiReports(plant, keep_for=120.0)
    reports.get("line-1", 1, 30.0)
    clock.advance(121.0)
    assert reports.refresh() == 0 and reports._reports == {}
    reports.get("line-1", 1, 30.0)  # asked again: computed while it waits
    assert reports.computed == 2


def test_a_deleted_twin_and_bad_ages(plant: TwinService, clock: ManualClock,
                                     caplog: pytest.LogCaptureFixture) -> None:
    reports = KpiReports(plant)
    with pytest.raises(NotFoundError):
        reports.get("nope", 2, 30.0)
    for bad in (-1.0, 3601.0, float("nan")):
        with pytest.raises(InvalidInputError, match="maxAge"):
            reports.get("plant", 2, bad)
    reports.get("machine-2-2", 0, 30.0)
    for rel in plant.list_incoming("machine-2-2"):
        plant.delete_relationship(rel["$sourceId"], rel["$relationshipId"])
    plant.delete_twin("machine-2-2")
    clock.advance(31.0)
    with caplog.at_level(logging.WARNING, "holotwin.kpis"):
        assert reports.refresh() == 0
    assert "machine-2-2" in caplog.text and reports._reports == {}


def test_the_first_round_warms_the_overviews_root(plant: TwinService) -> None:
    assert default_root(twin_graph(plant.store)) == "plant"
    reports = KpiReports(plant)
    assert reports.run_once() == 1  # the plant's report, at the dashboard's depth
    assert set(reports._reports) == {("plant", 2)}
    assert reports.run_once() == 0
    reports.get("plant", 2, 60.0)
    assert reports.computed == 1  # the dashboard's first visit did not wait


def test_the_root_without_a_plant_model_is_the_one_with_most_below() -> None:
    graph = {"twins": [{"id": i, "model": f"dtmi:x:{m};1"} for i, m in
                       (("a", "Site"), ("b", "Site"), ("c", "Cell"), ("d", "Cell"), ("e", "Cell"))],
             "relationships": [{"source": "a", "target": "c"},
                               {"source": "b", "target": "d"}, {"source": "d", "target": "e"}]}
    assert default_root(graph) == "b"
    graph["twins"].append({"id": "p", "model": "dtmi:x:Plant;1"})
    graph["relationships"].append({"source": "p", "target": "a"})
    assert default_root(graph) == "p"
    assert default_root({"twins": [{"id": "z", "model": "dtmi:x:Cell;1"}],
                         "relationships": []}) is None


def test_a_report_being_computed_is_waited_for_not_computed_twice(
    plant: TwinService, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = KpiReports(plant)
    started, release = threading.Event(), threading.Event()
    compute = plant.twin_kpis

    def slow(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(10)
        return compute(*args, **kwargs)

    monkeypatch.setattr(plant, "twin_kpis", slow)
    warming = threading.Thread(target=reports.run_once)  # the first round: the plant's
    warming.start()
    assert started.wait(10)
    answers: list[dict[str, Any]] = []
    asking = threading.Thread(target=lambda: answers.append(reports.get("plant", 2, 60.0)))
    asking.start()
    time.sleep(0.2)
    assert answers == []  # waiting for the round's computation
    release.set()
    warming.join(10)
    asking.join(10)
    assert reports.computed == 1 and answers == [reports._reports[("plant", 2)].report]
