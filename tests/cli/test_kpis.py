"""``holotwin twins kpis``: a line's KPIs as a table and as JSON, windows and bad options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from holotwin.cli.main import cli
from holotwin.clock import ManualClock, to_iso
from holotwin.demo.plant import build_plant
from holotwin.service import TwinService
from holotwin.store import SqliteStore

C0 = 1_700_000_000.0


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A line of two machines; machine-1-1 in a fault from 600 to 1200 s of the first hour,
    with 1,500 parts made in it (reported as a property, 60 parts/min ideal)."""
    folder = tmp_path / "data"
    clock = ManualClock(C0)
    service = TwinService(SqliteStore(folder / "holotwin.db"), clock)
    build_plant(service, lines=1, machines_per_line=2)
    for twin in ("machine-1-1", "machine-1-2"):
        service.patch_twin(twin, [{"op": "replace", "path": "/speed", "value": 60.0}])
    for at, ops in ((600, {"status": "fault"}), (1200, {"status": "running"}),
                    (3000, {"partsProduced": 1500})):
        clock.set(C0 + at)
        service.patch_twin("machine-1-1", [{"op": "replace", "path": f"/{k}", "value": v}
                                           for k, v in ops.items()])
    service.close()
    return folder


def _run(data: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "twins", "kpis", *args])
    return result.exit_code, result.stdout, result.stderr


def test_kpis_as_json(data: Path) -> None:
    code, out, _ = _run(data, "line-1", "--start", to_iso(C0), "--end", to_iso(C0 + 3600),
                        "--json")
    assert code == 0, out
    doc = json.loads(out)
    m1 = doc["children"][0]
    assert m1["twinId"] == "machine-1-1"
    assert m1["kpis"]["availability"] == pytest.approx(3000 / 3600)
    assert m1["kpis"]["total"] == 1500.0
    assert m1["kpis"]["performance"] == pytest.approx(1500 / 3000)
    assert doc["kpis"]["availability"] == pytest.approx(6600 / 7200)


def test_kpis_as_a_table(data: Path) -> None:
    code, out, _ = _run(data, "line-1", "--end", str(C0 + 3600), "--since", "1h")
    assert code == 0, out
    assert out.splitlines()[0] == f"{to_iso(C0)} to {to_iso(C0 + 3600)}"
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert rows["line-1"][1] == "91.7%"  # the line: 6,600 of 7,200 s
    assert rows["machine-1-1"][1:5] == ["83.3%", "50.0%", "100.0%", "41.7%"]
    assert rows["machine-1-1"][7:9] == ["1", "1,500"]  # failures, parts
    assert "  machine-1-2" in out  # indented below its line
    assert "machine-1-1: Quality taken as 1" in out
    # a shorter window: the last 30 minutes (no fault in them)
    code, out, _ = _run(data, "machine-1-1", "--end", to_iso(C0 + 3600), "--since", "30m",
                        "--depth", "0")
    assert code == 0 and "100.0%" in out.splitlines()[3]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["line-1", "--since", "soon"], 2, "'soon' is not a duration"),
    (["line-1", "--since", "0h"], 2, "is not a duration"),
    (["line-1", "--start", "tomorrow"], 2, "'tomorrow' is not an ISO 8601 time"),
    (["line-1", "--depth", "11"], 2, "11 is not in the range 0<=x<=10"),
    (["nope", "--json"], 1, "Error: Twin 'nope' was not found"),
    (["line-1", "--start", to_iso(C0 + 10), "--end", to_iso(C0)], 1, "must be after 'start'"),
])
def test_bad_options(data: Path, args: list[str], code: int, message: str) -> None:
    exit_code, _, err = _run(data, *args)
    assert exit_code == code and message in err
