"""``holotwin deadletters``: messages ingestion could not use, and why."""

from __future__ import annotations

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, echo_json, short_time, table
from holotwin.clock import to_iso

__all__ = ["deadletters"]


@click.group()
def deadletters() -> None:
    """Inspect the dead letters of ingestion (payloads that failed decode, map or validate)."""


@deadletters.command("list")
@click.option("--after", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="ID", help="Only dead letters with a larger id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              metavar="N", help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the payloads).")
@click.pass_obj
def list_dead_letters(obj: CliContext, after: int, limit: int, as_json: bool) -> None:
    """List dead letters, oldest first."""
    store = obj.open_store()
    try:
        letters = store.list_dead_letters(after, limit)
        total = store.count_dead_letters()
    finally:
        store.close()
    if as_json:
        echo_json({"count": total, "value": [
            {"id": d.id, "time": to_iso(d.time), "source": d.source, "topic": d.topic,
             "stage": d.stage, "reason": d.reason, "payload": d.payload,
             "encoding": d.encoding} for d in letters]})
        return
    if not letters:
        click.echo("No dead letters." if total == 0 else f"No dead letters after id {after}.")
        return
    t = table("id", "time (UTC)", "source", "topic", "stage", "reason")
    for d in letters:
        t.add_row(str(d.id), short_time(d.time), d.source, d.topic, d.stage, d.reason)
    console().print(t)
    if total > len(letters):
        click.echo(f"{len(letters)} of {total} shown; continue with --after {letters[-1].id}.")
