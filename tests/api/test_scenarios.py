"""Line scenarios (and, below, optimizations) through the REST API: stored, run in the
background with progress, compared; bad documents are 4xx problem+json."""

from __future__ import annotations

from holotwin.demo.plant import build_plant
from holotwin.service import TwinService
from tests.api.conftest import make_client
from tests.api.test_behaviors import _wait

LINE = {"kind": "line", "line": "line-1", "horizon": 7200, "replications": 2, "seed": 4}


def _plant(service: TwinService) -> None:
    build_plant(service, lines=1, machines_per_line=3)
    for k, speed in enumerate((6.0, 4.0, 6.0), start=1):
        service.patch_twin(f"machine-1-{k}", [{"op": "replace", "path": "/speed",
                                               "value": speed}])


def test_line_scenarios_through_the_api(service: TwinService) -> None:
    _plant(service)
    with make_client(service) as client:
        r = client.post("/scenarios", json={**LINE, "name": "as is"})
        assert r.status_code == 202, r.text
        base = _wait(client, r.headers["location"], lambda d: d["status"] == "done")
        assert base["kpis"]["bottleneck"] == "machine-1-2" and base["progress"] == 1.0
        r = client.post("/scenarios", json={**LINE, "name": "slower 1-2", "overrides": {
            "stations": {"machine-1-2": {"speed": 0.5}}}})
        slow = _wait(client, r.headers["location"], lambda d: d["status"] == "done")
        assert slow["kpis"]["throughput"]["mean"] < 0.55 * base["kpis"]["throughput"]["mean"]
        r = client.post("/scenarios/compare", json={"ids": [base["id"], slow["id"]]})
        assert r.status_code == 200 and r.json()["kind"] == "line"
        assert r.json()["scenarios"][1]["vsBaseline"]["throughput"]["mean"] < -100
        for body, status, text in (
                ({**LINE, "line": "line-7"}, 404, "line-7"),
                ({**LINE, "overrides": {"buffers": [1]}}, 400, "has 2 buffer(s), got 1"),
                ({**LINE, "horizon": -1}, 400, "'horizon' must be > 0"),
                ({**LINE, "overrides": {"maintenance": [{"station": "machine-1-9", "start": 0,
                                                         "duration": 60}]}}, 400,
                 "no station 'machine-1-9'")):
            r = client.post("/scenarios", json=body)
            assert r.status_code == status, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert text in r.json()["detail"]


def test_optimizations_through_the_api(service: TwinService) -> None:
    _plant(service)
    search = {"name": "speed", "scenario": LINE,
              "knobs": [{"path": "/overrides/stations/machine-1-2/speed",
                         "values": [0.5, 1.0, 1.5]}],
              "objective": {"kpi": "/throughput/mean"}, "top": 2}
    with make_client(service) as client:
        r = client.post("/optimizations", json=search)
        assert r.status_code == 202 and r.headers["location"].startswith("/optimizations/")
        doc = _wait(client, r.headers["location"], lambda d: d["status"] == "done")
        best = doc["results"]["best"]
        # 1-2 at 1.5x (10 s a part) no longer holds the line back alone
        assert best[0]["assignment"] == {"/overrides/stations/machine-1-2/speed": 1.5}
        assert len(best) == 2 and doc["results"]["evaluated"] == 3
        r = client.post("/scenarios/compare",
                        json={"ids": [doc["scenarios"]["baseline"], *doc["scenarios"]["best"]]})
        assert r.status_code == 200 and r.json()["scenarios"][1]["vsBaseline"]["throughput"][
            "mean"] > 100
        assert [o["id"] for o in client.get("/optimizations").json()["value"]] == [doc["id"]]
        assert client.post(f"/optimizations/{doc['id']}/run").status_code == 202
        assert client.delete(f"/optimizations/{doc['id']}").status_code == 204
        assert client.get(f"/optimizations/{doc['id']}").status_code == 404
        for body, status in (({**search, "knobs": []}, 400), ({**search, "scenario": "zz"}, 404),
                             ({**search, "knobs": [{"path": "/twins", "values": [[]]}]}, 400),
                             ([], 400)):
            r = client.post("/optimizations", json=body)
            assert r.status_code == status, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
