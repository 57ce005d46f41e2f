"""The Smart Cities ontology (63 interfaces): load it all, create a few twins, query them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from holotwin.models import load_documents
from holotwin.service import TwinService

ONTOLOGY = Path(os.environ.get(
    "HOLOTWIN_DTDL_ONTOLOGY", "/work/shared/data/dtdl/ontology-smartcities/Ontology"))
CITY = "dtmi:digitaltwins:ngsi_ld:city:"
BASE = f"{CITY}NGSILDBaseModel;1"
LIGHT = f"{CITY}Streetlight;1"
CABINET = f"{CITY}StreetlightControlCabinet;1"
LAMP_MODEL = f"{CITY}StreetlightModel;1"


def test_smart_cities_twins_are_queryable(any_service: TwinService) -> None:
    if not ONTOLOGY.is_dir():
        pytest.skip(f"no Smart Cities ontology at {ONTOLOGY} (set HOLOTWIN_DTDL_ONTOLOGY)")
    documents = load_documents(ONTOLOGY)
    assert len(documents) == 63
    svc = any_service
    svc.add_models(documents)
    svc.put_twin("cab-1", {"$metadata": {"$model": CABINET}, "serialNumber": "CC-1",
                           "brandName": "Acme"})
    svc.put_twin("lm-1", {"$metadata": {"$model": LAMP_MODEL}, "maxPowerConsumption": 120.0,
                          "columnBrandName": "Lumo"})
    for i in range(3):
        svc.put_twin(f"sl-{i}", {"$metadata": {"$model": LIGHT}, "circuit": f"C{i % 2}"})
        svc.put_relationship(f"sl-{i}", "cabinet", {
            "$relationshipName": "refStreetlightControlCabinet", "$targetId": "cab-1"})
        svc.put_relationship(f"sl-{i}", "model", {
            "$relationshipName": "refStreetlightModel", "$targetId": "lm-1"})

    def ids(text: str) -> list[str]:
        return [r["$dtId"] for r in svc.query(text)[0]]

    assert ids(f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{BASE}')") == [
        "cab-1", "lm-1", "sl-0", "sl-1", "sl-2"]
    assert ids(f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{LIGHT}') "
               "AND T.circuit = 'C0'") == ["sl-0", "sl-2"]
    assert ids("SELECT * FROM DIGITALTWINS T WHERE T.maxPowerConsumption > 100") == ["lm-1"]
    rows, _ = svc.query(
        "SELECT L.$dtId AS light, C.serialNumber AS cabinet, M.columnBrandName AS brand "
        "FROM DIGITALTWINS L JOIN C RELATED L.refStreetlightControlCabinet "
        "JOIN M RELATED L.refStreetlightModel WHERE L.circuit = 'C1'")
    assert rows == [{"light": "sl-1", "cabinet": "CC-1", "brand": "Lumo"}]
    rows, _ = svc.query(
        "SELECT l.$dtId AS light FROM DIGITALTWINS MATCH (l)-[:refStreetlightControlCabinet]->"
        f"(c) WHERE c.$dtId = 'cab-1' AND IS_OF_MODEL(l, '{LIGHT}', exact)")
    assert [r["light"] for r in rows] == ["sl-0", "sl-1", "sl-2"]
