"""The ``holotwin`` command: global options, the command groups, and error handling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from holotwin import __version__
from holotwin.cli.alerts import alerts, detectors, rules
from holotwin.cli.context import CliContext, CliError
from holotwin.cli.deadletters import deadletters
from holotwin.cli.ingest import ingest, replay
from holotwin.cli.keys import keys
from holotwin.cli.models import models
from holotwin.cli.scenarios import scenarios
from holotwin.cli.serve import demo, serve
from holotwin.cli.twins import twins
from holotwin.errors import HolotwinError

__all__ = ["cli", "main"]

EPILOG = """\b
Examples:
  holotwin demo                          a live plant; open http://127.0.0.1:8473/docs
  holotwin serve --port 8080             serve the API of ./holotwin-data
  holotwin models import ./models        import DTDL files
  holotwin twins list --model 'dtmi:holotwin:demo:Machine;1'
  holotwin twins get machine-1-1
  holotwin keys create ci --scope write
  holotwin serve --connectors connectors.toml   ingest from MQTT as configured
  holotwin replay pump-1.csv --twin pump-1   load recorded telemetry (CSV or Parquet)
  holotwin deadletters list --limit 20   messages ingestion could not use
  holotwin scenarios create what-if.json   fork twins, change them, simulate, compare
  holotwin rules put hot hot.json        raise an alert when a condition holds
  holotwin alerts list --state open      alerts still open
  holotwin --store postgresql://holotwin@db/holotwin serve --host 0.0.0.0 --auth
"""


def _check_executor(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Refuse a misspelt --executor before any command runs (nothing is started here)."""
    from holotwin.compute import check_executor

    try:
        check_executor(value)
    except HolotwinError as exc:
        raise click.BadParameter(exc.message) from None
    return value.strip()


class HolotwinGroup(click.Group):
    """A group that prints holotwin errors as ``Error: <message>`` (exit code 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HolotwinError as exc:
            raise CliError(exc.message) from None


@click.group(cls=HolotwinGroup, epilog=EPILOG, context_settings={"help_option_names":
                                                                 ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("holotwin-data"), show_default=True, envvar="HOLOTWIN_DATA_DIR",
              help="Directory of the default SQLite store [env: HOLOTWIN_DATA_DIR].")
@click.option("--store", metavar="URL", envvar="HOLOTWIN_STORE",
              help="Store URL: sqlite:///PATH.db or postgresql://USER@HOST/DB "
                   "[env: HOLOTWIN_STORE; default: sqlite:///<data-dir>/holotwin.db].")
@click.option("--executor", metavar="WHERE", envvar="HOLOTWIN_EXECUTOR", default="local",
              show_default=True, callback=_check_executor,
              help="Where scenario work runs: local (a process per CPU), local:N, inline, ray, "
                   "ray:N, ray:auto or ray://HOST:PORT [env: HOLOTWIN_EXECUTOR].")
@click.option("--fmu-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="HOLOTWIN_FMU_DIR",
              help="Folder behavior bindings take FMU files from [env: HOLOTWIN_FMU_DIR; "
                   "default: <data-dir>/fmu].")
@click.version_option(__version__, prog_name="holotwin")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path, store: str | None, executor: str,
        fmu_dir: Path | None) -> None:
    """holotwin: live digital twins of physical assets.

    Run 'holotwin demo' for a live plant, or 'holotwin serve' for the REST API. Everything is
    kept in a data directory (./holotwin-data by default) or in the store given by --store.
    """
    ctx.obj = CliContext(data_dir, store or None, executor, fmu_dir)


cli.add_command(serve)
cli.add_command(demo)
cli.add_command(models)
cli.add_command(twins)
cli.add_command(keys)
cli.add_command(deadletters)
cli.add_command(ingest)
cli.add_command(replay)
cli.add_command(scenarios)
cli.add_command(rules)
cli.add_command(detectors)
cli.add_command(alerts)


def main() -> None:
    """Entry point of the ``holotwin`` console script."""
    cli(prog_name="holotwin")


if __name__ == "__main__":
    main()
