"""load_documents: files, directories and JSON syntax errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from holotwin.errors import ModelError
from holotwin.models import ModelRegistry, load_documents

FIXTURES = Path(__file__).parent / "fixtures"


def _doc(dtmi: str) -> dict[str, object]:
    return {"@context": "dtmi:dtdl:context;3", "@id": dtmi, "@type": "Interface"}


def test_directory_recursive_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.json").write_text(json.dumps(_doc("dtmi:ex:Z;1")))
    (tmp_path / "a.json").write_text(json.dumps([_doc("dtmi:ex:A;1"), _doc("dtmi:ex:A2;1")]))
    (tmp_path / "notes.txt").write_text("not json")
    docs = load_documents(tmp_path)
    assert [d["@id"] for d in docs] == ["dtmi:ex:A;1", "dtmi:ex:A2;1", "dtmi:ex:Z;1"]
    assert load_documents(str(tmp_path / "b" / "z.json")) == [_doc("dtmi:ex:Z;1")]


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{\n  "@id": "dtmi:ex:A;1",\n  "@type" "Interface"\n}\n')
    with pytest.raises(ModelError) as caught:
        load_documents(tmp_path)
    issue = caught.value.issues[0]
    assert issue.element == str(bad)
    assert issue.rule == "jsonSyntax"
    assert "line 3" in issue.message and "column 11" in issue.message


def test_missing_path_and_non_object(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        load_documents(tmp_path / "nothing")
    (tmp_path / "x.json").write_text("[1]")
    with pytest.raises(ModelError) as caught:
        load_documents(tmp_path)
    assert caught.value.issues[0].rule == "notAnObject"


def test_smart_cities_fixtures_load_and_parse() -> None:
    docs = load_documents(FIXTURES / "smartcities")
    added = ModelRegistry().add(docs)
    by_id = {m.id: m for m in added}
    charge = by_id["dtmi:digitaltwins:ngsi_ld:city:chargeType;1"]
    assert charge.dtdl_version == 2
    assert charge.properties["chargeType"].schema.is_valid("annualPayment")
    assert not charge.properties["chargeType"].schema.is_valid("free beer")
    height = by_id["dtmi:digitaltwins:ngsi_ld:city:maximumAllowedHeight;1"]
    assert height.display_name == "MaximumAllowedHeight"
