"""The dashboard's own routes without a browser: pages, static files, the session, the graph."""

from __future__ import annotations

from holotwin.api import ApiSettings
from holotwin.demo.plant import build_plant
from holotwin.service import ApiKeys, TwinService
from tests.api.conftest import make_client


def test_pages_static_files_and_plotly(service: TwinService) -> None:
    with make_client(service) as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/ui/"
        assert client.get("/ui/signin").headers["content-type"].startswith("text/html")
        r = client.get("/ui/static/app.js")
        assert r.status_code == 200 and "export async function api" in r.text
        assert r.headers["content-type"].startswith("text/javascript")
        r = client.get("/ui/static/twin/chart.js")  # a page's parts, in a folder of its name
        assert r.status_code == 200 and "export class Chart" in r.text
        r = client.get("/ui/vendor/plotly.min.js")
        assert r.status_code == 200 and len(r.content) > 1_000_000
        assert "max-age" in r.headers["cache-control"]
        for path in ("/ui/vendor/plotly.min.js", "/ui/static/app.js"):  # a current copy: 304
            etag = client.get(path).headers["etag"]
            again = client.get(path, headers={"If-None-Match": f"W/{etag}, \"other\""})
            assert again.status_code == 304 and again.content == b"", path
            assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
        for bad in ("/ui/static/..%2Froutes.py", "/ui/static/twin/..%2F..%2Froutes.py",
                    "/ui/static/twin", "/ui/static/nope.js", "/ui/nope"):
            r = client.get(bad)
            assert r.status_code == 404, bad
            assert r.headers["content-type"] == "application/problem+json"


def test_the_session_with_and_without_auth(service: TwinService) -> None:
    with make_client(service) as client:
        assert client.get("/ui/session").json() == {"auth": False, "signedIn": True,
                                                    "scope": "admin"}
    key = ApiKeys(service.store, service.clock).create("viewer", "read")[1]
    with make_client(service, ApiSettings(auth=True)) as client:
        assert client.get("/ui/session").json() == {"auth": True, "signedIn": False}
        assert client.get("/ui/api/graph").status_code == 401
        r = client.post("/ui/session", json={"key": "htk_bad_bad"})
        assert r.status_code == 401 and "set-cookie" not in r.headers
        assert client.post("/ui/session", json={"nokey": 1}).status_code == 400
        r = client.post("/ui/session", json={"key": key})
        assert r.status_code == 200 and r.json()["scope"] == "read"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # the cookie now signs the API calls in, with the key's scope
        assert client.get("/ui/session").json()["name"] == "viewer"
        assert client.get("/ui/api/graph").status_code == 200
        assert client.put("/rules/r", json={"condition": "x > 1", "twins": ["a"]}
                          ).status_code == 403
        assert client.delete("/ui/session").status_code == 204
        assert client.get("/ui/api/graph").status_code == 401


def test_the_graph_in_one_answer(service: TwinService) -> None:
    build_plant(service, lines=2, machines_per_line=3)
    service.put_rule("stopped", {"condition": "status == 'fault'",
                                 "twins": ["machine-2-3"], "severity": "critical"})
    service.patch_twin("machine-2-3", [{"op": "replace", "path": "/status", "value": "fault"}])
    from holotwin.service import AnalyticsEngine

    AnalyticsEngine(service).run_once()
    with make_client(service) as client:
        graph = client.get("/ui/api/graph").json()
    ids = [t["id"] for t in graph["twins"]]
    assert len(ids) == 1 + 2 + 6 and ids == sorted(ids) and not graph["truncated"]
    faulty = next(t for t in graph["twins"] if t["id"] == "machine-2-3")
    assert faulty["status"] == "fault" and faulty["alerts"] == 1
    assert faulty["severity"] == "critical"
    assert next(t for t in graph["twins"] if t["id"] == "machine-1-1")["alerts"] == 0
    edges = {(r["source"], r["name"], r["target"]) for r in graph["relationships"]}
    assert ("plant", "hasLine", "line-2") in edges and ("line-2", "hasMachine",
                                                        "machine-2-3") in edges
    assert len(edges) == 2 + 6


def test_the_newest_history_first(service: TwinService) -> None:
    build_plant(service, lines=1, machines_per_line=1)
    for speed in (10.0, 20.0, 30.0):
        service.patch_twin("machine-1-1", [{"op": "replace", "path": "/speed", "value": speed}])
    with make_client(service) as client:
        oldest = client.get("/digitaltwins/machine-1-1/history?limit=2").json()["value"]
        newest = client.get("/digitaltwins/machine-1-1/history?order=newest&limit=2").json()
        assert [e["revision"] for e in oldest] == [1, 2]
        assert [e["revision"] for e in newest["value"]] == [4, 3]
        assert newest["value"][0]["data"]["twin"]["speed"] == 30.0
        r = client.get("/digitaltwins/machine-1-1/history?order=sideways")
        assert r.status_code == 400 and "'order'" in r.json()["detail"]
