"""The limits DTDL sets (counts, depths, identifier lengths), elements referenced by ``@id``
where an object is expected, and DTDL v2 definitions inside DTDL v3 documents."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.errors import ModelError, ModelIssue
from holotwin.models import ArraySchema, ModelRegistry, ObjectSchema
from holotwin.models.rules import Rule

V2 = "dtmi:dtdl:context;2"
V3 = "dtmi:dtdl:context;3"


def iface(dtmi: str, *contents: dict[str, Any], context: object = V3, **extra: Any) -> dict[str, Any]:
    return {"@context": context, "@id": dtmi, "@type": "Interface",
            "contents": list(contents), **extra}


def issues_of(*documents: dict[str, Any]) -> list[ModelIssue]:
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add(list(documents))
    return caught.value.issues


def chain(depth: int, context: str) -> dict[str, Any]:
    """An interface extending ``depth`` levels of inline interfaces."""
    inner: dict[str, Any] = {"@id": f"dtmi:ex:L{depth};1", "@type": "Interface"}
    for level in range(depth - 1, 0, -1):
        inner = {"@id": f"dtmi:ex:L{level};1", "@type": "Interface", "extends": inner}
    return iface("dtmi:ex:Top;1", context=context, extends=inner)


@pytest.mark.parametrize("context", [V2, V3])
def test_extends_may_be_ten_levels_deep(context: str) -> None:
    ModelRegistry().add([chain(10, context)])
    [issue] = issues_of(chain(11, context))
    assert issue.rule == Rule.TOO_DEEP
    assert issue.message.startswith("Interface dtmi:ex:Top;1 extends 11 levels deep")
    assert "allows at most 10" in issue.message


def test_v3_interface_extends_at_most_1024_interfaces() -> None:
    def bases(n: int) -> list[dict[str, Any]]:
        return [{"@id": f"dtmi:ex:B{i};1", "@type": "Interface"} for i in range(n)]

    ModelRegistry().add([iface("dtmi:ex:Wide;1", extends=bases(1024))])
    [issue] = issues_of(iface("dtmi:ex:Wide;1", extends=bases(1025)))
    assert (issue.rule, issue.property) == (Rule.TOO_MANY, "extends")
    assert "extends 1025 interfaces; DTDL v3 allows at most 1024" in issue.message


def test_interface_id_is_at_most_128_characters() -> None:
    dtmi = "dtmi:ex:" + "a" * (128 - len("dtmi:ex:;1")) + ";1"
    ModelRegistry().add([iface(dtmi)])
    longer = dtmi.replace("dtmi:ex:", "dtmi:ex:b")
    [issue] = issues_of(iface(longer))
    assert issue.rule == Rule.ID_TOO_LONG
    assert "129 characters" in issue.message and "at most 128" in issue.message
    # other elements may have longer ids
    prop = {"@id": "dtmi:ex:" + "p" * 200 + ";1", "@type": "Property", "name": "p",
            "schema": "double"}
    ModelRegistry().add([iface("dtmi:ex:Short;1", prop)])


@pytest.mark.parametrize("context", [V2, V3])
def test_complex_schemas_nest_at_most_five_levels(context: str) -> None:
    def nested(depth: int) -> object:
        schema: object = "double"
        for _ in range(depth):
            schema = {"@type": "Array", "elementSchema": schema}
        return schema

    [model] = ModelRegistry().add([iface("dtmi:ex:Deep;1", {
        "@type": "Telemetry", "name": "t", "schema": nested(5)}, context=context)])
    assert isinstance(model.telemetry["t"].schema, ArraySchema)
    [issue] = issues_of(iface("dtmi:ex:Deep;1", {
        "@type": "Telemetry", "name": "t", "schema": nested(6)}, context=context))
    assert (issue.rule, issue.property) == (Rule.TOO_DEEP, "schema")
    assert "6 levels deep" in issue.message and "at most 5" in issue.message


@pytest.mark.parametrize(("prop", "item", "most"), [
    ("enumValues", {"name": "v{i}", "enumValue": "{i}"}, 100),
    ("fields", {"name": "f{i}", "schema": "double"}, 30),
])
def test_v2_enum_values_and_fields_count_from_one_to_a_limit(
    prop: str, item: dict[str, str], most: int
) -> None:
    def schema(n: int) -> dict[str, Any]:
        items = [{k: v.format(i=i) for k, v in item.items()} for i in range(n)]
        if prop == "enumValues":
            return {"@type": "Enum", "valueSchema": "string", "enumValues": items}
        return {"@type": "Object", "fields": items}

    def model(n: int) -> dict[str, Any]:
        return iface("dtmi:ex:M;1", {"@type": "Property", "name": "p", "schema": schema(n)},
                     context=V2)

    ModelRegistry().add([model(1)])
    ModelRegistry().add([model(most)])
    assert [i.rule for i in issues_of(model(0))] == [Rule.MISSING_OBJECT]
    [issue] = issues_of(model(most + 1))
    assert (issue.rule, issue.property) == (Rule.TOO_MANY, prop)
    assert f"DTDL v2 allows at most {most}" in issue.message
    # DTDL v3 has neither limit
    ModelRegistry().add([{**model(most + 1), "@context": V3}])


def test_v2_relationship_limits() -> None:
    def rel(**extra: Any) -> dict[str, Any]:
        return iface("dtmi:ex:R;1", {"@type": "Relationship", "name": "r", **extra}, context=V2)

    ModelRegistry().add([rel(maxMultiplicity=500)])
    [issue] = issues_of(rel(maxMultiplicity=501))
    assert (issue.rule, issue.property) == (Rule.VALUE_ABOVE_MAX, "maxMultiplicity")
    assert "maxMultiplicity 501; DTDL v2 allows at most 500" in issue.message
    props = [{"@type": "Property", "name": f"p{i}", "schema": "double"} for i in range(301)]
    [issue] = issues_of(rel(properties=props))
    assert (issue.rule, issue.property) == (Rule.TOO_MANY, "properties")
    ModelRegistry().add([{**rel(maxMultiplicity=501, properties=props), "@context": V3}])


def test_component_schema_may_not_contain_components() -> None:
    inner = iface("dtmi:ex:Inner;1")
    middle = iface("dtmi:ex:Middle;1",
                   {"@type": "Component", "name": "inner", "schema": "dtmi:ex:Inner;1"})
    outer = iface("dtmi:ex:Outer;1",
                  {"@type": "Component", "name": "middle", "schema": "dtmi:ex:Middle;1"})
    ModelRegistry().add([inner, middle])
    [issue] = issues_of(inner, middle, outer)
    assert (issue.rule, issue.property) == (Rule.EXCLUDED_TYPE, "schema")
    assert "dtmi:ex:Middle;1, which has components (inner)" in issue.message


def test_v2_property_schema_may_not_be_geospatial() -> None:
    doc = iface("dtmi:ex:Geo;1", {"@type": "Property", "name": "at", "schema": "point"},
                context=V2)
    [issue] = issues_of(doc)
    assert (issue.rule, issue.property) == (Rule.NON_CONFORMANT_VALUE, "schema")
    ModelRegistry().add([{**doc, "@context": V3}])


def test_elements_may_be_referenced_by_id() -> None:
    field = {"@id": "dtmi:ex:shared;1", "name": "level", "schema": "double"}
    doc = iface("dtmi:ex:Tank;1",
                {"@type": "Property", "name": "state",
                 "schema": {"@type": "Object", "fields": ["dtmi:ex:shared;1"]}},
                schemas=[{"@id": "dtmi:ex:Other;1", "@type": "Object", "fields": [field]}])
    [model] = ModelRegistry().add([doc])
    schema = model.properties["state"].schema
    assert isinstance(schema, ObjectSchema)
    assert [f.name for f in schema.fields] == ["level"]


def test_v3_document_may_hold_a_v2_definition_but_not_a_v2_field() -> None:
    v2_array = {"@context": V2, "@type": "Array", "elementSchema": "double"}
    ModelRegistry().add([iface("dtmi:ex:Mixed;1",
                               {"@type": "Telemetry", "name": "t", "schema": v2_array})])
    field = {"@context": V2, "name": "f", "schema": "double"}
    [issue] = issues_of(iface("dtmi:ex:Mixed;1", {"@type": "Property", "name": "p",
                                                  "schema": {"@type": "Object",
                                                             "fields": [field]}}))
    assert issue.rule == Rule.CONTEXT_VERSION


def test_v2_value_objects_may_carry_other_keys() -> None:
    prop = {"@type": "Property", "name": "p", "schema": "double",
            "writable": {"@value": True, "@type": "xsd:boolean", "@language": "en"}}
    [model] = ModelRegistry().add([iface("dtmi:ex:V;1", prop, context=V2)])
    assert model.properties["p"].writable
    assert issues_of(iface("dtmi:ex:V;1", prop))[0].rule == Rule.BOOLEAN_NOT_BOOLEAN
    with_id = {**prop, "writable": {"@value": True, "@id": "dtmi:ex:x;1"}}
    assert issues_of(iface("dtmi:ex:V;1", with_id, context=V2))[0].rule == \
        Rule.BOOLEAN_NOT_BOOLEAN
