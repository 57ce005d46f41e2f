"""``holotwin scenarios``: create (and run, with progress), list, compare, delete."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from holotwin.cli.main import cli
from holotwin.clock import ManualClock
from holotwin.demo.batteries import BatteryFleet
from holotwin.demo.plant import build_plant
from holotwin.service import TwinService
from holotwin.service.tracker import BehaviorTracker
from holotwin.store import SqliteStore


def test_scenarios_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = ManualClock(1_700_000_000.0)
    service = TwinService(SqliteStore(data / "holotwin.db"), clock)
    layout = build_plant(service, lines=1, machines_per_line=2)
    packs = BatteryFleet(service, [line.id for line in layout.lines])
    packs.start()
    tracker = BehaviorTracker(service)
    for _ in range(30):
        clock.advance(1.0)
        packs.tick()
    tracker.run_once()
    service.close()
    spec = {"name": "line 1 as is", "subgraph": {"root": "line-1", "depth": 1},
            "horizon": 3600, "dt": 5, "samples": 50, "seed": 1}
    (tmp_path / "base.json").write_text(json.dumps(spec))
    (tmp_path / "heavy.json").write_text(json.dumps(
        {**spec, "name": "pack at 4 A", "overrides": {"battery-1": {"load": {"values": [[4.0]]}}}}))
    runner = CliRunner()
    base = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "create",
                               str(tmp_path / "base.json"), "--json"])
    assert base.exit_code == 0, base.output
    doc = json.loads(base.stdout)
    assert doc["status"] == "done" and set(doc["results"]) == {"battery-1"}
    assert set(doc["notSimulated"]) == {"plant", "line-1", "machine-1-1", "machine-1-2"}
    heavy = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "create",
                                str(tmp_path / "heavy.json")])
    assert heavy.exit_code == 0 and "battery-1" in heavy.stdout and "EOD" in heavy.stdout
    assert "100.0% simulated" in heavy.output
    listed = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "list"])
    assert "line 1 as is" in listed.stdout and "pack at 4 A" in listed.stdout
    ids = [line.split()[0] for line in listed.stdout.splitlines() if "done" in line]
    assert len(ids) == 2
    first = doc["id"]
    second = next(i for i in ids if i != first)
    compared = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "compare", first,
                                   second])
    assert compared.exit_code == 0 and "pack at 4 A" in compared.stdout
    assert "-" in compared.stdout.split("pack at 4 A")[1]  # empties sooner than the baseline
    gone = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "delete", second])
    assert gone.exit_code == 0
    missing = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "show", second])
    assert missing.exit_code == 1 and "scenario" in missing.output.lower()
    (tmp_path / "bad.json").write_text("{nope")
    bad = runner.invoke(cli, ["--data-dir", str(data), "scenarios", "create",
                              str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and "is not JSON" in bad.output


def test_line_scenarios_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = TwinService(SqliteStore(data / "holotwin.db"), ManualClock(1_700_000_000.0))
    build_plant(service, lines=1, machines_per_line=3)
    for k, speed in enumerate((6.0, 4.0, 6.0), start=1):  # 10 s, 15 s, 10 s a part
        service.patch_twin(f"machine-1-{k}", [{"op": "replace", "path": "/speed",
                                               "value": speed}])
    service.close()
    spec = {"kind": "line", "name": "line as is", "line": "line-1", "horizon": 7200,
            "replications": 2, "seed": 3}
    (tmp_path / "base.json").write_text(json.dumps(spec))
    (tmp_path / "stop.json").write_text(json.dumps({**spec, "name": "stop 1-2", "overrides": {
        "maintenance": [{"station": "machine-1-2", "start": 0, "duration": 1800}]}}))
    runner = CliRunner()
    args = ["--data-dir", str(data), "--executor", "inline", "scenarios"]
    base = runner.invoke(cli, [*args, "create", str(tmp_path / "base.json")])
    assert base.exit_code == 0, base.output
    # 2 h at 240 parts/h, less the 25 s before the first part leaves the empty line
    assert "good 478 ± 0" in base.stdout and "bottleneck machine-1-2" in base.stdout
    assert "100.0% simulated" in base.output
    stop = runner.invoke(cli, [*args, "create", str(tmp_path / "stop.json"), "--json"])
    doc = json.loads(stop.stdout)
    lost = 478 - doc["kpis"]["good"]["mean"]
    assert abs(lost - 120) <= 1  # half an hour of the bottleneck (its start-up overlaps)
    listed = runner.invoke(cli, [*args, "list"])
    ids = [line.split()[0] for line in listed.stdout.splitlines() if "done" in line]
    assert "line" in listed.stdout and len(ids) == 2
    first = next(i for i in ids if i != doc["id"])
    compared = runner.invoke(cli, [*args, "compare", first, doc["id"]])
    assert compared.exit_code == 0, compared.output
    assert f"{-lost:+,.0f} ({-lost:+,.0f} to {-lost:+,.0f})" in compared.stdout
    bad = runner.invoke(cli, [*args, "create", str(tmp_path / "nope.json")])
    assert bad.exit_code == 1 and "Cannot read" in bad.output


def test_optimize_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = TwinService(SqliteStore(data / "holotwin.db"), ManualClock(1_700_000_000.0))
    build_plant(service, lines=1, machines_per_line=2)
    service.close()
    search = {"name": "buffer", "scenario": {
        "kind": "line", "line": "line-1", "horizon": 28800, "seed": 2, "replications": 2,
        "defaults": {"cycleTime": 20, "cycleCv": 0.5, "mtbf": 3600, "mttr": 600},
        "overrides": {"buffers": [2]}},
        "knobs": [{"path": "/overrides/buffers/0", "low": 0, "high": 4, "integer": True}],
        "objective": {"kpi": "/good/mean"}, "top": 2}
    (tmp_path / "opt.json").write_text(json.dumps(search))
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "--executor", "local:2",
                                      "scenarios", "optimize", str(tmp_path / "opt.json")])
    assert result.exit_code == 0, result.output
    assert "5 candidates evaluated (grid" in result.stdout and "100.0% simulated" in result.output
    rows = [line for line in result.stdout.splitlines() if line.strip().startswith("1 ")]
    assert rows and rows[0].split()[1] == "4"  # the biggest buffer pays most on this line
    assert "holotwin scenarios compare" in result.stdout
