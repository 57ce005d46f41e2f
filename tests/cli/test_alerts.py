"""``holotwin rules``, ``detectors``, ``alerts``: documents in, alerts listed and changed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from holotwin.cli.main import cli
from holotwin.clock import ManualClock
from holotwin.service import TwinService
from holotwin.service.analytics import AnalyticsEngine
from holotwin.store import SqliteStore

OVEN = "dtmi:test:Oven;1"


def test_rules_and_alerts_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = TwinService(SqliteStore(data / "holotwin.db"), ManualClock(1_700_000_000.0))
    service.add_models([{"@id": OVEN, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                         "contents": [{"@type": "Telemetry", "name": "temperature",
                                       "schema": "double"}]}])
    service.put_twin("oven-1", {"$metadata": {"$model": OVEN}})
    service.close()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> str:
        result = runner.invoke(cli, ["--data-dir", str(data), *args], input=input)
        assert result.exit_code == 0, result.output
        return result.output

    (tmp_path / "hot.json").write_text(json.dumps(
        {"condition": "temperature > 80", "model": OVEN, "severity": "critical"}))
    assert json.loads(run("rules", "put", "hot", str(tmp_path / "hot.json")))["id"] == "hot"
    run("detectors", "put", "temp", "-", input=json.dumps(
        {"signal": "temperature", "twins": ["oven-1"], "detector": {"kind": "cusum"}}))
    assert "temperature > 80" in run("rules", "list")
    assert "cusum" in run("detectors", "list")
    # bad input: a precise message, exit code 1, nothing stored
    (tmp_path / "bad.json").write_text(json.dumps({"condition": "open('x')", "model": OVEN}))
    bad = runner.invoke(cli, ["--data-dir", str(data), "rules", "put", "bad",
                              str(tmp_path / "bad.json")])
    assert bad.exit_code == 1 and "calls 'open'" in bad.output
    broken = runner.invoke(cli, ["--data-dir", str(data), "rules", "put", "x", "-"],
                           input="{nope")
    assert broken.exit_code == 1 and "is not JSON: line 1" in broken.output

    service = TwinService(SqliteStore(data / "holotwin.db"), ManualClock(1_700_000_000.0))
    for k, value in enumerate([70.0, 90.0]):
        service.publish_telemetry("oven-1", {"temperature": value},
                                  source_time=1_700_000_000.0 + k)
    AnalyticsEngine(service).run_once()
    [alert] = service.list_alerts()
    service.close()
    assert alert["id"] in run("alerts", "list", "--state", "open")
    assert "is acknowledged" in run("alerts", "ack", alert["id"], "--by", "ann")
    assert "is cleared" in run("alerts", "clear", alert["id"], "--note", "fixed")
    listed = json.loads(run("alerts", "list", "--json"))
    assert listed[0]["state"] == "cleared" and listed[0]["note"] == "fixed"
    assert "No alerts." in run("alerts", "list", "--state", "open")
    missing = runner.invoke(cli, ["--data-dir", str(data), "alerts", "ack", "nope"])
    assert missing.exit_code == 1 and "nope" in missing.output
    run("rules", "delete", "hot")
    assert "No rules." in run("rules", "list")
