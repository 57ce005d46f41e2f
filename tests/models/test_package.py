"""The public API of holotwin.models, and a few official DTDL conformance cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import holotwin.models
from holotwin.errors import ModelError
from holotwin.models import ModelRegistry

SPEC = Path("/work/shared/data/dtdl/specification")


def test_all_is_curated() -> None:
    assert sorted(holotwin.models.__all__) == sorted([
        "ArraySchema", "Command", "CommandPayload", "Component", "EnumSchema", "EnumValue",
        "Field", "GeospatialSchema", "Interface", "MapSchema", "ModelRegistry", "ObjectSchema",
        "PrimitiveSchema", "Property", "PropertySpec", "Relationship", "RelationshipSpec",
        "Schema", "Telemetry", "TelemetrySpec", "define_interface", "load_documents",
    ])
    for name in holotwin.models.__all__:
        assert getattr(holotwin.models, name) is not None


@pytest.mark.parametrize("case_file", [
    "Requirement-ClassInterfaceIdIsDtmiV2.json",
    "Requirement-ClassInterfaceIdIsDtmiV3.json",
    "Requirement-ClassTelemetryIdIsDtmiV3.json",
    "Allowance-ValuePrimitiveSchemaV3.json",
    "Requirement-ClassEnumValuePropertyNameStringV2.json",
])
def test_official_cases(case_file: str) -> None:
    path = SPEC / case_file
    if not path.exists():
        pytest.skip("the DTDL conformance cases are not available here")
    for i, case in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))):
        try:
            ModelRegistry().add(case["input"])
            valid = True
        except ModelError:
            valid = False
        assert valid == case["valid"], f"{case_file} case {i}"
