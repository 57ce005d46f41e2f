"""File replay: recorded telemetry (CSV, or Parquet with pyarrow) through the one pipeline.

Two layouts:

- **wide**: a time column, a twin column (or one fixed ``twin``), one column per signal;
- **long**: one reading per row, columns twin, signal, time, value.

Rows are replayed at their recorded pace scaled by ``speed`` (2: twice as fast), timed by a
:class:`~holotwin.clock.Clock` and a ``sleep`` function, or as fast as possible with
``speed=0``. Each row is one :class:`~holotwin.ingest.source.RawMessage` (topic
``file.csv:17``: file and row number) so a bad row becomes a dead letter and the rest go on.
CSV cells are numbers when they parse as numbers, ``true``/``false`` booleans, otherwise text;
empty and ``NaN`` cells are missing values.

>>> import tempfile
>>> from holotwin.clock import ManualClock
>>> from holotwin.service import TwinService
>>> from holotwin.store import SqliteStore
>>> from holotwin.models import define_interface
>>> svc = TwinService(SqliteStore(":memory:"), ManualClock(0))
>>> _ = svc.add_models([define_interface("dtmi:ex:M;1", telemetry={"t": "double"})])
>>> _ = svc.put_twin("m1", {"$metadata": {"$model": "dtmi:ex:M;1"}})
>>> path = Path(tempfile.mkdtemp()) / "m1.csv"
>>> _ = path.write_text("time,t\\n2024-01-01T00:00:00Z,20.5\\n2024-01-01T00:00:10Z,21\\n")
>>> replay_file(svc, ReplayConfig("r", str(path), twin="m1"))
ReplayProgress(total=2, submitted=2, committed=2)
>>> [p.value for p in svc.telemetry_history("m1", "t", 0, 2e9)]
[20.5, 21.0]
>>> svc.close()
"""

from __future__ import annotations

import csv
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from holotwin.clock import SystemClock
from holotwin.errors import InvalidInputError
from holotwin.ingest.mapping import (
    TIME_FORMATS,
    UNIT_CONVERSIONS,
    MappingError,
    Reading,
    _parse_time,
)
from holotwin.ingest.source import RawMessage, Source, SourceError

if TYPE_CHECKING:
    from holotwin.ingest.pipeline import IngestPipeline
    from holotwin.service import TwinService

__all__ = ["ReplayConfig", "ReplayProgress", "ReplaySource", "replay_file"]

FORMATS = ("csv", "parquet")
LAYOUTS = ("wide", "long")
_MISSING_CELLS = frozenset({"", "nan", "NaN", "NAN"})


@dataclass(frozen=True)
class ReplayConfig:
    """One file to replay. ``speed``: 0 as fast as possible, else recorded time / speed.
    ``format`` defaults to the file's suffix. Wide layout: ``twin`` (fixed) or
    ``twin_column``; ``signals`` the signal columns (default: every other column). Long
    layout: ``twin_column``, ``signal_column``, ``value_column``. ``units``: signal -> unit
    of the file's values, converted per ``UNIT_CONVERSIONS``."""

    name: str
    path: str
    layout: str = "wide"
    format: str | None = None
    time_column: str = "time"
    time_format: str = "auto"
    twin: str | None = None
    twin_column: str | None = None
    signals: tuple[str, ...] | None = None
    signal_column: str = "signal"
    value_column: str = "value"
    units: Mapping[str, str] = field(default_factory=dict)
    speed: float = 0.0

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise InvalidInputError(f"layout must be wide or long, got {self.layout!r}")
        if self.file_format not in FORMATS:
            raise InvalidInputError(f"Cannot tell the format of {self.path}: give format = "
                                    "csv or parquet")
        if self.time_format not in TIME_FORMATS:
            raise InvalidInputError(f"time_format must be one of {', '.join(TIME_FORMATS)}, "
                                    f"got {self.time_format!r}")
        if self.layout == "wide" and (self.twin is None) == (self.twin_column is None):
            raise InvalidInputError("A wide replay needs either twin (a fixed twin id) or "
                                    "twin_column")
        if self.layout == "long" and self.twin is not None:
            raise InvalidInputError("A long replay names the twin in each row (twin_column)")
        if not (self.speed >= 0 and math.isfinite(self.speed)):
            raise InvalidInputError(f"speed must be 0 (as fast as possible) or positive, got "
                                    f"{self.speed}")
        for signal, unit in self.units.items():
            if unit not in UNIT_CONVERSIONS:
                raise InvalidInputError(f"Unknown unit {unit!r} for signal {signal!r}")

    @property
    def file_format(self) -> str:
        return self.format or Path(self.path).suffix.lower().lstrip(".")

    @property
    def twin_key(self) -> str:
        return self.twin_column or "twinId"


