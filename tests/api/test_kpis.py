"""KPIs through the REST API: a line's rollup over a window, the default window, the
configuration per model, scopes, and bad requests as problems."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.api import ApiSettings
from holotwin.clock import ManualClock, to_iso
from holotwin.demo.plant import MACHINE_MODEL, build_plant
from holotwin.service import ApiKeys, TwinService
from tests.api.conftest import make_client

C0 = 1_700_000_000.0


def _status(service: TwinService, clock: ManualClock, at: float, twin: str, value: str
            ) -> None:
    clock.set(C0 + at)
    service.patch_twin(twin, [{"op": "replace", "path": "/status", "value": value}])


@pytest.fixture
def line(service: TwinService, clock: ManualClock) -> TwinService:
    """One line of two machines; in the hour [C0, C0 + 3600): machine-1-1 in a fault from
    600 to 1200 s, machine-1-2 idle (planned, once configured) from 0 to 900 s."""
    build_plant(service, lines=1, machines_per_line=2)
    _status(service, clock, 0, "machine-1-2", "idle")
    _status(service, clock, 600, "machine-1-1", "fault")
    _status(service, clock, 900, "machine-1-2", "running")
    _status(service, clock, 1200, "machine-1-1", "running")
    clock.set(C0 + 3600)
    return service


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


def test_a_line_over_a_window(line: TwinService) -> None:
    with make_client(line) as client:
        r = client.get("/digitaltwins/line-1/kpis",
                       params={"start": to_iso(C0), "end": to_iso(C0 + 3600), "depth": 1})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["twinId"] == "line-1" and doc["start"] == to_iso(C0)
        m1, m2 = doc["children"]
        assert m1["kpis"]["availability"] == pytest.approx(3000 / 3600)
        assert m1["kpis"]["failures"] == 1 and m1["kpis"]["mttr"] == pytest.approx(600.0)
        assert m2["kpis"]["availability"] == 1.0  # idle is run time (a speed loss)
        assert doc["kpis"]["availability"] == pytest.approx(6600 / 7200)
        assert doc["kpis"]["mtbf"] == pytest.approx((3000 + 2700) / 1)
        # epoch seconds do as well, and the default window is the hour up to now
        assert client.get("/digitaltwins/line-1/kpis",
                          params={"start": C0, "end": C0 + 3600, "depth": 1}).json() == doc
        assert client.get("/digitaltwins/line-1/kpis",
                          params={"depth": 1}).json() == doc
        # planned stops through the configuration: machine-1-2's idle time is not planned
        r = client.put(f"/models/{MACHINE_MODEL}/kpis", json={"plannedStates": ["idle"]})
        assert r.status_code == 200 and r.json()["definedBy"] == MACHINE_MODEL
        m2 = client.get("/digitaltwins/machine-1-2/kpis").json()["kpis"]
        assert m2["plannedTime"] == 2700.0 and m2["availability"] == 1.0
        assert m2["mtbf"] is None and m2["mttr"] is None


def test_configuration_per_model(line: TwinService) -> None:
    with make_client(line) as client:
        path = f"/models/{MACHINE_MODEL}/kpis"
        got = client.get(path).json()
        assert got["definedBy"] is None and got["config"]["faultStates"] == ["fault"]
        body = _problem(client.put(path, json={"faultStates": ["fault"],
                                               "plannedStates": ["fault"]}), 400)
        assert "State 'fault' is in both faultStates and plannedStates" in body["detail"]
        body = _problem(client.put(path, json={"counters": {"total": "widgets"}}), 400)
        assert "counters.total 'widgets' is not a property or telemetry" in body["detail"]
        _problem(client.put(path, content=b"{", headers={"content-type":
                                                          "application/json"}), 400)
        put = client.put(path, json={"energy": {"maxGap": 60}})
        assert put.status_code == 200 and put.json()["config"]["energy"]["maxGap"] == 60.0
        assert client.get(path).json()["definedBy"] == MACHINE_MODEL
        assert client.delete(path).status_code == 204
        _problem(client.delete(path), 404)
        _problem(client.get("/models/dtmi:test:Nope;1/kpis"), 404)
        _problem(client.put("/models/dtmi:test:Nope;1/kpis", json={}), 404)


@pytest.mark.parametrize(("query", "status", "detail"), [
    ({"start": "yesterday"}, 400, "Query parameter 'start' must be an ISO 8601 time"),
    ({"start": to_iso(C0 + 100), "end": to_iso(C0)}, 400, "must be after 'start'"),
    ({"depth": "11"}, 400, "Query parameter 'depth' must be 0 to 10"),
    ({"depth": "two"}, 400, "Query parameter 'depth' must be an integer"),
    ({"start": to_iso(C0 + 7200), "end": to_iso(C0 + 9000)}, 400, "is in the future"),
])
def test_bad_requests_are_problems(line: TwinService, query: dict[str, str], status: int,
                                   detail: str) -> None:
    with make_client(line) as client:
        body = _problem(client.get("/digitaltwins/line-1/kpis", params=query), status)
        assert detail in body["detail"]


def test_unknown_twin_is_404(line: TwinService) -> None:
    with make_client(line) as client:
        body = _problem(client.get("/digitaltwins/nope/kpis"), 404)
        assert "nope" in body["detail"]


def test_reading_kpis_needs_read_and_configuring_needs_write(line: TwinService) -> None:
    _, reader = ApiKeys(line.store).create("dashboard", "read")
    with make_client(line, ApiSettings(auth=True)) as client:
        _problem(client.get("/digitaltwins/line-1/kpis"), 401)
        headers = {"X-API-Key": reader}
        assert client.get("/digitaltwins/line-1/kpis", headers=headers).status_code == 200
        assert client.get(f"/models/{MACHINE_MODEL}/kpis", headers=headers).status_code == 200
        _problem(client.put(f"/models/{MACHINE_MODEL}/kpis", json={}, headers=headers), 403)



def test_a_report_kept_for_dashboards(line: TwinService, clock: ManualClock) -> None:
    with make_client(line) as client:
        path = "/digitaltwins/line-1/kpis"
        first = client.get(path, params={"depth": 1, "maxAge": 30}).json()
        assert first["computedAt"] == to_iso(C0 + 3600)
        assert {k: v for k, v in first.items() if k != "computedAt"} == client.get(
            path, params={"depth": 1}).json()
        _status(line, clock, 3610, "machine-1-2", "fault")
        assert client.get(path, params={"depth": 1, "maxAge": 30}).json() == first  # kept
        assert client.get(path, params={"depth": 1}).json()["kpis"] != first["kpis"]
        for query, detail in (({"maxAge": "soon"}, "must be seconds"),
                              ({"maxAge": "-1"}, "maxAge must be seconds from 0 to 3600"),
                              ({"maxAge": "30", "start": to_iso(C0)}, "not with 'start'")):
            assert detail in _problem(client.get(path, params=query), 400)["detail"]
        _problem(client.get("/digitaltwins/nope/kpis", params={"maxAge": 30}), 404)
        workers = client.get("/health").json()["workers"]
        assert workers["kpis"]["running"] is True
