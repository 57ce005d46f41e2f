"""Parsing DTDL v2 and v3 documents, and the ModelIssues reported for invalid ones."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.errors import ModelError, ModelIssue
from holotwin.models import (
    ArraySchema,
    EnumSchema,
    GeospatialSchema,
    MapSchema,
    ModelRegistry,
    ObjectSchema,
    PrimitiveSchema,
)
from holotwin.models.rules import rule_id

V2 = "dtmi:dtdl:context;2"
V3 = "dtmi:dtdl:context;3"


def iface(dtmi: str, *contents: dict[str, Any], context: object = V3, **extra: Any) -> dict[str, Any]:
    return {"@context": context, "@id": dtmi, "@type": "Interface",
            "contents": list(contents), **extra}


def issues_of(*documents: dict[str, Any], reg: ModelRegistry | None = None) -> list[ModelIssue]:
    with pytest.raises(ModelError) as caught:
        (reg or ModelRegistry()).add(list(documents))
    return caught.value.issues


def one_issue(*documents: dict[str, Any], rule: str) -> ModelIssue:
    found = [i for i in issues_of(*documents) if i.rule == rule_id(rule)]
    assert found, f"no {rule} issue"
    return found[0]


def test_v2_interface_parses_all_content_kinds() -> None:
    doc = iface(
        "dtmi:ex:Thermostat;1",
        {"@type": ["Property", "Temperature"], "name": "setpoint", "schema": "double",
         "unit": "degreeCelsius", "writable": True},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
        {"@type": "Command", "name": "reboot", "commandType": "synchronous",
         "request": {"name": "delay", "schema": "duration"},
         "response": {"name": "ok", "schema": "boolean"}},
        {"@type": "Relationship", "name": "servedBy", "target": "dtmi:ex:Boiler;1",
         "maxMultiplicity": 1},
        context=V2, displayName={"en": "Thermostat", "de": "Thermostat"},
        description="Keeps a room warm",
    )
    [t] = ModelRegistry().add([doc])
    assert t.dtdl_version == 2
    assert t.display_name == "Thermostat"
    assert t.description == "Keeps a room warm"
    setpoint = t.properties["setpoint"]
    assert setpoint.writable and setpoint.unit == "degreeCelsius"
    assert setpoint.semantic_types == ("Temperature",)
    assert t.telemetry["temperature"].schema == PrimitiveSchema("double")
    reboot = t.commands["reboot"]
    assert reboot.request is not None and reboot.request.name == "delay"
    assert reboot.response is not None and reboot.response.schema == PrimitiveSchema("boolean")
    assert t.relationships["servedBy"].target == "dtmi:ex:Boiler;1"
    assert t.document["@id"] == "dtmi:ex:Thermostat;1"


def test_v3_interface_with_extension_context_and_v3_schemas() -> None:
    doc = iface(
        "dtmi:ex:Meter;1",
        {"@type": ["Telemetry", "Energy"], "name": "energy", "schema": "double",
         "unit": "kilowattHour"},
        {"@type": "Property", "name": "serial", "schema": "uuid"},
        {"@type": "Property", "name": "count", "schema": "unsignedLong"},
        {"@type": "Property", "name": "where", "schema": "point"},
        {"@type": "Property", "name": "history", "schema": {"@type": "Array",
                                                              "elementSchema": "decimal"}},
        context=[V3, "dtmi:dtdl:extension:quantitativeTypes;1"],
    )
    [m] = ModelRegistry().add([doc])
    assert m.dtdl_version == 3
    assert m.telemetry["energy"].semantic_types == ("Energy",)
    assert m.properties["serial"].schema == PrimitiveSchema("uuid")
    assert isinstance(m.properties["where"].schema, GeospatialSchema)
    assert m.properties["history"].schema.describe() == "array of decimal"


def test_complex_schemas_inline_and_by_reference() -> None:
    doc = iface(
        "dtmi:ex:Pump;1",
        {"@type": "Property", "name": "mode", "schema": "dtmi:ex:Mode;1"},
        {"@type": "Property", "name": "settings", "schema": {
            "@type": "Object", "fields": [
                {"name": "speed", "schema": "double"},
                {"name": "mode", "schema": "dtmi:ex:Mode;1"}]}},
        {"@type": "Property", "name": "limits", "schema": {
            "@type": "Map", "mapKey": {"name": "sensor", "schema": "string"},
            "mapValue": {"name": "limit", "schema": "double"}}},
        schemas=[{"@id": "dtmi:ex:Mode;1", "@type": "Enum", "valueSchema": "string",
                  "enumValues": [{"name": "on", "enumValue": "on"},
                                 {"name": "off", "enumValue": "off"}]}],
    )
    [pump] = ModelRegistry().add([doc])
    mode = pump.properties["mode"].schema
    assert isinstance(mode, EnumSchema) and mode.describe() == "enum of string (on, off)"
    settings = pump.properties["settings"].schema
    assert isinstance(settings, ObjectSchema)
    assert settings.describe() == "object {speed: double, mode: enum of string (on, off)}"
    limits = pump.properties["limits"].schema
    assert isinstance(limits, MapSchema) and limits.key_name == "sensor"
    assert pump.schemas["dtmi:ex:Mode;1"] is mode


def test_schema_defined_by_another_model_in_registry() -> None:
    reg = ModelRegistry()
    reg.add([iface("dtmi:ex:Types;1", schemas=[
        {"@id": "dtmi:ex:Tags;1", "@type": "Array", "elementSchema": "string"}])])
    [m] = reg.add([iface("dtmi:ex:Tagged;1",
                         {"@type": "Telemetry", "name": "tags", "schema": "dtmi:ex:Tags;1"})])
    assert m.telemetry["tags"].schema == ArraySchema(PrimitiveSchema("string"), "dtmi:ex:Tags;1")
    assert reg.dependencies("dtmi:ex:Tagged;1") == ["dtmi:ex:Types;1"]


@pytest.mark.parametrize("bad", ["dtmi:ex:Pump", "urn:ex:Pump;1", "dtmi:ex:1Pump;1",
                                 "dtmi:ex:Pump_;1", "dtmi:ex:Pump;01", "dtmi:dtdl:Pump;1"])
def test_bad_interface_dtmi(bad: str) -> None:
    issue = one_issue(iface(bad, context=V2), rule="invalidId")
    assert issue.property == "@id"
    assert bad in issue.message


def test_v3_allows_missing_and_minor_versions() -> None:
    ModelRegistry().add([iface("dtmi:ex:Pump"), iface("dtmi:ex:Fan;1.2")])


@pytest.mark.parametrize("bad", ["1speed", "speed_", "sp eed", "x" * 65])
def test_bad_name(bad: str) -> None:
    issue = one_issue(iface("dtmi:ex:Pump;1", {"@type": "Property", "name": bad,
                                               "schema": "double"}, context=V2),
                      rule="invalidName")
    assert issue.property == "name"
    assert issue.element.startswith("dtmi:ex:Pump;1/")


def test_long_names_are_allowed_in_v3_only() -> None:
    ModelRegistry().add([iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "x" * 100,
                                                  "schema": "double"})])


def test_duplicate_content_name() -> None:
    issue = one_issue(iface("dtmi:ex:Pump;1",
                            {"@type": "Property", "name": "speed", "schema": "double"},
                            {"@type": "Telemetry", "name": "speed", "schema": "double"}),
                      rule="duplicateName")
    assert issue.element == "dtmi:ex:Pump;1/speed"
    assert issue.property == "name"
    assert "speed" in issue.message


def test_unknown_extends() -> None:
    issue = one_issue(iface("dtmi:ex:Pump;1", extends="dtmi:ex:Nothing;1"),
                      rule="unknownExtends")
    assert (issue.element, issue.property) == ("dtmi:ex:Pump;1", "extends")
    assert "dtmi:ex:Nothing;1" in issue.message


def test_extends_cycle() -> None:
    issues = issues_of(iface("dtmi:ex:A;1", extends="dtmi:ex:B;1"),
                       iface("dtmi:ex:B;1", extends="dtmi:ex:A;1"))
    [cycle] = [i for i in issues if i.rule == rule_id("extendsCycle")]
    assert cycle.property == "extends"
    assert "dtmi:ex:A;1 -> dtmi:ex:B;1 -> dtmi:ex:A;1" in cycle.message


def test_extends_too_deep_in_v2() -> None:
    docs = [iface(f"dtmi:ex:L{i};1", context=V2, **({"extends": f"dtmi:ex:L{i - 1};1"}
                                                     if i else {})) for i in range(12)]
    issue = one_issue(*docs, rule="extendsTooDeep")
    assert issue.property == "extends"
    # DTDL v3 has the same limit (official cases: 10 levels valid, 11 invalid)
    docs3 = [iface(f"dtmi:ex:L{i};1", **({"extends": f"dtmi:ex:L{i - 1};1"} if i else {}))
             for i in range(12)]
    one_issue(*docs3, rule="extendsTooDeep")
    ModelRegistry().add(docs3[:11])


def test_unknown_schema_reference() -> None:
    issue = one_issue(iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "mode",
                                               "schema": "dtmi:ex:Mode;1"}),
                      rule="unresolved")
    assert (issue.element, issue.property) == ("dtmi:ex:Pump;1/mode", "schema")


def test_unknown_primitive_name() -> None:
    issue = one_issue(iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "speed",
                                               "schema": "dubble"}), rule="unknownSchema")
    assert "dubble" in issue.message


def test_v3_primitive_in_v2_document() -> None:
    one_issue(iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "id", "schema": "uuid"},
                    context=V2), rule="unknownSchema")


def test_schema_cycle() -> None:
    doc = iface("dtmi:ex:Tree;1", schemas=[{
        "@id": "dtmi:ex:Node;1", "@type": "Object",
        "fields": [{"name": "child", "schema": "dtmi:ex:Node;1"}]}])
    one_issue(doc, rule="schemaCycle")


@pytest.mark.parametrize("context", [None, "dtmi:dtdl:context;4", ["dtmi:ex:other;1"]])
def test_wrong_or_missing_context(context: object) -> None:
    doc = iface("dtmi:ex:Pump;1", context=context)
    if context is None:
        del doc["@context"]
    issue = next(i for i in issues_of(doc) if i.property == "@context")
    assert issue.element == "dtmi:ex:Pump;1"
    assert issue.rule in (rule_id("missingContext"), rule_id("invalidContext"))


def test_extension_context_needs_v3() -> None:
    doc = iface("dtmi:ex:Pump;1", context=[V2, "dtmi:dtdl:extension:quantitativeTypes;1"])
    assert one_issue(doc, rule="undefinedContext").property == "@context"


def test_semantic_type_in_v3_needs_extension() -> None:
    doc = iface("dtmi:ex:Pump;1", {"@type": ["Telemetry", "Temperature"], "name": "t",
                                   "schema": "double", "unit": "kelvin"})
    issue = one_issue(doc, rule="undefinedType")
    assert issue.property == "@type" and "quantitativeTypes" in issue.message


def test_missing_type() -> None:
    doc = iface("dtmi:ex:Pump;1", {"name": "speed", "schema": "double"})
    issue = one_issue(doc, rule="missingType")
    assert (issue.element, issue.property) == ("dtmi:ex:Pump;1/speed", "@type")
    top = iface("dtmi:ex:Fan;1")
    del top["@type"]
    assert one_issue(top, rule="missingType").element == "dtmi:ex:Fan;1"


def test_undefined_property_on_element() -> None:
    doc = iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "speed", "schema": "double",
                                   "writeable": True})
    issue = one_issue(doc, rule="undefinedProperty")
    assert (issue.element, issue.property) == ("dtmi:ex:Pump;1/speed", "writeable")


def test_enum_value_must_match_value_schema() -> None:
    doc = iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "level", "schema": {
        "@type": "Enum", "valueSchema": "integer",
        "enumValues": [{"name": "low", "enumValue": "1"}]}})
    assert one_issue(doc, rule="invalidEnumValue").property == "enumValue"


def test_v2_property_cannot_hold_an_array() -> None:
    doc = iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "tags", "schema": {
        "@type": "Array", "elementSchema": "string"}}, context=V2)
    assert one_issue(doc, rule="propertyArray").property == "schema"


def test_all_issues_are_collected() -> None:
    issues = issues_of(
        iface("dtmi:ex:A;1", {"@type": "Property", "name": "bad name", "schema": "double"},
              {"@type": "Property", "name": "x", "schema": "nope"}),
        iface("dtmi:ex:B;1", extends="dtmi:ex:Missing;1"),
    )
    expected = {rule_id(r) for r in ("invalidName", "unknownSchema", "unknownExtends")}
    assert {i.rule for i in issues} >= expected


def test_not_a_json_object() -> None:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add(["not a document"])
    assert caught.value.issues[0].rule == rule_id("notAnObject")
