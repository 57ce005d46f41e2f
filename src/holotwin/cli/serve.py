"""``holotwin serve`` and ``holotwin demo``: the commands that run the API."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from holotwin.cli.context import CliContext, CliError, RefusedOptionsError
from holotwin.cli.output import console

__all__ = ["demo", "ensure_port_free", "serve"]

DEFAULT_PORT = 8473
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def ensure_port_free(host: str, port: int, hint: str) -> None:
    """Fail with a clear message now, rather than from inside the server, if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CliError(f"Cannot listen on {host} port {port}: {reason}. {hint}") from None


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (docker stop, systemd, kill) stop the demo as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --auth.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--auth/--no-auth", default=False, show_default=True,
              help="Require an API key on every request (see 'holotwin keys').")
@click.option("--max-body", type=click.IntRange(min=1), default=4 * 1024 * 1024,
              show_default=True, metavar="BYTES", help="Largest request body accepted.")
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="info", show_default=True)
@click.option("--connectors", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="TOML file of ingestion connectors (MQTT) to run; see "
                                   "docs/ingestion.md.")
@click.option("--analytics/--no-analytics", default=True, show_default=True,
              help="Run the anomaly detectors and rules and deliver alerts. Of the servers "
                   "on one store one does, holding a lease in the store; the others stand "
                   "by and take over when it stops (--no-analytics: never).")
