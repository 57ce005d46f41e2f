from __future__ import annotations

from typing import Any

import pytest

from holotwin.errors import InvalidInputError, PatchError, PropertyValueError
from holotwin.models import ModelRegistry
from holotwin.twins import (
    create_twin_document,
    merge_patch_twin_document,
    patch_twin_document,
    set_desired,
)
from tests.conftest import MACHINE, PRESS, machine

T0, T1 = "2024-01-01T00:00:00.000000Z", "2024-01-01T00:01:00.000000Z"


@pytest.fixture
def registry(plant_models: list[dict[str, Any]]) -> ModelRegistry:
    reg = ModelRegistry()
    reg.add(plant_models)
    return reg


def test_create_stamps_metadata_and_fills_components(registry: ModelRegistry) -> None:
    body = machine(speed=10.0)
    body["$metadata"]["speed"] = {"sourceTime": "2023-12-31T23:59:00Z", "lastUpdateTime": "x"}
    doc = create_twin_document("m1", body, registry, T0).document
    assert doc["$dtId"] == "m1"
    assert doc["motor"] == {"$metadata": {}}
    assert doc["$metadata"]["speed"] == {"sourceTime": "2023-12-31T23:59:00Z", "lastUpdateTime": T0}
    assert doc["$metadata"]["serial"] == {"lastUpdateTime": T0}
    assert doc["$metadata"]["$model"] == MACHINE


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        ({"serial": "x"}, InvalidInputError, r"\$metadata"),
        ({"$metadata": {"$model": "dtmi:nope;1"}}, InvalidInputError, "not defined"),
        (machine(speed="fast"), PropertyValueError, "'/speed' expects double"),
        (machine(bogus=1), InvalidInputError, "'/bogus' is not defined"),
        (machine(temperature=1.0), InvalidInputError, "is telemetry"),
        (machine(mode="turbo"), PropertyValueError, "/mode"),
        (machine(motor={"rpm": "x"}), PropertyValueError, "/motor/rpm"),
        (machine(motor=5), PropertyValueError, "/motor"),
        (machine(**{"$weird": 1}), InvalidInputError, r"\$weird"),
        ({**machine(), "$dtId": "other"}, InvalidInputError, "differs"),
    ],
)
def test_create_rejects_bad_bodies(
    registry: ModelRegistry, body: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        create_twin_document("m1", body, registry, T0)


def test_inherited_properties_validate(registry: ModelRegistry) -> None:
    doc = create_twin_document(
        "p1", {"$metadata": {"$model": PRESS}, "force": 3.5, "speed": 1.0}, registry, T0
    ).document
    assert doc["force"] == 3.5 and doc["speed"] == 1.0


def test_patch_updates_only_changed_metadata(registry: ModelRegistry) -> None:
    doc = create_twin_document("m1", machine(speed=1.0), registry, T0).document
    change = patch_twin_document(doc, [
        {"op": "replace", "path": "/speed", "value": 2.0},
        {"op": "add", "path": "/running", "value": True},
        {"op": "add", "path": "/motor/rpm", "value": 1450.0},
        {"op": "remove", "path": "/serial"},
    ], registry, T1)
    new = change.document
    assert sorted(change.changed) == ["/motor/rpm", "/running", "/serial", "/speed"]
    assert new["$metadata"]["speed"]["lastUpdateTime"] == T1
    assert "serial" not in new and "serial" not in new["$metadata"]
    assert new["motor"]["$metadata"]["rpm"]["lastUpdateTime"] == T1
    assert doc["speed"] == 1.0  # the old document is untouched


def test_patch_source_time_and_read_only_metadata(registry: ModelRegistry) -> None:
    doc = create_twin_document("m1", machine(speed=1.0), registry, T0).document
    new = patch_twin_document(doc, [
        {"op": "replace", "path": "/speed", "value": 3.0},
        {"op": "add", "path": "/$metadata/speed/sourceTime", "value": "2024-01-01T00:00:30Z"},
    ], registry, T1).document
    assert new["$metadata"]["speed"]["sourceTime"] == "2024-01-01T00:00:30Z"
    with pytest.raises(PatchError, match="read-only"):
        patch_twin_document(doc, [{"op": "replace", "path": "/$dtId", "value": "x"}], registry, T1)
    with pytest.raises(PatchError, match="read-only"):
        patch_twin_document(doc, [{"op": "add", "path": "/$metadata/speed/lastUpdateTime",
                                   "value": T1}], registry, T1)
    with pytest.raises(PropertyValueError, match="sourceTime"):
        patch_twin_document(doc, [{"op": "add", "path": "/$metadata/speed/sourceTime",
                                   "value": "yesterday"}], registry, T1)


def test_patch_can_change_model_to_a_compatible_one(registry: ModelRegistry) -> None:
    doc = create_twin_document("m1", machine(), registry, T0).document
    change = patch_twin_document(doc, [
        {"op": "replace", "path": "/$metadata/$model", "value": PRESS},
        {"op": "add", "path": "/force", "value": 1.0},
    ], registry, T1)
    assert change.document["$metadata"]["$model"] == PRESS


def test_merge_patch(registry: ModelRegistry) -> None:
    doc = create_twin_document("m1", machine(speed=1.0), registry, T0).document
    change = merge_patch_twin_document(doc, {"speed": None, "running": False}, registry, T1)
    assert "speed" not in change.document and change.document["running"] is False
    with pytest.raises(PropertyValueError):
        merge_patch_twin_document(doc, {"running": "yes"}, registry, T1)


def test_desired_state_kept_apart_and_acked(registry: ModelRegistry) -> None:
    doc = create_twin_document("m1", machine(speed=1.0), registry, T0).document
    desired = set_desired(doc, {"speed": 5.0}, registry, T1).document
    meta = desired["$metadata"]["speed"]
    assert desired["speed"] == 1.0  # reported value untouched
    assert meta["desiredValue"] == 5.0 and meta["desiredVersion"] == 1 and meta["ackCode"] == 202
    reported = patch_twin_document(desired, [{"op": "replace", "path": "/speed", "value": 5.0}],
                                   registry, T1).document
    meta = reported["$metadata"]["speed"]
    assert reported["speed"] == 5.0
    assert meta["ackVersion"] == 1 and meta["ackCode"] == 200 and meta["desiredValue"] == 5.0
    with pytest.raises(InvalidInputError, match="not writable"):
        set_desired(doc, {"serial": "x"}, registry, T1)
    with pytest.raises(PropertyValueError):
        set_desired(doc, {"speed": "fast"}, registry, T1)
