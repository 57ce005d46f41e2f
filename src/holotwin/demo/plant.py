"""The demo plant: its DTDL models (shipped as JSON in ``demo/models/``) and its twins.

:func:`build_plant` is idempotent: on a data directory where the plant exists it reuses the
models, twins and relationships it finds and adds only what is missing (more lines or machines
than last time).

Twin ids: ``plant``, ``line-<L>``, ``machine-<L>-<M>`` (both counted from 1).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Any

from holotwin.errors import NotFoundError, PreconditionFailedError
from holotwin.service import TwinService

__all__ = [
    "LINE_MODEL",
    "MACHINE_MODEL",
    "PLANT_ID",
    "PLANT_MODEL",
    "LineLayout",
    "PlantLayout",
    "build_plant",
    "demo_battery_model",
    "demo_models",
    "line_id",
    "machine_id",
]

PLANT_MODEL = "dtmi:holotwin:demo:Plant;1"
LINE_MODEL = "dtmi:holotwin:demo:Line;1"
MACHINE_MODEL = "dtmi:holotwin:demo:Machine;1"
PLANT_ID = "plant"


def line_id(line: int) -> str:
    return f"line-{line}"


def machine_id(line: int, machine: int) -> str:
    return f"machine-{line}-{machine}"


def demo_battery_model() -> dict[str, Any]:
    """The demo's Battery interface (see :mod:`holotwin.demo.batteries`)."""
    folder = resources.files("holotwin.demo").joinpath("models")
    document: dict[str, Any] = json.loads(folder.joinpath("battery.json").read_text("utf-8"))
    return document


def demo_models() -> list[dict[str, Any]]:
    """The DTDL interfaces of the demo (Plant, Line, Machine), read from the package."""
    folder = resources.files("holotwin.demo").joinpath("models")
    documents: list[dict[str, Any]] = []
    for name in ("machine.json", "line.json", "plant.json"):
        documents.append(json.loads(folder.joinpath(name).read_text(encoding="utf-8")))
    return documents


@dataclass(frozen=True)
class LineLayout:
    id: str
    machine_ids: tuple[str, ...]


@dataclass(frozen=True)
class PlantLayout:
    """The twins of the demo plant, and how many of them this run created."""

    plant_id: str
    lines: tuple[LineLayout, ...]
    created: int = 0

    @property
    def machine_ids(self) -> list[str]:
        return [m for line in self.lines for m in line.machine_ids]


def _ensure_models(service: TwinService) -> None:
    missing = [d for d in demo_models() if service.registry.get(d["@id"]) is None]
    if missing:
        service.add_models(missing)


def _ensure_twin(service: TwinService, twin_id: str, body: dict[str, Any]) -> bool:
    """Create the twin unless it exists; True if it was created."""
    try:
        service.get_twin(twin_id)
        return False
    except NotFoundError:
        pass
    try:
        service.put_twin(twin_id, body, if_none_match="*")
    except PreconditionFailedError:  # someone else made it meanwhile
        return False
    return True


def _ensure_relationship(service: TwinService, source: str, name: str, target: str) -> None:
    rel_id = f"{source}-{name}-{target}"
    try:
        service.get_relationship(source, rel_id)
    except NotFoundError:
        service.put_relationship(source, rel_id, {"$relationshipName": name, "$targetId": target})


def _machine_body(line: int, machine: int, seed: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{machine_id(line, machine)}:nominal")
    return {
        "$metadata": {"$model": MACHINE_MODEL},
        "serial": f"HT-{line:02d}{machine:03d}",
        "status": "running",
        "speed": float(rng.randrange(50, 80, 5)),
        "partsProduced": 0,
        "runHours": 0.0,
    }


def build_plant(service: TwinService, lines: int = 1, machines_per_line: int = 4,
                seed: int = 7) -> PlantLayout:
    """Make sure the demo models and a plant of ``lines`` x ``machines_per_line`` machines
    exist; ``seed`` picks the machines' nominal speeds."""
    if lines < 1 or machines_per_line < 1:
        raise ValueError("The demo plant needs at least one line and one machine per line")
    _ensure_models(service)
    created = int(_ensure_twin(service, PLANT_ID, {"$metadata": {"$model": PLANT_MODEL},
                                                   "name": "Demo plant"}))
    layout: list[LineLayout] = []
    for n in range(1, lines + 1):
        lid = line_id(n)
        created += _ensure_twin(service, lid, {"$metadata": {"$model": LINE_MODEL},
                                               "name": f"Line {n}", "throughput": 0.0})
        _ensure_relationship(service, PLANT_ID, "hasLine", lid)
        machines: list[str] = []
        for m in range(1, machines_per_line + 1):
            mid = machine_id(n, m)
            created += _ensure_twin(service, mid, _machine_body(n, m, seed))
            _ensure_relationship(service, lid, "hasMachine", mid)
            machines.append(mid)
        layout.append(LineLayout(lid, tuple(machines)))
    return PlantLayout(PLANT_ID, tuple(layout), created)
