"""DTDL conformance: an excerpt of the official cases (committed), the full set (when present)
and the Smart Cities ontology loaded as one batch."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from holotwin.errors import ModelError
from holotwin.models import ModelRegistry, load_documents

FIXTURES = Path(__file__).parent / "fixtures" / "conformance" / "cases.json"
SPEC = Path(os.environ.get("HOLOTWIN_DTDL_DATA", "/work/shared/data/dtdl/specification"))
ONTOLOGY = Path("/work/shared/data/dtdl/ontology-smartcities/Ontology")
CASES: list[dict[str, Any]] = json.loads(FIXTURES.read_text(encoding="utf-8"))


def parse(case: dict[str, Any]) -> set[str] | None:
    """The rule ids reported for ``case``, or None if it is accepted."""
    allow = "AllowUndefinedExtensions" in case["options"]
    try:
        ModelRegistry().add(case["input"], allow_undefined_extensions=allow)
    except ModelError as exc:
        return {issue.rule for issue in exc.issues}
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["source"] for c in CASES])
def test_conformance_excerpt(case: dict[str, Any]) -> None:
    rules = parse(case)
    assert (rules is None) == case["valid"], rules
    if not case["valid"]:
        assert rules == set(case["rules"])


def test_issues_name_element_property_and_expectation() -> None:
    case = next(c for c in CASES if c["source"].startswith("Requirement-ClassArrayInvalidKeywordsV3"))
    with pytest.raises(ModelError) as caught:
        ModelRegistry().add(case["input"])
    issue = caught.value.issues[0]
    assert issue.element.startswith("dtmi:example:")
    assert issue.property == "@value"
    assert "Array has no property '@value'" in issue.message
    assert "elementSchema" in issue.message  # says what is expected


def test_undefined_extensions_are_an_option() -> None:
    doc = {"@context": ["dtmi:dtdl:context;3", "dtmi:com:example:ext;1"], "@id": "dtmi:ex:A;1",
           "@type": "Interface", "contents": [{"@type": ["Property", "Colour"], "name": "c",
                                               "schema": "string", "shade": "dark"}]}
    with pytest.raises(ModelError):
        ModelRegistry().add([doc])
    [model] = ModelRegistry().add([doc], allow_undefined_extensions=True)
    assert list(model.properties) == ["c"]


def _load(file: Path) -> list[dict[str, Any]]:
    return json.loads(file.read_text(encoding="utf-8-sig"))  # type: ignore[no-any-return]


@pytest.mark.skipif(not SPEC.is_dir(), reason="DTDL conformance data not available")
def test_full_conformance_set_verdicts() -> None:
    started = time.perf_counter()
    total: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for file in sorted(SPEC.glob("*.json")):
        version = "V3" if file.name.endswith("V3.json") else "V2"
        for case in _load(file):
            total[version] += 1
            agreed[version] += (parse(case) is None) == case["valid"]
    assert time.perf_counter() - started < 30
    for version in total:
        assert agreed[version] / total[version] >= 0.99, (version, agreed[version], total[version])


@pytest.mark.skipif(not ONTOLOGY.is_dir(), reason="Smart Cities ontology not available")
def test_smart_cities_ontology_loads_as_one_batch() -> None:
    documents = load_documents(ONTOLOGY)
    registry = ModelRegistry()
    added = registry.add(documents)
    assert len(added) == 63 == len(registry)