@dataclass
class ReplayProgress:
    """Rows in the file, handed to the pipeline, and committed (stored or dead-lettered)."""

    total: int = 0
    submitted: int = 0
    committed: int = 0


def _cell(value: object) -> object:
    """A cell as a value; ``_MISSING`` for an empty one."""
    if isinstance(value, str):
        text = value.strip()
        if text in _MISSING_CELLS:
            return _MISSING
        if text in ("true", "false"):
            return text == "true"
        try:
            number = float(text)
        except ValueError:
            return value
        if not math.isfinite(number):
            return value
        return int(number) if number.is_integer() and "." not in text and "e" not in \
            text.lower() else number
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _MISSING
    return value


_MISSING = object()


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Rows:
    """The rows of a file as dicts of column -> cell, and how many there are."""

    def __init__(self, config: ReplayConfig) -> None:
        self.config = config
        self.path = Path(config.path)
        if not self.path.is_file():
            raise SourceError(f"Replay '{config.name}': file {config.path} does not exist")
        if config.file_format == "parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise SourceError("Replaying Parquet files needs pyarrow: pip install "
                                  "'holotwin[replay]' (or pyarrow)") from exc
            self._parquet = pq.ParquetFile(self.path)
            self.total = int(self._parquet.metadata.num_rows)
            self.columns = list(self._parquet.schema_arrow.names)
        else:
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                self.columns = next(reader, [])
                self.total = sum(1 for _ in reader)
        needed = [config.time_column]
        if config.layout == "long":
            needed += [config.twin_key, config.signal_column, config.value_column]
        elif config.twin_column:
            needed.append(config.twin_column)
        needed += list(config.signals or ())
        missing = [c for c in needed if c not in self.columns]
        if missing:
            raise SourceError(f"Replay '{config.name}': {config.path} has no column "
                              f"{missing[0]!r} (columns: {', '.join(self.columns)})")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self.config.file_format == "parquet":
            for batch in self._parquet.iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield {k: _jsonable(v) for k, v in row.items()}
        else:
            with self.path.open(newline="", encoding="utf-8-sig") as f:
                yield from csv.DictReader(f)


