"""The search over overrides: JSON pointers, grid, Latin hypercube and differential evolution
on functions whose optimum is known, constraints, budgets, and a map to other processes."""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest

import holotwin.scenarios.optimize as optimize_module
from holotwin.compute import LocalExecutor
from holotwin.errors import InvalidInputError
from holotwin.scenarios.optimize import get_pointer, optimize, parse_search, set_pointer


def bowl(doc: dict[str, Any]) -> dict[str, Any]:
    """A made-up scenario whose output peaks at x = 3.3, mode "b"; module level, so that
    worker processes can run it."""
    x, mode = doc["x"], doc["mode"]
    return {"kpis": {"good": -(x - 3.3) ** 2 - {"a": 1.0, "b": 0.0, "c": 2.0}[mode],
                     "load": x + (1.0 if mode == "b" else 0.0)}}


BASE = {"x": 0.0, "mode": "a"}
KNOBS = [{"path": "/x", "low": -10, "high": 10}, {"path": "/mode", "values": ["a", "b", "c"]}]


def _search(**changes: Any) -> Any:
    return parse_search({"knobs": KNOBS, "objective": {"kpi": "/good"}, **changes})


def test_the_examples_run() -> None:
    assert doctest.testmod(optimize_module).failed == 0


def test_pointers() -> None:
    doc = {"a": {"b~c": [1, {"d/e": 2}]}}
    assert get_pointer(doc, "/a/b~0c/1/d~1e") == 2
    changed = set_pointer(doc, "/a/b~0c/0", 5)
    assert changed["a"]["b~c"][0] == 5 and doc["a"]["b~c"][0] == 1  # a copy
    assert set_pointer({}, "/x/y", 1) == {"x": {"y": 1}}
    for pointer, message in (("a", "not a JSON pointer"), ("/a/b~0c/7", "not an index"),
                             ("/a/zz/q", "no 'zz' here")):
        with pytest.raises(InvalidInputError, match=message):
            get_pointer(doc, pointer)
    with pytest.raises(InvalidInputError, match="not an index of a list of 2"):
        set_pointer(doc, "/a/b~0c/2", 1)


def test_a_grid_finds_the_best_point_of_the_grid() -> None:
    result = optimize(bowl, BASE, _search(knobs=[{**KNOBS[0], "steps": 21}, KNOBS[1]],
                                          top=2))
    assert result.method == "grid" and result.evaluated == 63
    best = result.best[0]
    assert best.assignment == {"/x": 3.0, "/mode": "b"} and best.objective == pytest.approx(-0.09)
    assert result.baseline.objective == pytest.approx(-(3.3**2) - 1.0)
    assert result.best[1].assignment == {"/x": 4.0, "/mode": "b"}


@pytest.mark.parametrize("method", ["random", "differential-evolution"])
def test_sampling_and_evolution_come_close_to_the_optimum(method: str) -> None:
    result = optimize(bowl, BASE, _search(method=method, budget=120, seed=4))
    assert 1 <= result.evaluated <= 120
    best = result.best[0]
    assert best.assignment["/mode"] == "b" and abs(best.assignment["/x"] - 3.3) < 0.6
    objectives = [c.objective for c in result.candidates]
    assert best.objective == max(objectives)


def test_auto_picks_the_grid_when_it_fits_and_evolution_when_not() -> None:
    assert optimize(bowl, BASE, _search(budget=15)).method == "grid"  # 5 x 3 points
    assert optimize(bowl, BASE, _search(budget=14, seed=1)).method == "differential-evolution"


