"""File replay through the pipeline: CSV fixtures (wide and long), Parquet, pacing by a clock."""

from __future__ import annotations

import doctest
import shutil
import sys
import time
from pathlib import Path

import pytest

from holotwin.clock import ManualClock
from holotwin.errors import InvalidInputError
from holotwin.ingest import (
    ConnectorConfigError,
    Ingestion,
    IngestPipeline,
    PipelineSettings,
    ReplayConfig,
    ReplayProgress,
    ReplaySource,
    SourceError,
    parse_connectors,
    replay_file,
)
from holotwin.ingest import replay as replay_module
from holotwin.service import TwinService

DATA = Path(__file__).parent / "data"
WIDE = str(DATA / "replay_wide.csv")
LONG = str(DATA / "replay_long.csv")
T0 = 1_700_000_000.0


def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"replay slept {seconds} s in real time")
    monkeypatch.setattr(time, "sleep", refuse)


def test_wide_csv_as_fast_as_possible(plant: TwinService,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _no_sleep(monkeypatch)
    seen: list[tuple[int, int]] = []
    pipeline = IngestPipeline(plant, PipelineSettings(max_batch=100))
    start = plant.clock.now()
    done = replay_file(pipeline, ReplayConfig("hist", WIDE, twin_column="twinId"),
                       progress=lambda p: seen.append((p.submitted, p.total)))
    assert done == ReplayProgress(total=300, submitted=300, committed=300)
    assert seen == [(300, 300)]  # every 1000 rows, and at the end
    assert plant.clock.now() == start  # speed 0: the clock did not move
    assert pipeline.batches == 3
    temps = plant.telemetry_history("m1", "temperature", 0, 2e9)
    assert len(temps) == 147 and (temps[0].time, temps[0].value) == (T0, 20.0)
    assert plant.telemetry_history("m2", "state", 0, 2e9)[0].raw == "run"
    power = plant.telemetry_history("m2", "power", 0, 2e9)
    assert len(power) == 150 - 30 and power[0].time == T0 + 0.5  # empty cells skipped
    letters = {d.topic: (d.stage, d.reason) for d in plant.list_dead_letters()}
    assert set(letters) == {"replay_wide.csv:102", "replay_wide.csv:152", "replay_wide.csv:202"}
    assert letters["replay_wide.csv:102"] == ("validate", "Twin 'm9' does not exist")
    assert letters["replay_wide.csv:152"][0] == "map" and "not-a-time" in \
        letters["replay_wide.csv:152"][1]
    assert letters["replay_wide.csv:202"][0] == "validate"


def test_at_recorded_speed_paced_by_the_clock(service: TwinService,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import PLANT_MODELS, machine

    _no_sleep(monkeypatch)
    service.add_models(PLANT_MODELS)
    for twin in ("m1", "m2"):
        service.put_twin(twin, machine(twin))
    clock = service.clock
    assert isinstance(clock, ManualClock)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    start = clock.now()
    pipeline = IngestPipeline(service, PipelineSettings(max_batch=1000, max_delay=10.0))
    replay_file(pipeline, ReplayConfig("hist", WIDE, twin_column="twinId", speed=2.0),
                clock=clock, sleep=sleep)
    # 300 rows 0.5 s apart at twice the speed: 149.5 s of recording in 74.75 s
    assert clock.now() - start == pytest.approx(74.75)
    assert len(waits) == 298  # not before the first row, nor for the row without a time
    assert waits[0] == pytest.approx(0.25) and max(waits) == pytest.approx(0.5)
    events = service.read_events(kinds=["telemetry"])
    # each row's event was written after the clock reached the row (batches every 10 s)
    assert events[-1].time - start == pytest.approx(74.75)
    assert pipeline.batches > 1


def test_long_csv_and_bad_rows(plant: TwinService) -> None:
    done = replay_file(plant, ReplayConfig("long", LONG, layout="long", twin_column="twinId"))
    assert (done.total, done.committed) == (200, 200)
    letters = {d.topic: d.reason for d in plant.list_dead_letters()}
    assert set(letters) == {"replay_long.csv:52", "replay_long.csv:62"}
    assert "no value in column 'value'" in letters["replay_long.csv:52"]
    assert "no signal in column 'signal'" in letters["replay_long.csv:62"]
    temps = plant.telemetry_history("m1", "temperature", 0, 2e9)
    assert [(p.time, p.value) for p in temps[:2]] == [(T0, 0.0), (T0 + 2, 1.0)]
    assert len(plant.telemetry_history("m2", "power", 0, 2e9)) == 50


def test_units_and_a_fixed_twin(plant: TwinService, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("t,temperature,note\n1700000000000,212,x\n1700000001000,32,\n")
    replay_file(plant, ReplayConfig("f", str(path), twin="m1", time_column="t",
                                    time_format="ms", signals=("temperature",),
                                    units={"temperature": "degreeFahrenheit"}))
    temps = plant.telemetry_history("m1", "temperature", 0, 2e9)
    assert [(p.time, p.value) for p in temps] == [(T0, 100.0), (T0 + 1, 0.0)]
    assert plant.telemetry_history("m1", "note", 0, 2e9) == []


def test_parquet(plant: TwinService, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    from datetime import UTC, datetime

    import pyarrow.parquet as pq

    table = pa.table({
        "time": [datetime.fromtimestamp(T0 + i, UTC) for i in range(3)],
        "twinId": ["m1", "m2", "m1"],
        "temperature": [1.0, float("nan"), 3.0],
        "power": [10, 20, None],
    })
    path = tmp_path / "h.parquet"
    pq.write_table(table, path)
    done = replay_file(plant, ReplayConfig("pq", str(path), twin_column="twinId"))
    assert (done.total, done.committed) == (3, 3)
    assert [(p.time, p.value) for p in plant.telemetry_history("m1", "temperature", 0, 2e9)] \
        == [(T0, 1.0), (T0 + 2, 3.0)]
    assert [p.value for p in plant.telemetry_history("m2", "power", 0, 2e9)] == [20.0]
    assert plant.count_dead_letters() == 0


def test_parquet_without_pyarrow_is_a_clear_error(service: TwinService, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(SourceError, match="needs pyarrow"):
        replay_file(service, ReplayConfig("pq", str(path), twin="m1"))


def test_configuration_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="either twin"):
        ReplayConfig("r", WIDE)
    with pytest.raises(InvalidInputError, match="format"):
        ReplayConfig("r", "data.txt", twin="m1")
    with pytest.raises(InvalidInputError, match="speed"):
        ReplayConfig("r", WIDE, twin="m1", speed=-1)
    with pytest.raises(SourceError, match="no column 'temp'"):
        ReplaySource(ReplayConfig("r", WIDE, twin="m1", signals=("temp",))).run(
            IngestPipeline.__new__(IngestPipeline))


def test_replay_connector_from_toml(plant: TwinService, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    shutil.copy(WIDE, path)
    config = parse_connectors({"connector": [{
        "name": "history", "type": "replay", "path": str(path), "twin_column": "twinId",
        "speed": "max", "units": {"power": "kilowatt"}}]})
    [replay] = config.replay
    assert (replay.speed, replay.layout, dict(replay.units)) == (0.0, "wide",
                                                                 {"power": "kilowatt"})
    ingestion = Ingestion.from_config(plant, config)
    with ingestion:
        source = ingestion.sources[0]
        assert isinstance(source, ReplaySource)
        deadline = time.monotonic() + 10
        while not source.finished and time.monotonic() < deadline:
            time.sleep(0.01)
    status = source.status()
    assert (status["type"], status["rowsTotal"], status["rowsDone"]) == ("replay", 300, 300)
    assert status["written"] == 297 and status["deadLettered"] == 3
    assert plant.telemetry_history("m2", "power", 0, 2e9)[0].value == 101_000.0
    for bad, message in [({"speed": "fast"}, "key 'speed'"),
                         ({"path": str(tmp_path / "no.csv")}, "does not exist"),
                         ({"layout": "tall"}, "layout must be wide or long")]:
        with pytest.raises(ConnectorConfigError, match=message):
            parse_connectors({"connector": [{"name": "h", "type": "replay", "path": str(path),
                                             "twin_column": "twinId", **bad}]})


def test_doctests() -> None:
    assert doctest.testmod(replay_module).failed == 0


def test_the_replay_command_loads_a_file_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from holotwin.cli.main import cli
    from holotwin.store import SqliteStore
    from tests.conftest import PLANT_MODELS, machine

    data = tmp_path / "data"
    service = TwinService(SqliteStore(data / "holotwin.db"))
    service.add_models(PLANT_MODELS)
    service.put_twin("m1", machine("m1"))
    service.close()
    csv_file = tmp_path / "m1.csv"
    csv_file.write_text("time,temperature\n2024-01-01T00:00:00Z,68\n"
                        "2024-01-01T00:00:10Z,212\n2024-01-01T00:00:20Z,hot\n")
    runner = CliRunner()
    args = ["--data-dir", str(data), "replay", str(csv_file), "--twin", "m1",
            "--unit", "temperature=degreeFahrenheit"]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "Replayed 3 of 3 rows of m1.csv" in out.output
    assert "2 new readings, 1 rows dead-lettered" in out.output
    again = runner.invoke(cli, args)  # loading the same file twice doubles nothing
    assert again.exit_code == 0 and "0 new readings" in again.output, again.output
    service = TwinService(SqliteStore(data / "holotwin.db"))
    try:
        got = [(p.time, round(p.value or 0, 6))
               for p in service.telemetry_history("m1", "temperature", 0, 2e9)]
        assert got == [(1704067200.0, 20.0), (1704067210.0, 100.0)]
    finally:
        service.close()
    bad = runner.invoke(cli, ["--data-dir", str(data), "replay", str(tmp_path / "none.csv"),
                              "--twin", "m1"])
    assert bad.exit_code == 1 and "does not exist" in bad.output
    bad = runner.invoke(cli, ["--data-dir", str(data), "replay", str(csv_file), "--unit", "x"])
    assert bad.exit_code == 2 and "SIGNAL=UNIT" in bad.output
    bad = runner.invoke(cli, ["--data-dir", str(data), "replay", str(csv_file)])
    assert bad.exit_code == 1 and "twin" in bad.output
