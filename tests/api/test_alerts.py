"""Detectors, rules, alerts and sinks through the REST API; the app's analytics engine raises
alerts from telemetry posted to it; bad documents are 4xx problem+json."""

from __future__ import annotations

from typing import Any

from holotwin.api import ApiSettings
from holotwin.service import TwinService
from tests.api.conftest import make_client
from tests.api.test_behaviors import _wait

OVEN = "dtmi:test:Oven;1"
MODEL = {"@id": OVEN, "@type": "Interface", "@context": "dtmi:dtdl:context;3", "contents": [
    {"@type": "Telemetry", "name": "temperature", "schema": "double"}]}


def _oven(service: TwinService) -> None:
    service.add_models([MODEL])
    service.put_twin("oven-1", {"$metadata": {"$model": OVEN}})


def test_an_alert_from_posted_telemetry_acknowledged_and_cleared(service: TwinService) -> None:
    _oven(service)
    with make_client(service) as client:
        r = client.put("/rules/hot", json={"condition": "temperature > 80", "model": OVEN,
                                           "clear": "temperature < 70", "severity": "critical"})
        assert r.status_code == 200 and r.json()["clear"] == "temperature < 70"
        r = client.put("/detectors/temp", json={"signal": "temperature", "model": OVEN,
                                                "detector": {"kind": "ewma"}})
        assert r.status_code == 200 and r.json()["detector"]["kind"] == "ewma"
        assert [d["id"] for d in client.get("/detectors").json()["value"]] == ["temp"]
        for k, value in enumerate([60.0, 85.0]):
            r = client.post("/digitaltwins/oven-1/telemetry", json={"temperature": value},
                            headers={"Message-Id": f"m{k}",
                                     "Telemetry-Source-Time": f"2026-12-01T10:00:0{k}Z"})
            assert r.status_code in (200, 204), r.text
        found = _wait(client, "/alerts?state=open", lambda d: len(d["value"]) == 1)
        alert = found["value"][0]
        assert alert["rule"] == "hot" and alert["twinId"] == "oven-1"
        r = client.post(f"/alerts/{alert['id']}/acknowledge", json={"by": "ann"})
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        r = client.post(f"/alerts/{alert['id']}/clear")
        assert r.status_code == 200 and r.json()["state"] == "cleared"
        r = client.post(f"/alerts/{alert['id']}/acknowledge")
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert client.get("/alerts?state=cleared").json()["value"][0]["id"] == alert["id"]
        # the scores are telemetry of the twin
        _wait(client, "/digitaltwins/oven-1?telemetry=true",
              lambda d: "anomaly.temp" in d["$metadata"].get("$telemetry", {}))


def test_bad_documents_and_queries_are_problems(service: TwinService) -> None:
    _oven(service)
    cases: list[tuple[str, str, Any, int, str]] = [
        ("PUT", "/rules/r", {"condition": "os.system('x')", "model": OVEN}, 400, "calls"),
        ("PUT", "/rules/r", {"condition": "x >", "model": OVEN}, 400, "not valid"),
        ("PUT", "/rules/r", [1], 400, "JSON object"),
        ("PUT", "/rules/r", {"condition": "x > 1", "model": "dtmi:x:Y;1"}, 404, "dtmi:x:Y;1"),
        ("PUT", "/detectors/d", {"signal": "temperature", "model": OVEN,
                                 "detector": {"kind": "ewma", "alpha": 7}}, 400, "alpha"),
        ("PUT", "/alert-sinks/s", {"type": "pager"}, 400, "webhook"),
        ("GET", "/alerts?state=sleeping", None, 400, "state"),
        ("GET", "/alerts?limit=x", None, 400, "limit"),
        ("GET", "/alerts/nope", None, 404, "nope"),
        ("GET", "/rules/nope", None, 404, "nope"),
        ("DELETE", "/detectors/nope", None, 404, "nope"),
        ("POST", "/alerts/nope/acknowledge", {"by": 1, "extra": 2}, 400, "body"),
    ]
    with make_client(service) as client:
        for method, path, body, status, words in cases:
            r = client.request(method, path, json=body)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert words in r.json()["detail"], (path, r.json())


def test_sink_secrets_are_not_shown_and_read_only_keys_change_nothing(
        service: TwinService) -> None:
    _oven(service)
    with make_client(service) as client:
        r = client.put("/alert-sinks/ops", json={
            "type": "webhook", "url": "https://user:pw@hooks.example/x",
            "headers": {"Authorization": "Bearer s3cret"}})
        assert r.status_code == 200
        for shown in (r.json(), client.get("/alert-sinks/ops").json(),
                      client.get("/alert-sinks").json()["value"][0]):
            assert "s3cret" not in str(shown) and ":pw@" not in str(shown)
    read_key = service_key(service, "read")
    with make_client(service, ApiSettings(auth=True)) as client:
        headers = {"Authorization": f"Bearer {read_key}"}
        assert client.get("/alerts", headers=headers).status_code == 200
        r = client.put("/rules/r", json={"condition": "temperature > 1", "model": OVEN},
                       headers=headers)
        assert r.status_code == 403
        assert client.get("/rules", headers=headers).json()["value"] == []


def service_key(service: TwinService, scope: str) -> str:
    from holotwin.service import ApiKeys

    return ApiKeys(service.store, service.clock).create("tester", scope)[1]
