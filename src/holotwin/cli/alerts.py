"""``holotwin alerts``, ``holotwin rules``, ``holotwin detectors``: analytics from the shell.

Rules, detectors and alert sinks are JSON documents (see docs/analytics.md); the server
(``holotwin serve`` or ``holotwin demo``) runs them on the readings as they arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, echo_json, read_json_file, table
from holotwin.service import TwinService

__all__ = ["alerts", "detectors", "rules"]


def _documents(name: str, kind: str, columns: tuple[str, ...], row: Any) -> click.Group:
    """A command group ``list``, ``show``, ``put``, ``delete`` over one kind of document, using
    the service's ``list_<kind>s``, ``get_<kind>``, ``put_<kind>``, ``delete_<kind>``."""

    @click.group(name=name)
    def group() -> None:
        pass

    def call(obj: CliContext, method: str, *args: Any) -> Any:
        service: TwinService = obj.open_service()
        try:
            return getattr(service, method)(*args)
        finally:
            service.close()

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_all(obj: CliContext, as_json: bool) -> None:
        docs = call(obj, f"list_{kind}s")
        if as_json:
            echo_json(docs)
            return
        if not docs:
            click.echo(f"No {name}.")
            return
        t = table(*columns)
        for d in docs:
            t.add_row(*row(d))
        console().print(t)

    @group.command("show")
    @click.argument("item_id", metavar="ID")
    @click.pass_obj
    def show(obj: CliContext, item_id: str) -> None:
        echo_json(call(obj, f"get_{kind}", item_id))

    @group.command("put")
    @click.argument("item_id", metavar="ID")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.pass_obj
    def put(obj: CliContext, item_id: str, file: Path) -> None:
        """Create or replace ID from FILE (JSON; - reads standard input)."""
        echo_json(call(obj, f"put_{kind}", item_id, read_json_file(file)))

    @group.command("delete")
    @click.argument("item_id", metavar="ID")
    @click.pass_obj
    def delete(obj: CliContext, item_id: str) -> None:
        call(obj, f"delete_{kind}", item_id)
        click.echo(f"Deleted {item_id}.", err=True)

    list_all.help = f"The {name}."
    show.help = f"Print one of the {name} as JSON."
    delete.help = f"Delete one of the {name}."
    return group


rules = _documents("rules", "rule", ("id", "severity", "applies to", "condition", "for (s)",
                                     "clear"),
                   lambda d: (d["id"], d["severity"], d.get("model") or ", ".join(d["twins"]),
                              d["condition"], f"{d['for']:g}", d.get("clear", "not condition")))
rules.help = "Alert rules: conditions on twins' values (docs/analytics.md)."
detectors = _documents("detectors", "detector", ("id", "signal", "kind", "applies to",
                                                 "threshold"),
                       lambda d: (d["id"], d["signal"], d["detector"]["kind"],
                                  d.get("model") or ", ".join(d["twins"]),
                                  f"{d['detector'].get('threshold', '-')}"))
detectors.help = "Anomaly detectors on telemetry signals (docs/analytics.md)."


@click.group()
def alerts() -> None:
    """Alerts raised by rules: list, acknowledge, clear; and where they are sent (sinks)."""


alerts.add_command(_documents("sinks", "alert_sink", ("id", "type", "url", "min severity",
                                                      "delivered", "failed"),
                              lambda d: (d["id"], d["type"], d["url"], d["minSeverity"],
                                         str(d["status"].get("delivered", 0)),
                                         str(d["status"].get("failed", 0)))))


@alerts.command("list")
@click.option("--state", type=click.Choice(["open", "raised", "acknowledged", "cleared"]),
              help="Only alerts in this state (open: raised or acknowledged).")
@click.option("--twin", help="Only this twin's alerts.")
@click.option("--rule", help="Only this rule's alerts.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_alerts(obj: CliContext, state: str | None, twin: str | None, rule: str | None,
                limit: int, as_json: bool) -> None:
    """Alerts, newest first."""
    service = obj.open_service()
    try:
        found = service.list_alerts(state=state, twin_id=twin, rule=rule, limit=limit)
    finally:
        service.close()
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("No alerts.")
        return
    t = table("id", "state", "severity", "twin", "rule", "raised", "message")
    for a in found:
        t.add_row(a["id"], a["state"], a["severity"], a["twinId"], a["rule"], a["raisedAt"],
                  a["message"])
    console().print(t)


def _change(obj: CliContext, method: str, alert_id: str, by: str, note: str) -> None:
    service = obj.open_service()
    try:
        doc = getattr(service, method)(alert_id, by, note)
    finally:
        service.close()
    click.echo(f"Alert {alert_id} is {doc['state']}.")


@alerts.command("ack")
@click.argument("alert_id", metavar="ID")
@click.option("--by", default="", help="Who acknowledges it.")
@click.option("--note", default="", help="A note kept on the alert.")
@click.pass_obj
def ack(obj: CliContext, alert_id: str, by: str, note: str) -> None:
    """Acknowledge an alert (it stays open until its rule clears it)."""
    _change(obj, "acknowledge_alert", alert_id, by, note)


@alerts.command("clear")
@click.argument("alert_id", metavar="ID")
@click.option("--by", default="", help="Who clears it.")
@click.option("--note", default="", help="A note kept on the alert.")
@click.pass_obj
def clear(obj: CliContext, alert_id: str, by: str, note: str) -> None:
    """Close an alert by hand (its rule raises a new one if the condition still holds)."""
    _change(obj, "clear_alert", alert_id, by, note)
