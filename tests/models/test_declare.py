"""define_interface: Python-declared models become the same schema as DTDL documents."""

from __future__ import annotations

import json

import pytest

from holotwin.errors import ModelError, PropertyValueError
from holotwin.models import (
    ModelRegistry,
    PropertySpec,
    RelationshipSpec,
    TelemetrySpec,
    define_interface,
)


def test_round_trip_through_registry() -> None:
    reg = ModelRegistry()
    reg.add([define_interface("dtmi:ex:Tank;1", properties={"level": "double"}),
             define_interface("dtmi:ex:Wheel;1", properties={"pressure": "double"})])
    doc = define_interface(
        "dtmi:ex:Pump;1",
        display_name="Pump",
        description="A centrifugal pump",
        extends=["dtmi:ex:Tank;1"],
        properties={
            "speed": PropertySpec("double", writable=True, unit="revolutionPerMinute",
                                  semantic_type="AngularVelocity", display_name="Speed"),
            "mode": PropertySpec({"@type": "Enum", "valueSchema": "string", "enumValues": [
                {"name": "on", "enumValue": "on"}, {"name": "off", "enumValue": "off"}]}),
            "serial": "string",
        },
        telemetry={"power": TelemetrySpec("double", unit="watt", semantic_type="Power"),
                   "status": "string"},
        relationships={"feeds": RelationshipSpec("dtmi:ex:Tank;1", max_multiplicity=1,
                                                 properties={"flow": "double"}),
                       "near": "dtmi:ex:Wheel;1"},
        components={"wheel": "dtmi:ex:Wheel;1"},
        commands={"stop": {}},
    )
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    [pump] = reg.add([doc])
    assert pump.display_name == "Pump" and pump.description == "A centrifugal pump"
    assert list(pump.properties) == ["level", "speed", "mode", "serial"]
    speed = pump.properties["speed"]
    assert speed.writable and speed.unit == "revolutionPerMinute"
    assert speed.semantic_types == ("AngularVelocity",) and speed.display_name == "Speed"
    assert pump.properties["mode"].schema.describe() == "enum of string (on, off)"
    assert pump.telemetry["power"].unit == "watt"
    assert pump.relationships["feeds"].max_multiplicity == 1
    assert "flow" in pump.relationships["feeds"].properties
    assert pump.relationships["near"].target == "dtmi:ex:Wheel;1"
    assert pump.components["wheel"].schema == "dtmi:ex:Wheel;1"
    assert "stop" in pump.commands
    with pytest.raises(PropertyValueError):
        pump.properties["mode"].schema.validate("standby", "/mode")
    assert reg.document("dtmi:ex:Pump;1") == doc


def test_plain_document_has_only_core_context() -> None:
    doc = define_interface("dtmi:ex:Fan;1", properties={"rpm": "double"})
    assert doc["@context"] == "dtmi:dtdl:context;3"
    assert doc["contents"] == [{"@type": "Property", "name": "rpm", "schema": "double"}]


@pytest.mark.parametrize(("kwargs", "rule"), [
    ({"id": "not-a-dtmi"}, "invalidId"),
    ({"id": "dtmi:ex:A;1", "properties": {"bad name": "double"}}, "invalidName"),
    ({"id": "dtmi:ex:A;1", "properties": {"t": PropertySpec("double", unit="kelvin")}},
     "unitWithoutSemanticType"),
    ({"id": "dtmi:ex:A;1", "properties": {"t": 3}}, "invalidSchema"),
])
def test_bad_arguments(kwargs: dict[str, object], rule: str) -> None:
    with pytest.raises(ModelError) as caught:
        define_interface(**kwargs)  # type: ignore[arg-type]
    assert caught.value.issues[0].rule == rule


def test_errors_found_later_are_model_errors() -> None:
    doc = define_interface("dtmi:ex:A;1", properties={"x": "dubble"})
    with pytest.raises(ModelError):
        ModelRegistry().add([doc])
