"""POST /query: Azure's request and response shape, paging headers and 400s."""

from __future__ import annotations

from holotwin.service import TwinService
from tests.api.conftest import make_client
from tests.conftest import PLANT_MODELS, machine


def test_query_endpoint_pages_and_reports_errors(service: TwinService) -> None:
    service.add_models(PLANT_MODELS)
    for i in range(5):
        service.put_twin(f"m{i}", machine(f"S-{i}"))
    with make_client(service) as client:
        body = {"query": "SELECT T.serial FROM DIGITALTWINS T"}
        r = client.post("/query", json=body, headers={"max-items-per-page": "2"})
        assert r.status_code == 200
        assert r.json()["value"] == [{"serial": "S-0"}, {"serial": "S-1"}]
        token = r.json()["continuationToken"]
        r = client.post("/query", json={**body, "continuationToken": token},
                        headers={"max-items-per-page": "2"})
        assert r.json()["value"] == [{"serial": "S-2"}, {"serial": "S-3"}]
        r = client.post("/query", json={"query": "SELECT * FROM DIGITALTWINS",
                                        "continuationToken": token})
        assert r.status_code == 400 and "different query" in r.json()["detail"]
        r = client.post("/query", json={"query": "SELECT * FORM DIGITALTWINS"})
        assert r.status_code == 400
        assert r.json()["position"] == 9 and "Expected FROM" in r.json()["detail"]
        r = client.post("/query", json={"query": "SELECT COUNT() FROM DIGITALTWINS"})
        assert r.json() == {"value": [{"COUNT": 5}], "continuationToken": None}
