"""Behaviors through the REST API: bind, feed measurements, read the estimate and the
time-to-event, predict, calibrate; bad input is a 4xx problem."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from holotwin.behaviors import BatteryCircuit
from holotwin.clock import to_iso
from holotwin.service import TwinService
from tests.api.conftest import make_client

CELL = "dtmi:test:ApiCell;1"
T0 = 1_700_000_000.0
MODEL: dict[str, Any] = {
    "@id": CELL, "@type": "Interface", "@context": "dtmi:dtdl:context;3", "contents": [
        {"@type": "Telemetry", "name": name, "schema": "double"}
        for name in ("current", "voltage", "temperature")]}
BINDING: dict[str, Any] = {
    "behavior": "battery-circuit", "inputs": {"i": "current"},
    "outputs": {"t": "temperature", "v": "voltage"}, "initialStd": {"qb": 400.0},
    "measurementNoise": {"t": 0.04, "v": 1e-4},
    "prediction": {"every": 30, "horizon": 7200, "dt": 10},
}


def _true_eod(x: np.ndarray, current: float = 2.0) -> float:
    cell, seconds = BatteryCircuit(), 0
    while not cell.threshold_met(x)[0, 0]:
        x = cell.next_state(x, np.array([[current]]), 1.0)
        seconds += 1
    return float(seconds)


def _wait(client: TestClient, path: str, ready: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        if r.status_code == 200 and ready(r.json()):
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {r.status_code} {r.text[:300]}")
        time.sleep(0.05)


def test_a_twin_fed_through_the_api_shows_its_estimate_and_time_to_event(
    service: TwinService,
) -> None:
    cell = BatteryCircuit()
    rng = np.random.default_rng(5)
    x = cell.initial_state()
    with make_client(service) as client:
        assert client.post("/models", json=[MODEL]).status_code == 201
        r = client.put(f"/models/{CELL}/behavior", json=BINDING)
        assert r.status_code == 200, r.text
        assert client.get(f"/models/{CELL}/behavior").json()["behavior"] == "battery-circuit"
        assert client.put("/digitaltwins/b1", json={"$metadata": {"$model": CELL}}).status_code == 200
        r = client.get("/digitaltwins/b1/estimate")
        assert r.status_code == 404 and "no estimate yet" in r.json()["detail"]
        for k in range(1, 121):
            x = cell.next_state(x, np.array([[2.0]]), 1.0)
            t, v = cell.output(x)[0]
            r = client.post("/digitaltwins/b1/telemetry",
                            json={"current": 2.0, "voltage": float(v + rng.normal(0, 0.01)),
                                  "temperature": float(t)},
                            headers={"Telemetry-Source-Time": to_iso(T0 + k)})
            assert r.status_code == 204
        est = _wait(client, "/digitaltwins/b1/estimate",
                    lambda e: e["measurements"] == 120)
        assert est["t"] == T0 + 120 and 0.9 < est["derived"]["soc"] <= 1.0
        eod = est["timeToEvent"]["EOD"]
        assert eod["p5"] <= eod["mean"] <= eod["p95"]
        assert eod["mean"] == pytest.approx(_true_eod(x), rel=0.02)
        twin = client.get("/digitaltwins/b1").json()
        assert "timeToEvent.EOD" in twin["$metadata"]["$telemetry"]
        history = client.get("/digitaltwins/b1/telemetry", params={"signal": "estimate.soc"})
        assert history.status_code == 200 and history.json()["value"]

        r = client.post("/digitaltwins/b1/predict", json={"horizon": 7200, "dt": 10,
                                                           "samples": 50})
        assert r.status_code == 200, r.text
        assert r.json()["timeOfEvent"]["EOD"]["mean"] == pytest.approx(_true_eod(x), rel=0.02)
        r = client.post("/predict", json={"twins": ["b1"], "horizon": 7200, "method": "unscented"})
        assert r.status_code == 200 and "b1" in r.json()["value"]
        r = client.post("/digitaltwins/b1/behavior/fit",
                        json={"parameters": ["Rs"], "start": T0, "end": T0 + 200})
        assert r.status_code == 200 and r.json()["success"], r.text
        assert client.delete("/digitaltwins/b1/estimate").status_code == 204
        assert client.get("/digitaltwins/b1/estimate").status_code == 404

        assert client.get("/behaviors").json()["value"][0]["name"]


def test_bad_behavior_requests_are_problems(service: TwinService) -> None:
    with make_client(service) as client:
        client.post("/models", json=[MODEL])
        client.put("/digitaltwins/b1", json={"$metadata": {"$model": CELL}})
        cases = [
            ("put", f"/models/{CELL}/behavior", {**BINDING, "behavior": "nope"}, 400),
            ("put", f"/models/{CELL}/behavior", [1], 400),
            ("put", "/models/dtmi:test:Missing;1/behavior", BINDING, 404),
            ("get", f"/models/{CELL}/behavior", None, 404),
            ("post", "/digitaltwins/b1/predict", {"horizon": -1}, 400),
            ("post", "/digitaltwins/b1/predict", {"horizon": 10, "colour": 1}, 400),
            ("post", "/digitaltwins/b1/predict", {"horizon": 10}, 400),  # no binding
            ("post", "/digitaltwins/nope/predict", {"horizon": 10}, 404),
            ("post", "/predict", {"horizon": 10, "twins": []}, 400),
            ("post", "/digitaltwins/b1/behavior/fit", {"parameters": "Rs"}, 400),
            ("get", "/digitaltwins/nope/estimate", None, 404),
        ]
        for method, path, body, status in cases:
            r = client.request(method.upper(), path, json=body)
            assert r.status_code == status, (method, path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_scenarios_through_the_api(service: TwinService) -> None:
    cell = BatteryCircuit()
    x = cell.initial_state()
    with make_client(service) as client:
        client.post("/models", json=[MODEL])
        client.put(f"/models/{CELL}/behavior", json=BINDING)
        client.put("/digitaltwins/b1", json={"$metadata": {"$model": CELL}})
        for k in range(1, 31):
            x = cell.next_state(x, np.array([[2.0]]), 1.0)
            t, v = cell.output(x)[0]
            client.post("/digitaltwins/b1/telemetry", json={"current": 2.0, "voltage": float(v),
                                                            "temperature": float(t)},
                        headers={"Telemetry-Source-Time": to_iso(T0 + k)})
        _wait(client, "/digitaltwins/b1/estimate", lambda e: e["measurements"] == 30)
        spec = {"twins": ["b1"], "horizon": 7200, "dt": 10, "samples": 50, "seed": 2}
        r = client.post("/scenarios", json={**spec, "name": "as is"})
        assert r.status_code == 202 and r.headers["location"] == f"/scenarios/{r.json()['id']}"
        base = _wait(client, r.headers["location"], lambda d: d["status"] == "done")
        r = client.post("/scenarios", json={**spec, "name": "3 A",
                                             "overrides": {"b1": {"load": {"values": [[3.0]]}}}})
        heavy = _wait(client, r.headers["location"], lambda d: d["status"] == "done")
        assert heavy["results"]["b1"]["timeOfEvent"]["EOD"]["mean"] < \
            base["results"]["b1"]["timeOfEvent"]["EOD"]["mean"]
        r = client.post("/scenarios/compare", json={"ids": [base["id"], heavy["id"]]})
        assert r.status_code == 200 and r.json()["baseline"] == "as is"
        assert r.json()["scenarios"][1]["twins"]["b1"]["EOD"]["vsBaseline"] < 0
        assert client.post(f"/scenarios/{base['id']}/run").status_code == 202
        again = _wait(client, f"/scenarios/{base['id']}", lambda d: d["runs"] == 2)
        assert again["status"] == "done"
        assert len(client.get("/scenarios").json()["value"]) == 2
        assert client.delete(f"/scenarios/{heavy['id']}").status_code == 204
        assert client.get(f"/scenarios/{heavy['id']}").status_code == 404
        for body, status in (({"twins": []}, 400), ({"twins": ["nope"]}, 404),
                             ({"twins": ["b1"], "samples": -1}, 400)):
            r = client.post("/scenarios", json=body)
            assert r.status_code == status, r.text
        assert client.post("/scenarios/compare", json={"ids": []}).status_code == 400
