"""``holotwin ingest``: run only the ingestion of a connector file (no HTTP API).

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

__all__ = ["ingest"]

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