def test_constraints_rank_feasible_candidates_first() -> None:
    # load (x, plus 1 in mode b) must stay at most 3: x = 3 in mode b, the best without the
    # constraint, breaks it; the best feasible is x = 3 in mode a (-1.09, not -1.69 at 2, b)
    result = optimize(bowl, BASE, _search(knobs=[{"path": "/x", "low": 0, "high": 5,
                                                  "integer": True}, KNOBS[1]],
                                          constraints=[{"kpi": "/load", "max": 3}], top=20))
    assert result.best[0].assignment == {"/x": 3, "/mode": "a"} and result.best[0].feasible
    unconstrained = optimize(bowl, BASE, _search(knobs=[{"path": "/x", "low": 0, "high": 5,
                                                         "integer": True}, KNOBS[1]]))
    assert unconstrained.best[0].assignment == {"/x": 3, "/mode": "b"}
    feasible = [c.feasible for c in result.best]
    assert feasible == sorted(feasible, reverse=True)  # all feasible ones, then the rest
    broken = next(c for c in result.best if not c.feasible)
    assert broken.violations[0] > 0 and broken.to_json()["feasible"] is False


def test_maximize_or_minimize_and_every_candidate_once() -> None:
    calls: list[float] = []

    def counted(doc: dict[str, Any]) -> dict[str, Any]:
        calls.append(doc["x"])
        return bowl(doc)

    search = _search(knobs=[{"path": "/x", "values": [1.0, 1.0, 5.0, 3.0]}],
                     objective={"kpi": "/good", "goal": "min"})
    result = optimize(counted, BASE, search)
    assert result.best[0].assignment == {"/x": 1.0}  # farthest from 3.3
    assert sorted(calls) == [0.0, 1.0, 3.0, 5.0]  # the baseline, then each value once


def test_a_process_pool_gives_the_same_ranking_with_progress() -> None:
    search = _search(method="random", budget=12, seed=2)
    here = optimize(bowl, BASE, search)
    seen: list[float] = []
    with LocalExecutor(workers=2) as pool:
        there = optimize(bowl, BASE, search, map=pool.map, progress=seen.append)
    assert [c.assignment for c in there.best] == [c.assignment for c in here.best]
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_a_bad_value_of_a_knob_is_refused_before_anything_runs() -> None:
    calls: list[Any] = []

    def prepare(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["x"] < 0:
            raise InvalidInputError(f"x must be >= 0, got {doc['x']}")
        return doc

    with pytest.raises(InvalidInputError, match="x must be >= 0, got -10"):
        optimize(lambda d: calls.append(d) or bowl(d), BASE, _search(), prepare=prepare)
    assert calls == []


def test_a_missing_objective_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"objective.kpi /oee is not a number.*good"):
        optimize(bowl, BASE, _search(objective={"kpi": "/oee"}))


@pytest.mark.parametrize(("changes", "message"), [
    ({"knobs": []}, "'knobs' must be a non-empty list"),
    ({"knobs": [{"path": "x", "values": [1]}]}, "not a JSON pointer"),
    ({"knobs": [{"path": "/x", "values": []}]}, "values must be a non-empty list"),
    ({"knobs": [{"path": "/x", "low": 2, "high": 1}]}, "high (1) is below low (2)"),
    ({"knobs": [{"path": "/x", "low": 0.5, "high": 3, "integer": True}]}, "whole low and high"),
    ({"knobs": [{"path": "/x", "low": 0, "high": math.inf}]}, "high must be a finite number"),
    ({"knobs": [KNOBS[0], KNOBS[0]]}, "same member"),
    ({"knobs": [{"path": "/x", "values": [1], "low": 0}]}, "either values or low and high"),
    ({"objective": {"kpi": "/good", "goal": "up"}}, "goal must be 'max' or 'min'"),
    ({"constraints": [{"kpi": "/load"}]}, "needs min or max"),
    ({"method": "annealing"}, "'method' must be one of"),
    ({"budget": 0}, "'budget' must be an integer from 1"),
    ({"method": "grid", "budget": 10}, "The grid has 15 points, over the budget of 10"),
    ({"colour": 1}, "Unknown member 'colour'"),
])
def test_bad_searches_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _search(**changes)