class ReplaySource(Source):
    """Replays one file once when started (in a thread); ``progress`` says how far it is."""

    kind = "replay"

    def __init__(self, config: ReplayConfig, *, clock: Any = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(config.name, ())
        self.config = config
        self.progress = ReplayProgress()
        self._clock = clock
        self._sleep = sleep
        self._stopping = threading.Event()
        self._pipeline: IngestPipeline | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.finished = False

    @property
    def connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        return {**super().status(), "rowsTotal": self.progress.total,
                "rowsDone": self.progress.committed, "finished": self.finished}

    def start(self, pipeline: IngestPipeline) -> None:
        """Start replaying in a background thread (the file is checked first)."""
        _Rows(self.config)
        pipeline.attach(self)
        self._pipeline = pipeline
        self._thread = threading.Thread(target=self._run_thread, args=(pipeline,),
                                        name=f"holotwin-replay-{self.name}", daemon=True)
        self._thread.start()

    def _run_thread(self, pipeline: IngestPipeline) -> None:
        try:
            self.run(pipeline)
        except Exception as exc:  # noqa: BLE001 - report it in the status
            self.stats.error(str(exc), pipeline.clock.now())

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        if self._pipeline is not None:
            self._pipeline.detach(self)
            self._pipeline = None

    def run(self, pipeline: IngestPipeline,
            progress: Callable[[ReplayProgress], None] | None = None,
            every: int = 1000) -> ReplayProgress:
        """Replay the file now, in this thread, then write what is pending; ``progress`` is
        called every ``every`` rows and at the end."""
        cfg = self.config
        rows = _Rows(cfg)
        clock = self._clock or pipeline.clock
        stopping = self._stopping
        sleep = self._sleep or (lambda s: stopping.wait(s) and None)
        if self._clock is None and self._sleep is None and not isinstance(clock, SystemClock):
            # a manual clock would never reach the next row's time: move it instead
            advance = getattr(clock, "advance", None)
            if advance is not None:
                sleep = advance
        self.progress = ReplayProgress(total=rows.total)
        start = clock.now()
        first: float | None = None
        base = Path(cfg.path).name
        for number, row in enumerate(rows, start=2 if cfg.file_format == "csv" else 1):
            if stopping.is_set():
                break
            if cfg.speed > 0:
                t = self._row_time(row)
                if t is not None:
                    if first is None:
                        first = t
                    wait = start + (t - first) / cfg.speed - clock.now()
                    if wait > 0:
                        sleep(wait)
            pipeline.submit(RawMessage(self.name, f"{base}:{number}",
                                       json.dumps(row, default=str).encode(), clock.now(),
                                       self._committed))
            self.progress.submitted += 1
            pipeline.flush_due()
            if progress is not None and self.progress.submitted % every == 0:
                progress(self.progress)
        pipeline.flush()
        self.finished = True
        if progress is not None:
            progress(self.progress)
        return self.progress

    def _committed(self) -> None:
        with self._lock:
            self.progress.committed += 1

    def _row_time(self, row: Mapping[str, Any]) -> float | None:
        try:
            return self._time(row, "")
        except MappingError:
            return None

    def _time(self, row: Mapping[str, Any], where: str) -> float:
        raw = _cell(row.get(self.config.time_column))
        if raw is _MISSING:
            raise MappingError(f"{where}no time in column {self.config.time_column!r}")
        return _parse_time(raw, self.config.time_format,
                           f"{where}time in column {self.config.time_column!r}")

    def map(self, message: RawMessage, document: object) -> list[Reading]:
        """One row: a reading of its twin at its time."""
        cfg = self.config
        where = f"Row {message.topic}: "
        if not isinstance(document, dict):
            raise MappingError(f"{where}expected an object of column: value")
        time = self._time(document, where)
        if cfg.layout == "long":
            twin = document.get(cfg.twin_key)
            signal = document.get(cfg.signal_column)
            value = _cell(document.get(cfg.value_column))
            if not isinstance(signal, str) or not signal:
                raise MappingError(f"{where}no signal in column {cfg.signal_column!r}")
            if value is _MISSING:
                raise MappingError(f"{where}no value in column {cfg.value_column!r}")
            values = {signal: value}
        else:
            twin = cfg.twin if cfg.twin is not None else document.get(cfg.twin_key)
            skip = {cfg.time_column, cfg.twin_key}
            columns = cfg.signals or tuple(c for c in document if c not in skip)
            values = {}
            for column in columns:
                value = _cell(document.get(column))
                if value is not _MISSING:
                    values[column] = value
            if not values:
                raise MappingError(f"{where}no signal values")
        if not isinstance(twin, str) or not twin:
            raise MappingError(f"{where}no twin id in column {cfg.twin_key!r}")
        for signal, unit in cfg.units.items():
            if signal in values:
                value = values[signal]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise MappingError(f"{where}{signal} in {unit} must be a number, got "
                                       f"{value!r}")
                values[signal] = UNIT_CONVERSIONS[unit].apply(float(value))
        return [Reading(twin, values, time)]


def replay_file(target: IngestPipeline | TwinService, config: ReplayConfig, *,
                clock: Any = None, sleep: Callable[[float], None] | None = None,
                progress: Callable[[ReplayProgress], None] | None = None) -> ReplayProgress:
    """Replay a file through ``target``'s pipeline (one is made for a service) and return
    when everything is written. ``clock``/``sleep`` pace it (default: the pipeline's clock,
    waiting in real time; a manual clock is advanced instead)."""
    from holotwin.ingest.pipeline import IngestPipeline

    pipeline = target if isinstance(target, IngestPipeline) else IngestPipeline(target)
    source = ReplaySource(config, clock=clock, sleep=sleep)
    pipeline.attach(source)
    try:
        return source.run(pipeline, progress)
    finally:
        pipeline.detach(source)