@click.pass_obj
def serve(obj: CliContext, host: str, port: int, auth: bool, max_body: int,
          log_level: str, connectors: Path | None, analytics: bool) -> None:
    """Run the REST API (Ctrl-C stops it).

    The API is compatible with Azure Digital Twins (/models, /digitaltwins, /query) and adds
    telemetry history and a change feed (/events). Its documentation is served at /docs.
    """
    from holotwin.api.deps import ApiSettings
    from holotwin.api.server import UnsafeBindError, check_bind, run_server
    from holotwin.service import ApiKeys

    settings = ApiSettings(auth=auth, max_body=max_body)
    try:
        check_bind(host, settings)
    except UnsafeBindError as exc:
        raise RefusedOptionsError(exc.message) from None
    config = None
    if connectors is not None:
        from holotwin.ingest import load_connectors

        config = load_connectors(connectors)  # fails before anything starts
    ensure_port_free(host, port, "Is another holotwin running? Choose a port with --port.")
    service = obj.open_service()
    try:
        ingestion = None
        if config is not None:
            from holotwin.ingest import Ingestion

            ingestion = Ingestion.from_config(service, config)
        url = base_url(host, port)
        click.echo(f"holotwin API on {url} (data: {obj.location})")
        click.echo(f"  docs     {url}/docs")
        click.echo(f"  twins    {url}/digitaltwins")
        click.echo(f"  changes  curl -N -H 'Accept: text/event-stream' {url}/events")
        if analytics:
            click.echo(f"  alerts   {url}/alerts?state=open (rules: {url}/rules)")
        if ingestion is not None:
            names = ", ".join(s.name for s in ingestion.sources) or "none"
            click.echo(f"  ingest   {url}/ingest/connectors (connectors: {names})")
        if auth:
            click.echo("  auth     on: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
            if not ApiKeys(service.store).list():
                click.echo("Warning: no API keys exist yet; create one with "
                           "'holotwin keys create NAME --scope write'.", err=True)
        click.echo("Press Ctrl-C to stop.")
        try:
            run_server(service, host, port, settings, log_level, ingestion=ingestion,
                       analytics=analytics)
        except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
            pass
        click.echo("Server stopped.")
    finally:
        service.close()


def _desktop() -> bool:
    """Whether a browser window would reach the user: a terminal on a desktop session."""
    if not sys.stdout.isatty():
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port of the API on 127.0.0.1.")
@click.option("--twins", "machines", type=click.IntRange(1, 1000), default=4, show_default=True,
              metavar="N", help="Machines per production line.")
@click.option("--lines", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Production lines.")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=1.0, show_default=True,
              metavar="SECONDS", help="Time between two readings of each machine.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), default=None,
              metavar="SECONDS", help="Stop after this long (default: run until Ctrl-C).")
@click.option("--server/--no-server", default=True, show_default=True,
              help="Start the API (--no-server only feeds the store).")
@click.option("--seed", type=int, default=7, show_default=True,
              help="Seed of the simulation's random numbers.")
@click.option("--mqtt", "broker", default=None, metavar="HOST:PORT",
              help="Run the machines as MQTT devices on this broker; holotwin ingests their "
                   "telemetry and reports and sends desired speeds back over it.")
@click.option("--mqtt-prefix", default="holotwin-demo", show_default=True, metavar="TOPIC",
              help="First level(s) of the devices' topics (with --mqtt).")
@click.option("--what-if/--no-what-if", "what_if", default=True, show_default=True,
              help="Simulate maintenance of the first line's bottleneck now or at the next "
                   "shift, and its best slot, once the demo has some history.")
@click.option("--what-if-after", type=click.FloatRange(0), default=20.0, show_default=True,
              metavar="SECONDS", help="Seconds of demo before the what-if starts.")
@click.option("--fault/--no-fault", "fault", default=True, show_default=True,
              help="Inject a fault: a bearing of the first line's second machine wears until "
                   "it trips, raising alerts on the way.")
@click.option("--fault-after", type=click.FloatRange(0), default=40.0, show_default=True,
              metavar="SECONDS", help="Seconds of demo before the bearing starts to wear.")
@click.option("--open/--no-open", "open_browser", default=None,
              help="Open the dashboard in a web browser (default: when run in a terminal of "
                   "a desktop session).")
@click.pass_obj
def demo(obj: CliContext, port: int, machines: int, lines: int, interval: float,
         duration: float | None, server: bool, seed: int, broker: str | None,
         mqtt_prefix: str, what_if: bool, what_if_after: float, fault: bool,
         fault_after: float, open_browser: bool | None) -> None:
    """Run a live plant: simulated machines feeding their twins.

    Builds a plant (lines of machines) in the data directory, or reuses the one there, starts
    the API and the dashboard (http://127.0.0.1:8473/ui/) and simulates the machines: telemetry (temperature, vibration, power) every
    interval, property updates (parts produced, run hours, status) every few. Set a machine's
    desired speed through the API and watch it follow. Ctrl-C stops it.

    With --mqtt the machines publish to <prefix>/<line>/<machine>/telemetry and /reported and
    take desired speeds from /desired, all through the broker.

    After --what-if-after seconds a what-if runs in the background (shown below the machines
    and kept at /scenarios): the first line over the next two hours as it is, with its
    bottleneck maintained now, or at the next shift, and the best slot for it.

    After --fault-after seconds a bearing of the first line's second machine starts to wear:
    the vibration detector flags it, the rules raise alerts (at /alerts), the machine trips
    and is repaired, and the machine's and line's availability and OEE show the cost.
    """
    from holotwin.demo import DemoOptions, run_demo
    from holotwin.errors import InvalidInputError

    if broker is not None:
        from holotwin.demo.broker import parse_broker

        try:
            parse_broker(broker)
        except InvalidInputError as exc:
            raise click.BadParameter(exc.message, param_hint="--mqtt") from None

    if server:
        ensure_port_free("127.0.0.1", port,
                         "Choose another port with --port, or use --no-server to feed a "
                         "'holotwin serve' already running on this data directory.")
    options = DemoOptions(port=port, machines_per_line=machines, lines=lines, interval=interval,
                          duration=duration, server=server, seed=seed, mqtt=broker,
                          mqtt_prefix=mqtt_prefix,
                          whatif_after=what_if_after if what_if else None,
                          fault_after=fault_after if fault else None,
                          open_browser=server and (_desktop() if open_browser is None
                                                   else open_browser))
    service = obj.open_service()
    try:
        with _terminate_as_interrupt():
            run_demo(service, options, console(), location=obj.location)
    finally:
        service.close()
