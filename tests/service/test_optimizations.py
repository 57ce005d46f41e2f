"""Optimizations through the service: one fork, every candidate on the same random numbers,
the best ones kept as scenarios; deterministic lines whose answer is known."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.compute import LocalExecutor
from holotwin.demo.plant import build_plant
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.service import TwinService
from tests.service.test_scenarios import BASE, cells  # noqa: F401 - a fixture

HOUR = 3600.0
LINE: dict[str, Any] = {"kind": "line", "line": "line-1", "horizon": 8 * HOUR,
                        "replications": 1, "seed": 1,
                        "overrides": {"stops": [{"start": 4 * HOUR, "duration": HOUR}]}}
MAINTENANCE = {"station": "machine-1-2", "start": 0, "duration": HOUR}


@pytest.fixture
def line(service: TwinService) -> TwinService:
    build_plant(service, lines=1, machines_per_line=3)
    for k, speed in enumerate((6.0, 4.0, 6.0), start=1):  # 10 s, 15 s, 10 s a part
        service.patch_twin(f"machine-1-{k}", [{"op": "replace", "path": "/speed",
                                               "value": speed}])
    return service


def _slot_search(**changes: Any) -> dict[str, Any]:
    scenario = {**LINE, "overrides": {**LINE["overrides"], "maintenance": [MAINTENANCE]}}
    return {"name": "slot", "scenario": scenario,
            "knobs": [{"path": "/overrides/maintenance/0/start",
                       "values": [0, 2 * HOUR, 4 * HOUR, 6 * HOUR]}],
            "objective": {"kpi": "/good/mean", "goal": "max"}, "top": 2, **changes}


def test_maintenance_in_the_planned_stop_is_free_and_is_found(line: TwinService) -> None:
    seen: list[float] = []
    doc = line.run_optimization(line.create_optimization(_slot_search())["id"],
                                progress=seen.append)
    assert doc["status"] == "done" and seen[-1] == 1.0 and seen == sorted(seen)
    results = doc["results"]
    assert results["method"] == "grid" and results["evaluated"] == 4
    best = results["best"][0]
    assert best["assignment"] == {"/overrides/maintenance/0/start": 4 * HOUR}
    no_maintenance = line.run_scenario(line.create_scenario(LINE)["id"])["kpis"]["good"]
    assert best["objective"] == no_maintenance["mean"]  # the stop hides it entirely
    assert results["baseline"]["objective"] == pytest.approx(no_maintenance["mean"] - 240, abs=1)
    # the baseline and the best two are stored scenarios, with their results, comparable
    ids = doc["scenarios"]
    stored = line.get_scenario(ids["best"][0])
    assert stored["status"] == "done" and stored["optimization"] == doc["id"]
    assert stored["overrides"]["maintenance"][0]["start"] == 4 * HOUR
    assert "slot: best 1 (start=14400.0)" == stored["name"]
    table = line.compare_scenarios([ids["baseline"], *ids["best"]])
    assert table["scenarios"][1]["vsBaseline"]["good"]["mean"] == pytest.approx(240, abs=1)
    assert len(line.list_scenarios()) == 4 and line.list_optimizations()[0]["best"]


def test_a_constraint_on_throughput_picks_the_fastest_line_under_it(line: TwinService
                                                                   ) -> None:
    search = {"scenario": {**LINE, "overrides": {}},
              "knobs": [{"path": "/overrides/lineSpeed", "values": [0.8, 0.9, 1.0, 1.2]}],
              "objective": {"kpi": "/good/mean"},
              "constraints": [{"kpi": "/throughput/mean", "max": 230.0}], "top": 4}
    doc = line.run_optimization(line.create_optimization(search)["id"])
    best = doc["results"]["best"]
    assert [b["assignment"]["/overrides/lineSpeed"] for b in best] == [0.9, 0.8, 1.2, 1.0]
    assert [b["feasible"] for b in best] == [True, True, False, False]
    assert best[0]["kpis"]["throughput"]["mean"] == pytest.approx(216, rel=0.01)


def test_the_pool_gives_the_same_answer_and_one_seed_serves_every_candidate(
        line: TwinService) -> None:
    search = _slot_search(scenario={**LINE, "seed": None, "replications": 2, "defaults": {
        "mtbf": 2 * HOUR, "mttr": 600.0}, "overrides": {"maintenance": [MAINTENANCE]}})
    first = line.run_optimization(line.create_optimization(search)["id"])
    assert isinstance(first["seed"], int)
    fixed = {**search, "scenario": {**search["scenario"], "seed": first["seed"]}}
    with LocalExecutor(workers=2) as pool:
        line.executor, old = pool, line.executor
        try:
            again = line.run_optimization(line.create_optimization(fixed)["id"])
        finally:
            line.executor = old
    assert again["results"]["best"] == first["results"]["best"]
    assert again["results"]["baseline"] == first["results"]["baseline"]


def test_optimizing_what_if_forks(cells: TwinService) -> None:  # noqa: F811
    search = {"scenario": {**BASE, "overrides": {"c1": {"load": {"values": [[2.0]]}}}},
              "knobs": [{"path": "/overrides/c1/load/values/0/0", "values": [4.0, 1.0, 3.0]}],
              "objective": {"kpi": "/events/EOD/earliest", "goal": "max"}, "top": 1}
    doc = cells.run_optimization(cells.create_optimization(search)["id"])
    best = doc["results"]["best"][0]
    assert best["assignment"] == {"/overrides/c1/load/values/0/0": 1.0}
    # with c1 at 1 A, the earliest end of discharge is c2's, untouched
    scenario = cells.get_scenario(doc["scenarios"]["best"][0])
    assert scenario["kpis"]["events"]["EOD"]["earliestTwin"] == "c2"


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"knobs": [{"path": "/line", "values": ["line-2"]}]}, InvalidInputError,
     r"changes what the scenario forks \('line'\)"),
    ({"knobs": [{"path": "/overrides/maintenance/0/start", "values": [0, -60]}]},
     InvalidInputError, r"maintenance\[0\].start must be >= 0"),
    ({"knobs": [{"path": "/overrides/maintenance/3/start", "values": [0]}]},
     InvalidInputError, "not an index of a list of 1"),
    ({"scenario": {**LINE, "line": "line-5"}}, NotFoundError, "line-5"),
    ({"scenario": "no-such-scenario"}, NotFoundError, "no-such-scenario"),
    ({"scenario": 5}, InvalidInputError, "'scenario' must be a scenario document"),
    ({"objective": {"kpi": "/good/mean", "goal": "most"}}, InvalidInputError, "goal"),
])
def test_bad_optimizations_are_refused_when_created(
        line: TwinService, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        line.create_optimization(_slot_search(**changes))
    assert line.list_optimizations() == []


def test_an_objective_that_is_not_a_kpi_fails_the_run_with_the_reason(line: TwinService
                                                                     ) -> None:
    created = line.create_optimization(_slot_search(objective={"kpi": "/goodness"}))
    with pytest.raises(InvalidInputError, match=r"objective\.kpi /goodness is not a number"):
        line.run_optimization(created["id"])
    doc = line.get_optimization(created["id"])
    assert doc["status"] == "failed" and "/goodness" in doc["error"]
    line.delete_optimization(created["id"])
    with pytest.raises(NotFoundError):
        line.get_optimization(created["id"])


def test_a_stored_scenario_can_be_the_one_optimized(line: TwinService) -> None:
    stored = line.create_scenario({**LINE, "overrides": {"maintenance": [MAINTENANCE]}})
    doc = line.run_optimization(line.create_optimization(_slot_search(
        scenario=stored["id"]))["id"])
    assert doc["results"]["best"][0]["assignment"] == {
        "/overrides/maintenance/0/start": 0}  # no stop in that one: all slots cost the same
    assert doc["scenario"]["overrides"]["stops"] == []
