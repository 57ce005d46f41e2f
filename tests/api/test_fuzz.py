"""Random bodies and patches against the API: every answer is a success or a 4xx
problem+json, never a 5xx (the TestClient hook in conftest fails on any 5xx)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import machine

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
paths = st.sampled_from(
    ["/speed", "/serial", "/motor", "/motor/rpm", "/mode", "/nope", "", "/", "speed",
     "/$metadata/$model", "/$metadata/speed/sourceTime", "/$dtId", "/motor/$metadata",
     "/running/0", "/~2", "/motor/-"])
ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": paths},
    optional={"value": json_values, "from": paths},
)
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _ok(status: int) -> bool:
    return status < 500


@FUZZ
@given(patch=st.lists(ops, max_size=4) | json_values)
def test_random_json_patches(plant_client: TestClient, patch: Any) -> None:
    plant_client.put("/digitaltwins/f1", json=machine(speed=1.0))
    r = plant_client.patch("/digitaltwins/f1", content=json.dumps(patch),
                           headers={"Content-Type": "application/json-patch+json"})
    assert _ok(r.status_code)
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json"
    twin = plant_client.get("/digitaltwins/f1").json()
    assert twin["$dtId"] == "f1" and twin["$metadata"]["$model"]  # never left broken


@FUZZ
@given(extra=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
       model=st.sampled_from(["dtmi:test:Machine;1", "dtmi:test:Line;1", "x", None, 5]))
def test_random_twin_bodies(plant_client: TestClient, extra: dict[str, Any], model: Any) -> None:
    body = {"$metadata": {"$model": model}, **extra}
    r = plant_client.put("/digitaltwins/f2", content=json.dumps(body),
                         headers={"Content-Type": "application/json"})
    assert _ok(r.status_code)
    if r.status_code == 200:
        assert plant_client.get("/digitaltwins/f2").json()["$metadata"]["$model"] == model


@FUZZ
@given(body=json_values, name=st.sampled_from(["contains", "feeds", "nope", ""]))
def test_random_relationship_bodies(plant_client: TestClient, body: Any, name: str) -> None:
    plant_client.put("/digitaltwins/l1", json={"$metadata": {"$model": "dtmi:test:Line;1"}})
    if isinstance(body, dict):
        body = {"$relationshipName": name, "$targetId": "l1", **body}
    r = plant_client.put("/digitaltwins/l1/relationships/r", content=json.dumps(body),
                         headers={"Content-Type": "application/json"})
    assert _ok(r.status_code)
