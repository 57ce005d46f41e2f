"""ModelRegistry: batches, inheritance, components, relationships, removal and the model graph."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.errors import ConflictError, ModelError, NotFoundError, PropertyValueError
from holotwin.models import ModelRegistry
from holotwin.models.rules import rule_id

V3 = "dtmi:dtdl:context;3"


def iface(dtmi: str, *contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"@context": V3, "@id": dtmi, "@type": "Interface", "contents": list(contents),
            **extra}


def prop(name: str, schema: object = "double", **extra: Any) -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": schema, **extra}


@pytest.fixture
def plant() -> ModelRegistry:
    reg = ModelRegistry()
    reg.add([
        iface("dtmi:ex:Pump;1", prop("speed"), extends="dtmi:ex:Machine;1"),
        iface("dtmi:ex:Machine;1", prop("serial", "string"),
              {"@type": "Telemetry", "name": "power", "schema": "double"}),
        iface("dtmi:ex:BoosterPump;1", prop("boost"), extends=["dtmi:ex:Pump;1"]),
        iface("dtmi:ex:Tank;1", prop("level"),
              {"@type": "Relationship", "name": "feeds", "target": "dtmi:ex:Pump;1",
               "maxMultiplicity": 2, "properties": [prop("flow", writable=True)]}),
    ])
    return reg


def test_inheritance_merges_contents(plant: ModelRegistry) -> None:
    booster = plant.require("dtmi:ex:BoosterPump;1")
    assert list(booster.properties) == ["serial", "speed", "boost"]
    assert list(booster.telemetry) == ["power"]
    assert booster.extends == ("dtmi:ex:Pump;1",)
    assert booster.properties["serial"] is plant.require("dtmi:ex:Machine;1").properties["serial"]


def test_batch_registers_bases_first(plant: ModelRegistry) -> None:
    ids = plant.ids()
    assert ids.index("dtmi:ex:Machine;1") < ids.index("dtmi:ex:Pump;1")
    assert len(plant) == 4 and "dtmi:ex:Tank;1" in plant and "dtmi:ex:X;1" not in plant


def test_is_a_and_descendants(plant: ModelRegistry) -> None:
    assert plant.is_a("dtmi:ex:BoosterPump;1", "dtmi:ex:Machine;1")
    assert plant.is_a("dtmi:ex:Pump;1", "dtmi:ex:Pump;1")
    assert not plant.is_a("dtmi:ex:Machine;1", "dtmi:ex:Pump;1")
    assert not plant.is_a("dtmi:ex:Tank;1", "dtmi:ex:Machine;1")
    assert plant.descendants("dtmi:ex:Pump;1") == {"dtmi:ex:Pump;1", "dtmi:ex:BoosterPump;1"}
    assert plant.descendants("dtmi:ex:Machine;1") == {
        "dtmi:ex:Machine;1", "dtmi:ex:Pump;1", "dtmi:ex:BoosterPump;1"}


def test_relationship_target_properties_multiplicity(plant: ModelRegistry) -> None:
    feeds = plant.require("dtmi:ex:Tank;1").relationships["feeds"]
    assert feeds.target == "dtmi:ex:Pump;1"
    assert feeds.max_multiplicity == 2
    assert feeds.properties["flow"].writable
    with pytest.raises(PropertyValueError):
        feeds.properties["flow"].schema.validate("lots", "/flow")


def test_bad_multiplicity() -> None:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add([iface("dtmi:ex:T;1", {"@type": "Relationship", "name": "r",
                                                    "maxMultiplicity": 0})])
    assert caught.value.issues[0].property == "maxMultiplicity"


def test_components_by_id_and_inline() -> None:
    reg = ModelRegistry()
    [car] = [m for m in reg.add([
        iface("dtmi:ex:Car;1",
              {"@type": "Component", "name": "frontLeft", "schema": "dtmi:ex:Wheel;1"},
              {"@type": "Component", "name": "engine", "schema": iface(
                  "dtmi:ex:Engine;1", prop("rpm"))}),
        iface("dtmi:ex:Wheel;1", prop("pressure")),
    ]) if m.id == "dtmi:ex:Car;1"]
    assert car.components["frontLeft"].schema == "dtmi:ex:Wheel;1"
    assert reg.require(car.components["engine"].schema).properties["rpm"]
    assert reg.ids() == ["dtmi:ex:Wheel;1", "dtmi:ex:Car;1"]  # inline is not a model
    assert "dtmi:ex:Engine;1" in reg
    with pytest.raises(NotFoundError):
        reg.remove("dtmi:ex:Engine;1")
    with pytest.raises(ConflictError) as caught:
        reg.remove("dtmi:ex:Wheel;1")
    assert "dtmi:ex:Car;1" in str(caught.value)
    reg.remove("dtmi:ex:Car;1")
    assert "dtmi:ex:Engine;1" not in reg
    reg.remove("dtmi:ex:Wheel;1")
    assert len(reg) == 0


def test_unknown_component_schema() -> None:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add([iface("dtmi:ex:Car;1", {"@type": "Component", "name": "wheel",
                                                     "schema": "dtmi:ex:Wheel;1"})])
    issue = caught.value.issues[0]
    assert (issue.element, issue.property, issue.rule) == (
        "dtmi:ex:Car;1/wheel", "schema", rule_id("unknownComponentSchema"))


def test_later_batch_references_registered_models(plant: ModelRegistry) -> None:
    [v] = plant.add([iface("dtmi:ex:Valve;1", extends="dtmi:ex:Machine;1")])
    assert list(v.properties) == ["serial"]


def test_add_is_atomic() -> None:
    reg = ModelRegistry()
    with pytest.raises(ModelError):
        reg.add([iface("dtmi:ex:Good;1", prop("a")),
                 iface("dtmi:ex:Bad;1", prop("b", "nonsense"))])
    assert len(reg) == 0 and reg.get("dtmi:ex:Good;1") is None and reg.ids() == []
    reg.add([iface("dtmi:ex:Good;1", prop("a"))])
    assert reg.ids() == ["dtmi:ex:Good;1"]


def test_conflict_when_already_registered(plant: ModelRegistry) -> None:
    with pytest.raises(ConflictError) as caught:
        plant.add([iface("dtmi:ex:Pump;1"), iface("dtmi:ex:New;1")])
    assert "dtmi:ex:Pump;1" in str(caught.value)
    assert "dtmi:ex:New;1" not in plant


def test_duplicate_id_in_batch() -> None:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add([iface("dtmi:ex:A;1"), iface("dtmi:ex:A;1")])
    assert caught.value.issues[0].rule == rule_id("duplicateId")


def test_remove_refuses_while_referenced(plant: ModelRegistry) -> None:
    with pytest.raises(ConflictError) as caught:
        plant.remove("dtmi:ex:Machine;1")
    assert "dtmi:ex:Pump;1" in str(caught.value)
    with pytest.raises(ConflictError) as caught:
        plant.remove("dtmi:ex:Pump;1")  # extended by BoosterPump, targeted by Tank
    assert "dtmi:ex:BoosterPump;1" in str(caught.value)
    assert "dtmi:ex:Tank;1" in str(caught.value)
    for dtmi in ["dtmi:ex:Tank;1", "dtmi:ex:BoosterPump;1", "dtmi:ex:Pump;1"]:
        plant.remove(dtmi)
    assert plant.ids() == ["dtmi:ex:Machine;1"]
    with pytest.raises(NotFoundError):
        plant.remove("dtmi:ex:Pump;1")


def test_removing_in_reverse_order_of_add_always_works() -> None:
    reg = ModelRegistry()
    added = reg.add([iface("dtmi:ex:C;1", extends="dtmi:ex:B;1"),
                     iface("dtmi:ex:B;1", extends="dtmi:ex:A;1"), iface("dtmi:ex:A;1")])
    for model in reversed(added):
        reg.remove(model.id)
    assert len(reg) == 0


def test_require_get_and_not_found(plant: ModelRegistry) -> None:
    assert plant.get("dtmi:ex:Nope;1") is None
    with pytest.raises(NotFoundError) as caught:
        plant.require("dtmi:ex:Nope;1")
    assert (caught.value.kind, caught.value.id) == ("model", "dtmi:ex:Nope;1")


def test_decommission(plant: ModelRegistry) -> None:
    assert not plant.is_decommissioned("dtmi:ex:Pump;1")
    plant.decommission("dtmi:ex:Pump;1")
    assert plant.is_decommissioned("dtmi:ex:Pump;1")
    plant.decommission("dtmi:ex:Pump;1", False)
    assert not plant.is_decommissioned("dtmi:ex:Pump;1")
    with pytest.raises(NotFoundError):
        plant.decommission("dtmi:ex:Nope;1")


def test_dependencies(plant: ModelRegistry) -> None:
    assert plant.dependencies("dtmi:ex:Machine;1") == []
    assert plant.dependencies("dtmi:ex:BoosterPump;1") == ["dtmi:ex:Machine;1", "dtmi:ex:Pump;1"]
    assert plant.dependencies("dtmi:ex:Tank;1") == ["dtmi:ex:Machine;1", "dtmi:ex:Pump;1"]
    with pytest.raises(NotFoundError):
        plant.dependencies("dtmi:ex:Nope;1")


def test_document_is_the_upload_and_a_copy() -> None:
    reg = ModelRegistry()
    doc = iface("dtmi:ex:Fan;1", prop("rpm"))
    reg.add([doc])
    doc["contents"].append(prop("other"))  # caller changes its dict afterwards
    stored = reg.document("dtmi:ex:Fan;1")
    assert stored == iface("dtmi:ex:Fan;1", prop("rpm"))
    stored["@id"] = "changed"
    assert reg.document("dtmi:ex:Fan;1")["@id"] == "dtmi:ex:Fan;1"


def test_inherited_name_clash() -> None:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add([iface("dtmi:ex:Base;1", prop("speed")),
                             iface("dtmi:ex:Sub;1", prop("speed"), extends="dtmi:ex:Base;1")])
    issue = caught.value.issues[0]
    assert (issue.element, issue.property, issue.rule) == (
        "dtmi:ex:Sub;1/speed", "name", rule_id("duplicateName"))
    assert "dtmi:ex:Base;1" in issue.message


def test_diamond_inheritance_is_fine() -> None:
    reg = ModelRegistry()
    reg.add([iface("dtmi:ex:Root;1", prop("id", "string")),
             iface("dtmi:ex:L;1", extends="dtmi:ex:Root;1"),
             iface("dtmi:ex:R;1", extends="dtmi:ex:Root;1"),
             iface("dtmi:ex:D;1", extends=["dtmi:ex:L;1", "dtmi:ex:R;1"])])
    assert list(reg.require("dtmi:ex:D;1").properties) == ["id"]


def test_inline_extends() -> None:
    reg = ModelRegistry()
    [sub] = reg.add([iface("dtmi:ex:Sub;1", prop("b"),
                           extends={"@id": "dtmi:ex:Inline;1", "@type": "Interface",
                                    "contents": [prop("a")]})])
    assert list(sub.properties) == ["a", "b"]
    assert reg.is_a("dtmi:ex:Sub;1", "dtmi:ex:Inline;1")
