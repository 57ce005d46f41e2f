"""Value validation by each schema kind: good values pass, bad ones fail with path and words."""

from __future__ import annotations

import pytest

from holotwin.errors import PropertyValueError
from holotwin.models import (
    ArraySchema,
    EnumSchema,
    EnumValue,
    Field,
    GeospatialSchema,
    MapSchema,
    ObjectSchema,
    PrimitiveSchema,
    Schema,
)

GOOD = [
    ("boolean", True), ("boolean", False),
    ("integer", 0), ("integer", 2**31 - 1), ("integer", -(2**31)),
    ("long", 2**63 - 1), ("short", -32768), ("byte", 127), ("unsignedByte", 255),
    ("unsignedShort", 65535), ("unsignedInteger", 2**32 - 1), ("unsignedLong", 2**64 - 1),
    ("double", 1.5), ("double", 3), ("float", -2.5), ("decimal", 10),
    ("string", ""), ("string", "hello"),
    ("date", "2024-02-29"), ("time", "13:45:00"), ("time", "13:45:00.25Z"),
    ("dateTime", "2024-01-01T00:00:00Z"), ("dateTime", "2024-01-01T12:30:15.123+02:00"),
    ("duration", "PT5M"), ("duration", "P1DT2H"), ("duration", "P3W"), ("duration", "PT0.5S"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000"), ("bytes", "aGVsbG8="),
]

BAD = [
    ("boolean", 1), ("boolean", "true"),
    ("integer", True), ("integer", 1.5), ("integer", 2**31), ("integer", "1"),
    ("long", 2**63), ("byte", 128), ("unsignedByte", -1), ("unsignedLong", 2**64),
    ("double", True), ("double", "1.0"), ("double", float("nan")), ("double", float("inf")),
    ("double", None), ("float", 1e39),
    ("string", 3), ("string", None),
    ("date", "2024-02-30"), ("date", "2024/01/01"), ("date", 20240101),
    ("time", "25:00:00"), ("time", "1pm"),
    ("dateTime", "2024-01-01T00:00:00"), ("dateTime", "2024-01-01"),
    ("dateTime", "2024-13-01T00:00:00Z"), ("dateTime", "yesterday"),
    ("duration", "P"), ("duration", "PT"), ("duration", "5 minutes"), ("duration", 300),
    ("uuid", "not-a-uuid"), ("bytes", "abc"),
]


@pytest.mark.parametrize(("name", "value"), GOOD)
def test_primitive_accepts(name: str, value: object) -> None:
    PrimitiveSchema(name).validate(value, "/x")


@pytest.mark.parametrize(("name", "value"), BAD)
def test_primitive_rejects_with_path_and_expected(name: str, value: object) -> None:
    with pytest.raises(PropertyValueError) as caught:
        PrimitiveSchema(name).validate(value, "/a/b")
    assert caught.value.path == "/a/b"
    assert caught.value.expected == name
    assert caught.value.value is value or caught.value.value == value


def test_unknown_primitive_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        PrimitiveSchema("dubble")


def _settings() -> ObjectSchema:
    mode = EnumSchema("string", (EnumValue("on", "on"), EnumValue("off", "off")))
    return ObjectSchema((Field("speed", PrimitiveSchema("double")), Field("mode", mode)))


def test_describe_texts() -> None:
    assert PrimitiveSchema("double").describe() == "double"
    assert EnumSchema("string", (EnumValue("on", "on"), EnumValue("off", "off"))).describe() == (
        "enum of string (on, off)")
    assert _settings().describe() == (
        "object {speed: double, mode: enum of string (on, off)}")
    assert ArraySchema(PrimitiveSchema("double")).describe() == "array of double"
    assert MapSchema(PrimitiveSchema("double")).describe() == "map of string to double"
    assert GeospatialSchema("point").describe() == "point (GeoJSON Point)"


def test_object_accepts_partial_and_rejects_unknown_field() -> None:
    settings = _settings()
    settings.validate({}, "/settings")
    settings.validate({"speed": 2.0, "mode": "off"}, "/settings")
    with pytest.raises(PropertyValueError) as caught:
        settings.validate({"speed": 2.0, "colour": "red"}, "/settings")
    assert caught.value.path == "/settings/colour"
    assert "colour" in str(caught.value)


def test_object_reports_nested_path_and_inner_schema() -> None:
    with pytest.raises(PropertyValueError) as caught:
        _settings().validate({"mode": "standby"}, "/settings")
    assert caught.value.path == "/settings/mode"
    assert caught.value.expected == "enum of string (on, off)"
    with pytest.raises(PropertyValueError) as caught:
        _settings().validate([1], "/settings")
    assert caught.value.path == "/settings"
    assert caught.value.expected.startswith("object {")


def test_enum_checks_value_type() -> None:
    levels = EnumSchema("integer", (EnumValue("low", 1), EnumValue("high", 2)))
    levels.validate(2, "/level")
    for bad in (3, "1", True, 1.0):
        assert not levels.is_valid(bad)
    assert levels.name_of(2) == "high"


def test_array_reports_index() -> None:
    tags = ArraySchema(PrimitiveSchema("double"))
    tags.validate([], "/tags")
    tags.validate([1, 2.5], "/tags")
    with pytest.raises(PropertyValueError) as caught:
        tags.validate([1.0, 2.0, 3.0, "x"], "/tags")
    assert caught.value.path == "/tags/3"
    assert caught.value.expected == "double"
    assert not tags.is_valid({"0": 1.0})


def test_map_reports_key_and_escapes_pointer() -> None:
    speeds = MapSchema(PrimitiveSchema("double"))
    speeds.validate({"a": 1.0}, "/speeds")
    with pytest.raises(PropertyValueError) as caught:
        speeds.validate({"pump/1": "fast"}, "/speeds")
    assert caught.value.path == "/speeds/pump~11"
    assert not speeds.is_valid([1.0])
    assert not speeds.is_valid({1: 1.0})


def test_nested_array_in_map_in_object() -> None:
    schema = ObjectSchema((Field("series", MapSchema(ArraySchema(PrimitiveSchema("integer")))),))
    schema.validate({"series": {"a": [1, 2]}}, "")
    with pytest.raises(PropertyValueError) as caught:
        schema.validate({"series": {"a": [1, 2.5]}}, "")
    assert caught.value.path == "/series/a/1"


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("point", {"type": "Point", "coordinates": [4.9, 52.4]},
     {"type": "Point", "coordinates": [4.9]}),
    ("lineString", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
     {"type": "LineString", "coordinates": [[0, 0]]}),
    ("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
     {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}),
    ("multiPoint", {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]},
     {"type": "Point", "coordinates": [0, 0]}),
])
def test_geospatial(name: str, good: object, bad: object) -> None:
    schema = GeospatialSchema(name)
    schema.validate(good, "/where")
    with pytest.raises(PropertyValueError):
        schema.validate(bad, "/where")


def test_schemas_are_reusable_and_stateless() -> None:
    schema: Schema = ArraySchema(PrimitiveSchema("double"))
    for _ in range(3):
        assert not schema.is_valid(["x"])
        assert schema.is_valid([1.0])
    assert schema == ArraySchema(PrimitiveSchema("double"))
    hash(schema)
