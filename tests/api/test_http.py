"""The REST API over HTTP semantics: status codes, headers, problem+json for bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from holotwin.api import ApiSettings
from holotwin.api.server import UnsafeBindError, check_bind
from holotwin.service import ApiKeys, TwinService
from tests.api.conftest import make_client
from tests.conftest import LINE, MACHINE, PLANT_MODELS, machine

PATCH = {"Content-Type": "application/json-patch+json"}


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["detail"] and body["type"].startswith("urn:holotwin")
    assert body["error"]["message"] == body["detail"]
    return body  # type: ignore[no-any-return]


def test_models_endpoints(client: TestClient) -> None:
    r = client.post("/models?api-version=2023-10-31", json=PLANT_MODELS)
    assert r.status_code == 201
    assert [m["id"] for m in r.json()] == [m["@id"] for m in PLANT_MODELS]
    listed = client.get("/models").json()
    assert listed["nextLink"] is None and "model" not in listed["value"][0]
    one = client.get(f"/models/{MACHINE}", params={"includeModelDefinition": "true"}).json()
    assert one["model"]["@id"] == MACHINE and one["displayName"] == {"en": "Machine"}
    problem(client.post("/models", json=PLANT_MODELS[:1]), 409)
    assert client.patch(f"/models/{LINE}", json=[{"op": "replace", "path": "/decommissioned",
                                                   "value": True}]).status_code == 204
    assert client.get(f"/models/{LINE}").json()["decommissioned"] is True
    problem(client.patch(f"/models/{LINE}", json=[{"op": "replace", "path": "/id", "value": 1}]), 400)
    assert client.delete(f"/models/{LINE}").status_code == 204
    problem(client.get(f"/models/{LINE}"), 404)
    body = problem(client.post("/models", json=[{"@id": "bad", "@type": "Interface",
                                                 "@context": "dtmi:dtdl:context;3"}]), 400)
    assert body["issues"] and body["issues"][0]["element"]


def test_twin_lifecycle_over_http(plant_client: TestClient) -> None:
    c = plant_client
    r = c.put("/digitaltwins/m1", json=machine(speed=1.0), headers={"If-None-Match": "*"})
    assert r.status_code == 200 and r.headers["ETag"] == r.json()["$etag"]
    etag = r.headers["ETag"]
    problem(c.put("/digitaltwins/m1", json=machine(), headers={"If-None-Match": "*"}), 412)
    r = c.patch("/digitaltwins/m1", json=[{"op": "replace", "path": "/speed", "value": 2.0}],
                headers={**PATCH, "If-Match": etag})
    assert r.status_code == 204 and r.headers["ETag"] != etag
    problem(c.patch("/digitaltwins/m1", json=[{"op": "replace", "path": "/speed", "value": 3.0}],
                    headers={**PATCH, "If-Match": etag}), 412)
    r = c.patch("/digitaltwins/m1", json={"running": True},
                headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 204
    got = c.get("/digitaltwins/m1").json()
    assert got["speed"] == 2.0 and got["running"] is True and got["$metadata"]["$revision"] == 3
    r = c.patch("/digitaltwins/m1/desired", json={"speed": 9.0})
    assert r.json()["$metadata"]["speed"]["desiredValue"] == 9.0 and r.json()["speed"] == 2.0
    assert c.get("/digitaltwins/m1/history").json()["value"][0]["revision"] == 1
    listed = c.get("/digitaltwins", params={"model": MACHINE}).json()
    assert [t["$dtId"] for t in listed["value"]] == ["m1"]
    assert c.delete("/digitaltwins/m1").status_code == 204
    problem(c.get("/digitaltwins/m1"), 404)


def test_as_of_reads_the_past(plant_client: TestClient, service: TwinService) -> None:
    c = plant_client
    c.put("/digitaltwins/m1", json=machine(speed=1.0))
    t_first = service.clock.now()
    service.clock.advance(60)  # type: ignore[attr-defined]
    c.patch("/digitaltwins/m1", json={"speed": 2.0})
    from holotwin.clock import to_iso

    assert c.get("/digitaltwins/m1", params={"asOf": to_iso(t_first + 1)}).json()["speed"] == 1.0
    assert c.get("/digitaltwins/m1").json()["speed"] == 2.0
    problem(c.get("/digitaltwins/m1", params={"asOf": "last tuesday"}), 400)


def test_relationships_and_components_over_http(plant_client: TestClient) -> None:
    c = plant_client
    c.put("/digitaltwins/line", json={"$metadata": {"$model": LINE}})
    c.put("/digitaltwins/m1", json=machine())
    r = c.put("/digitaltwins/line/relationships/r1",
              json={"$relationshipName": "contains", "$targetId": "m1", "position": 1})
    assert r.status_code == 200 and r.json()["$sourceId"] == "line"
    assert c.get("/digitaltwins/line/relationships").json()["value"][0]["$relationshipId"] == "r1"
    assert c.get("/digitaltwins/line/relationships",
                 params={"relationshipName": "feeds"}).json()["value"] == []
    incoming = c.get("/digitaltwins/m1/incomingrelationships").json()["value"]
    assert incoming[0]["$relationshipLink"] == "/digitaltwins/line/relationships/r1"
    assert c.patch("/digitaltwins/line/relationships/r1",
                   json=[{"op": "replace", "path": "/position", "value": 2}],
                   headers=PATCH).status_code == 204
    problem(c.patch("/digitaltwins/line/relationships/r1",
                    json=[{"op": "replace", "path": "/$targetId", "value": "x"}], headers=PATCH), 400)
    problem(c.delete("/digitaltwins/m1"), 409)
    assert c.delete("/digitaltwins/line/relationships/r1").status_code == 204
    problem(c.get("/digitaltwins/line/relationships/r1"), 404)
    assert c.patch("/digitaltwins/m1/components/motor",
                   json=[{"op": "add", "path": "/rpm", "value": 10.0}], headers=PATCH).status_code == 204
    comp = c.get("/digitaltwins/m1/components/motor")
    assert comp.json()["rpm"] == 10.0 and comp.headers["ETag"]
    problem(c.get("/digitaltwins/m1/components/nope"), 404)


def test_telemetry_over_http(plant_client: TestClient) -> None:
    c = plant_client
    c.put("/digitaltwins/m1", json=machine())
    for i in range(5):
        r = c.post("/digitaltwins/m1/telemetry", json={"temperature": 20.0 + i},
                   headers={"Message-Id": f"m{i}",
                            "Telemetry-Source-Time": f"2024-01-01T00:00:0{i}.0000000Z"})
        assert r.status_code == 204
    assert c.post("/digitaltwins/m1/components/motor/telemetry",
                  json={"current": 1.5}).status_code == 204
    latest = {p["signal"]: p["value"] for p in c.get("/digitaltwins/m1/telemetry").json()["value"]}
    assert latest == {"temperature": 24.0, "motor/current": 1.5}
    hist = c.get("/digitaltwins/m1/telemetry", params={
        "signal": "temperature", "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:00:03Z"})
    assert [p["value"] for p in hist.json()["value"]] == [20.0, 21.0, 22.0]
    agg = c.get("/digitaltwins/m1/telemetry", params={
        "signal": "temperature", "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:00:10Z",
        "interval": "2"}).json()["value"]
    assert [(b["min"], b["max"], b["last"], b["count"]) for b in agg] == [
        (20.0, 21.0, 21.0, 2), (22.0, 23.0, 23.0, 2), (24.0, 24.0, 24.0, 1)]
    many = c.get("/digitaltwins/m1/telemetry", params=[
        ("signal", "motor/current"), ("signal", "temperature"), ("signal", "nothing"),
        ("start", "2024-01-01T00:00:00Z"), ("limit", "2")]).json()["signals"]
    assert [(s["signal"], [p["value"] for p in s["value"]]) for s in many] == [
        ("motor/current", []), ("temperature", [20.0, 21.0]), ("nothing", [])]
    many = c.get("/digitaltwins/m1/telemetry", params=[
        ("signal", "temperature"), ("signal", "temperature"), ("signal", "motor/current"),
        ("start", "2024-01-01T00:00:00Z"), ("end", "2024-01-01T00:00:10Z"),
        ("interval", "5")]).json()["signals"]
    assert [(s["signal"], [b["count"] for b in s["value"]]) for s in many] == [
        ("temperature", [5]), ("motor/current", [])]
    problem(c.get("/digitaltwins/m1/telemetry", params=[("signal", f"s{i}") for i in range(51)]),
            400)
    problem(c.get("/digitaltwins/m1/telemetry", params=[("signal", "a"), ("signal", "")]), 400)
    problem(c.get("/digitaltwins/zz/telemetry", params=[("signal", "a"), ("signal", "b")]), 404)
    problem(c.post("/digitaltwins/m1/telemetry", json={"temperature": "hot"}), 400)
    problem(c.post("/digitaltwins/m1/telemetry", json=[1, 2]), 400)
    problem(c.post("/digitaltwins/zz/telemetry", json={"temperature": 1.0}), 404)
    problem(c.get("/digitaltwins/m1/telemetry", params={"signal": "temperature", "interval": "x"}),
            400)
    problem(c.get("/digitaltwins/m1/telemetry", params={"signal": "temperature", "interval": "0",
                                                        "start": "0", "end": "10"}), 400)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    [
        ("put", "/digitaltwins/m2", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "Malformed JSON at line 1"),
        ("put", "/digitaltwins/m2", {"content": b"", "headers": {"Content-Type": "application/json"}}, 400, "empty"),
        ("put", "/digitaltwins/m2", {"content": b'{"a": NaN}', "headers": {"Content-Type": "application/json"}}, 400, "NaN"),
        ("put", "/digitaltwins/m2", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}, 400, "UTF-8"),
        ("put", "/digitaltwins/m2", {"json": machine(speed="fast")}, 400, "'/speed' expects double"),
        ("put", "/digitaltwins/m2", {"json": {"$metadata": {"$model": "dtmi:no:Such;1"}}}, 400, "not defined"),
        ("put", "/digitaltwins/m2", {"json": [1]}, 400, "JSON object"),
        ("put", "/digitaltwins/a%2Fb", {"json": machine()}, 404, ""),
        ("patch", "/digitaltwins/m1", {"json": [{"op": "replace", "path": "/nope/x", "value": 1}], "headers": PATCH}, 400, "does not exist"),
        ("patch", "/digitaltwins/m1", {"json": [{"op": "replace", "path": "speed", "value": 1}], "headers": PATCH}, 400, "must start with '/'"),
        ("patch", "/digitaltwins/m1", {"json": [{"op": "jump", "path": "/speed"}], "headers": PATCH}, 400, "jump"),
        ("patch", "/digitaltwins/m1", {"json": [{"op": "add", "path": "/speed", "value": "x"}], "headers": PATCH}, 400, "expects double"),
        ("patch", "/digitaltwins/m1", {"json": [], "headers": {**PATCH, "If-Match": 'W/"x"'}}, 412, "etag"),
        ("patch", "/digitaltwins/m1", {"json": "str", "headers": PATCH}, 400, "array"),
        ("delete", "/digitaltwins/m1", {"headers": {"If-Match": 'W/"x"'}}, 412, "etag"),
        ("get", "/digitaltwins/nope", {}, 404, "'nope' was not found"),
        ("get", "/nowhere", {}, 404, "No such endpoint"),
        ("post", "/digitaltwins/m1", {"json": {}}, 405, ""),
        ("post", "/query", {"json": {"query": "SELEC * FROM"}}, 400, "SELECT"),
        ("post", "/query", {"json": {"q": 1}}, 400, "query"),
        ("post", "/query", {"json": {"query": "SELECT * FROM DIGITALTWINS", "continuationToken": "%%%"}}, 400, "continuation"),
        ("get", "/digitaltwins", {"params": {"limit": "lots"}}, 400, "integer"),
        ("get", "/events", {"params": {"type": "party"}}, 400, "Unknown event type"),
        ("get", "/events", {"headers": {"Last-Event-ID": "abc"}}, 400, "Last-Event-ID"),
    ],
)
def test_bad_input_is_a_problem_not_a_crash(
    plant_client: TestClient, method: str, path: str, kwargs: dict, status: int, fragment: str
) -> None:
    plant_client.put("/digitaltwins/m1", json=machine())
    body = problem(getattr(plant_client, method)(path, **kwargs), status)
    assert fragment in body["detail"]
    if status == 400 and "expects" in fragment:
        assert body["path"] == "/speed" and body["expected"] == "double"


def test_oversized_body_is_413(service: TwinService) -> None:
    with make_client(service, ApiSettings(max_body=1000)) as c:
        big = json.dumps(machine(serial="x" * 2000))
        body = problem(c.put("/digitaltwins/m1", content=big,
                             headers={"Content-Type": "application/json"}), 413)
        assert "1000 bytes" in body["detail"]

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"serial": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}'

        problem(c.put("/digitaltwins/m1", content=chunks(),
                      headers={"Content-Type": "application/json"}), 413)


def test_api_keys_and_scopes(service: TwinService) -> None:
    keys = ApiKeys(service.store)
    _, reader = keys.create("dashboard", "read")
    _, writer = keys.create("gateway", "write")
    with make_client(service, ApiSettings(auth=True)) as c:
        body = problem(c.get("/models"), 401)
        assert "API key" in body["detail"]
        assert c.get("/models").headers["www-authenticate"].startswith("Bearer")
        problem(c.get("/models", headers={"Authorization": "Bearer htk_nope_nope"}), 401)
        assert c.get("/models", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
        body = problem(c.post("/models", json=PLANT_MODELS, headers={"X-API-Key": reader}), 403)
        assert "needs 'write'" in body["detail"]
        assert c.post("/models", json=PLANT_MODELS,
                      headers={"X-API-Key": writer}).status_code == 201
        assert c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"},
                      headers={"X-API-Key": reader}).status_code == 200
        assert c.get("/health").status_code == 200  # health needs no key


def test_refuses_public_bind_without_auth() -> None:
    with pytest.raises(UnsafeBindError, match="without authentication"):
        check_bind("0.0.0.0", ApiSettings(auth=False))
    check_bind("0.0.0.0", ApiSettings(auth=True))
    check_bind("127.0.0.1", ApiSettings())
    check_bind("::1", ApiSettings())
    check_bind("localhost", ApiSettings())


def test_events_json_page(plant_client: TestClient) -> None:
    c = plant_client
    c.put("/digitaltwins/m1", json=machine())
    c.put("/digitaltwins/line", json={"$metadata": {"$model": LINE}})
    page = c.get("/events", params={"lastEventId": 0}).json()
    assert [e["type"] for e in page["value"]] == ["twin.created", "twin.created"]
    assert page["lastEventId"] == page["value"][-1]["id"]
    only = c.get("/events", params={"lastEventId": 0, "modelId": LINE}).json()["value"]
    assert [e["twinId"] for e in only] == ["line"]
    problem(c.get("/events", params={"modelId": "dtmi:no:Model;1"}), 404)
