"""``holotwin twins``: list twins and show one."""

from __future__ import annotations

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, echo_json, short_time, table

__all__ = ["twins"]


@click.group()
def twins() -> None:
    """List twins and show one as JSON."""


@twins.command("list")
@click.option("--model", "model_id", metavar="DTMI",
              help="Only twins of this model (or of models extending it).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="Show at most this many twins.")
@click.option("--json", "as_json", is_flag=True, help="Print the twin documents as JSON.")
@click.pass_obj
def list_twins(obj: CliContext, model_id: str | None, limit: int, as_json: bool) -> None:
    """List twins, ordered by id."""
    service = obj.open_service()
    try:
        docs = service.list_twins(model_id, limit=limit)
    finally:
        service.close()
    if as_json:
        echo_json(docs)
        return
    if not docs:
        click.echo("No twins" + (f" of model {model_id}." if model_id else "."))
        return
    t = table("twin", "model", "revision", "updated (UTC)")
    for doc in docs:
        meta = doc.get("$metadata", {})
        t.add_row(doc["$dtId"], str(meta.get("$model", "")), str(meta.get("$revision", "")),
                  short_time(meta.get("$lastUpdateTime")))
    console().print(t)
    if len(docs) == limit:
        click.echo(f"Showing the first {limit}; use --limit to see more.", err=True)


@twins.command("get")
@click.argument("twin_id", metavar="ID")
@click.option("--telemetry", is_flag=True,
              help="Include the latest telemetry readings (under $metadata.$telemetry).")
@click.pass_obj
def get_twin(obj: CliContext, twin_id: str, telemetry: bool) -> None:
    """Print one twin as JSON."""
    service = obj.open_service()
    try:
        doc = service.get_twin(twin_id, with_telemetry=telemetry)
    finally:
        service.close()
    echo_json(doc)
