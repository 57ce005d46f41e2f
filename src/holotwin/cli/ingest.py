"""``holotwin ingest``: run only the ingestion of a connector file (no HTTP API);
``holotwin replay``: one recorded file through the same pipeline.

The store, one pipeline and the configured sources, as ``holotwin serve --connectors`` runs
them, without the API: for an ingestion-only process next to API replicas, and for the fault
tests and ``bench/ingest.py``. Progress goes to stdout every few seconds; Ctrl-C or SIGTERM
stops the sources, writes what is pending and prints a summary.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from holotwin.cli.context import CliContext

if TYPE_CHECKING:
    from holotwin.ingest import Ingestion

__all__ = ["ingest", "replay"]

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_TICK = 0.05  # seconds between checks of the stop flag and the connection state


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn Ctrl-C (SIGINT) and SIGTERM into ``stop.set()`` while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _totals(ingestion: Ingestion) -> tuple[int, int, int, int]:
    """Messages received, written, dead-lettered (all sources); new readings stored."""
    received = written = lettered = 0
    for source in ingestion.sources:
        stats = source.stats.as_dict()
        received += stats["received"]
        written += stats["written"]
        lettered += stats["deadLettered"]
    return received, written, lettered, ingestion.pipeline.readings


def _line(ingestion: Ingestion, elapsed: float, last: tuple[int, int, int, int] | None,
          since: float) -> str:
    received, written, lettered, readings = _totals(ingestion)
    text = (f"[{elapsed:7.1f} s] messages received {received:,}, written {written:,}, "
            f"dead letters {lettered:,}; readings stored {readings:,}")
    if last is not None and since > 0:
        rate = (written + lettered - last[1] - last[2]) / since
        text += f" ({rate:,.0f} messages/s)"
    pending = ingestion.pipeline.pending
    if pending:
        text += f"; pending {pending:,}"
    down = [s.name for s in ingestion.sources if not s.connected]
    if down:
        text += f"; not connected: {', '.join(down)}"
    return text


@click.command()
@click.option("--connectors", type=click.Path(dir_okay=False, path_type=Path), required=True,
              metavar="FILE", help="TOML file of ingestion connectors; see docs/ingestion.md.")
@click.option("--progress", type=click.FloatRange(0), default=5.0, show_default=True,
              metavar="SECONDS", help="Print progress this often (0: only the summary).")
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="warning",
              show_default=True, help="Level of the log on stderr (reconnects are warnings).")
@click.pass_obj
def ingest(obj: CliContext, connectors: Path, progress: float, log_level: str) -> None:
    """Run only the ingestion connectors of FILE (no API) until Ctrl-C or SIGTERM.

    Messages are acknowledged to the broker only once committed, so a process that is killed
    loses nothing: restarted with the same client ids, it gets what was not acknowledged.
    """
    from holotwin.ingest import Ingestion, load_connectors

    config = load_connectors(connectors)  # fails before anything starts
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = obj.open_service()
    stop = threading.Event()
    try:
        ingestion = Ingestion.from_config(service, config)
        names = ", ".join(s.name for s in ingestion.sources) or "none"
        click.echo(f"holotwin ingest (data: {obj.location}; connectors: {names})")
        with _stop_on_signals(stop):
            started = time.monotonic()
            ingestion.start()
            try:
                _watch(ingestion, stop, started, progress)
            finally:
                ingestion.stop()
        received, written, lettered, readings = _totals(ingestion)
        click.echo(f"Stopped after {time.monotonic() - started:.1f} s: messages received "
                   f"{received:,}, written {written:,}, dead letters {lettered:,}; "
                   f"readings stored {readings:,}.")
    finally:
        service.close()


def _watch(ingestion: Ingestion, stop: threading.Event, started: float,
           progress: float) -> None:
    """Report connection changes and progress until ``stop`` is set."""
    was_connected = False
    last: tuple[int, int, int, int] | None = None
    last_time = started
    while not stop.wait(_TICK):
        now = time.monotonic()
        connected = all(s.connected for s in ingestion.sources)
        if connected and not was_connected:
            click.echo(f"Connected: {', '.join(s.name for s in ingestion.sources) or 'none'}.")
        was_connected = connected
        if progress > 0 and now - last_time >= progress:
            click.echo(_line(ingestion, now - started, last, now - last_time))
            last, last_time = _totals(ingestion), now


def _units(values: tuple[str, ...]) -> dict[str, str]:
    units = {}
    for item in values:
        signal, sep, unit = item.partition("=")
        if not sep or not signal or not unit:
            raise click.BadParameter(f"expected SIGNAL=UNIT, got {item!r}", param_hint="--unit")
        units[signal] = unit
    return units


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--twin", metavar="ID", help="Wide layout: every row is this twin's.")
@click.option("--twin-column", metavar="COLUMN",
              help="The column naming each row's twin (default for long layout: twinId).")
@click.option("--layout", type=click.Choice(["wide", "long"]), default="wide", show_default=True,
              help="wide: a column per signal; long: twin, signal, time, value per row.")
@click.option("--time-column", default="time", show_default=True, metavar="COLUMN")
@click.option("--time-format", type=click.Choice(["auto", "iso", "s", "ms"]), default="auto",
              show_default=True, help="auto: ISO 8601 text, or epoch seconds/milliseconds.")
@click.option("--signal", "signals", multiple=True, metavar="COLUMN",
              help="Wide layout: a signal column (repeat; default every other column).")
@click.option("--unit", "units", multiple=True, metavar="SIGNAL=UNIT",
              help="The unit of a signal in the file, converted on the way in (repeat).")
@click.option("--speed", type=click.FloatRange(0), default=0.0, show_default=True,
              help="0: as fast as possible; 1: at the recorded pace; 10: ten times faster.")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet"]),
              help="Default: from the file's suffix.")
@click.pass_obj
def replay(obj: CliContext, file: Path, twin: str | None, twin_column: str | None, layout: str,
           time_column: str, time_format: str, signals: tuple[str, ...],
           units: tuple[str, ...], speed: float, file_format: str | None) -> None:
    """Replay recorded telemetry from FILE (CSV or Parquet) through the ingestion pipeline:
    the same validation, de-duplication and dead letters as live data, so a file can be
    loaded twice without doubling anything.

    \b
      holotwin replay pump-1.csv --twin pump-1
      holotwin replay plant.parquet --layout long --speed 60
    """
    from holotwin.ingest import IngestPipeline
    from holotwin.ingest.replay import ReplayConfig, ReplayProgress, replay_file

    config = ReplayConfig(
        name="replay", path=str(file), layout=layout, format=file_format,
        time_column=time_column, time_format=time_format, twin=twin, twin_column=twin_column,
        signals=signals or None, units=_units(units), speed=speed)
    service = obj.open_service()
    stop = threading.Event()
    started = time.monotonic()
    shown = [started]

    def show(p: ReplayProgress) -> None:
        now = time.monotonic()
        if now - shown[0] >= 1.0 or p.submitted == p.total:
            shown[0] = now
            click.echo(f"[{now - started:6.1f} s] rows {p.submitted:,} of {p.total:,} "
                       f"submitted, {p.committed:,} committed")

    try:
        pipeline = IngestPipeline(service)
        dead_before = service.count_dead_letters()
        with _stop_on_signals(stop):
            done = replay_file(pipeline, config, progress=show)
        dead = service.count_dead_letters() - dead_before
        elapsed = time.monotonic() - started
        click.echo(f"Replayed {done.committed:,} of {done.total:,} rows of {file.name} in "
                   f"{elapsed:.1f} s: {pipeline.readings:,} new readings, {dead:,} rows "
                   f"dead-lettered (see 'holotwin deadletters list').")
    finally:
        service.close()
