"""``holotwin scenarios``: what-if scenarios on the twins of a data directory or store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, echo_json, read_json_file, table

__all__ = ["scenarios"]


@click.group()
def scenarios() -> None:
    """Create, run, list, compare, optimize and delete what-if scenarios (see
    docs/scenarios.md)."""


def _progress(done: float) -> None:
    click.echo(f"  {done:6.1%} simulated", err=True)


def _interval(e: dict[str, Any], digits: int = 0, scale: float = 1.0) -> str:
    mean, low, high = e.get("mean"), e.get("low"), e.get("high")
    if mean is None:
        return "-"
    text = f"{mean * scale:,.{digits}f}"
    if low is not None and high is not None:
        text += f" ± {(high - low) * scale / 2:,.{digits}f}"
    return text


def _line_summary(doc: dict[str, Any]) -> None:
    results, kpis = doc["results"], doc["kpis"]
    t = table("station", "cycle (s)", "speed", "MTBF (s)", "MTTR (s)", "failures", "OEE",
              "bottleneck")
    for s in results["stations"]:
        r = s["results"]
        share = (r["bottleneckSole"]["mean"] or 0.0) + (r["bottleneckShifting"]["mean"] or 0.0)
        t.add_row(s["name"], f"{s['cycleTime']:.3g}", f"{s['speed']:g}",
                  "never" if s["mtbf"] is None else f"{s['mtbf']:,.0f}", f"{s['mttr']:,.0f}",
                  _interval(r["failures"], 1), _interval(r["oee"], 1, 100.0) + " %",
                  f"{share:.0%}")
    console().print(t)
    click.echo(f"Line over {results['horizon'] - results['warmup']:,.0f} s, "
               f"{results['replications']} replication(s), seed {results['seed']}: "
               f"throughput {_interval(kpis['throughput'], 1)} parts/h, "
               f"good {_interval(kpis['good'])}, OEE {_interval(kpis['oee'], 1, 100.0)} %, "
               f"bottleneck {kpis['bottleneck']} (± : 95 % interval)")


def _summary(doc: dict[str, Any]) -> None:
    if doc.get("kind") == "line":
        _line_summary(doc)
        return
    t = table("twin", "event", "mean (s)", "p5 (s)", "p95 (s)", "reached")
    for twin, result in doc.get("results", {}).items():
        for event, toe in result["timeOfEvent"].items():
            p = toe["percentiles"]
            t.add_row(twin, event, _s(toe["mean"]), _s(p.get("p5")), _s(p.get("p95")),
                      f"{toe['reached']:.0%}")
    console().print(t)
    if doc.get("notSimulated"):
        click.echo(f"Not simulated (no behavior or no estimate): "
                   f"{', '.join(doc['notSimulated'])}")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


@scenarios.command("create")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run/--no-run", default=True, show_default=True, help="Run it now.")
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
@click.pass_obj
def create(obj: CliContext, file: Path, run: bool, as_json: bool) -> None:
    """Store the scenario in FILE (JSON) and run it, showing progress."""
    raw = read_json_file(file)
    service = obj.open_service()
    try:
        doc = service.create_scenario(raw)
        click.echo(f"Scenario {doc['id']} created.", err=True)
        if run:
            doc = service.run_scenario(doc["id"], progress=_progress)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
    elif run:
        _summary(doc)


@scenarios.command("run")
@click.argument("scenario_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
@click.pass_obj
def run_again(obj: CliContext, scenario_id: str, as_json: bool) -> None:
    """Run a stored scenario again, on a new fork of the live state."""
    service = obj.open_service()
    try:
        doc = service.run_scenario(scenario_id, progress=_progress)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
    else:
        _summary(doc)


@scenarios.command("list")
@click.pass_obj
def list_all(obj: CliContext) -> None:
    """The stored scenarios."""
    service = obj.open_service()
    try:
        docs = service.list_scenarios()
    finally:
        service.close()
    if not docs:
        click.echo("No scenarios.")
        return
    t = table("id", "name", "kind", "status", "runs", "twins", "horizon (s)")
    for d in docs:
        what = d["line"] if d.get("kind") == "line" else \
            ", ".join(d.get("twins", [])) or str(d.get("subgraph"))
        t.add_row(d["id"], d.get("name", ""), d.get("kind", "forks"), d["status"],
                  str(d.get("runs", 0)), what, f"{d['horizon']:g}")
    console().print(t)


@scenarios.command("show")
@click.argument("scenario_id", metavar="ID")
@click.pass_obj
def show(obj: CliContext, scenario_id: str) -> None:
    """Print one scenario, with its results, as JSON."""
    service = obj.open_service()
    try:
        echo_json(service.get_scenario(scenario_id))
    finally:
        service.close()


@scenarios.command("compare")
@click.argument("scenario_ids", metavar="ID...", nargs=-1, required=True)
@click.pass_obj
def compare(obj: CliContext, scenario_ids: tuple[str, ...]) -> None:
    """KPIs (lines) or mean event times (forks) side by side, the first scenario being the
    baseline."""
    service = obj.open_service()
    try:
        result = service.compare_scenarios(list(scenario_ids))
    finally:
        service.close()
    if result.get("kind") == "line":
        t = table("scenario", "throughput (parts/h)", "good", "vs baseline", "OEE",
                  "bottleneck")
        for row in result["scenarios"]:
            k, delta = row["kpis"], row["vsBaseline"]["good"]
            change = f"{delta['mean']:+,.0f}"
            if delta.get("low") is not None and delta.get("high") is not None:
                change += f" ({delta['low']:+,.0f} to {delta['high']:+,.0f})"
            t.add_row(row["scenario"], _interval(k["throughput"], 1), _interval(k["good"]),
                      change, _interval(k["oee"], 1, 100.0) + " %", k["bottleneck"])
        console().print(t)
        click.echo("vs baseline: good parts, with the paired 95 % interval when the runs "
                   "share their seed and replications")
        return
    t = table("scenario", "twin", "event", "mean (s)", "vs baseline (s)", "reached")
    for row in result["scenarios"]:
        for twin, events in row["twins"].items():
            for event, e in events.items():
                delta = e["vsBaseline"]
                t.add_row(row["scenario"], twin, event, _s(e["mean"]),
                          "-" if delta is None else f"{delta:+,.0f}", f"{e['reached']:.0%}")
    console().print(t)


def _value(value: Any) -> str:
    return f"{value:,.6g}" if isinstance(value, int | float) and not isinstance(value, bool) \
        else json.dumps(value)


@scenarios.command("optimize")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the optimization as JSON.")
@click.pass_obj
def optimize(obj: CliContext, file: Path, as_json: bool) -> None:
    """Search the overrides of a scenario for the best outcome, as FILE (JSON) says: the
    scenario, its knobs, objective and constraints (see docs/scenarios.md). Prints progress
    and the best candidates; the baseline and the best ones are stored as scenarios."""
    raw = read_json_file(file)
    service = obj.open_service()
    try:
        doc = service.create_optimization(raw)
        click.echo(f"Optimization {doc['id']} created.", err=True)
        doc = service.run_optimization(doc["id"], progress=_progress)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
        return
    results = doc["results"]
    knobs = [k["path"] for k in doc["search"]["knobs"]]
    objective = doc["search"]["objective"]
    t = table("rank", *knobs, f"{objective['kpi']} ({objective.get('goal', 'max')})",
              "feasible", "scenario")
    t.add_row("baseline", *["as given"] * len(knobs), _value(results["baseline"]["objective"]),
              "yes" if results["baseline"]["feasible"] else "no", doc["scenarios"]["baseline"])
    for rank, (c, sid) in enumerate(zip(results["best"], doc["scenarios"]["best"],
                                        strict=True), start=1):
        t.add_row(str(rank), *[_value(c["assignment"][k]) for k in knobs],
                  _value(c["objective"]), "yes" if c["feasible"] else "no", sid)
    console().print(t)
    click.echo(f"{results['evaluated']} candidates evaluated ({results['method']}, seed "
               f"{doc['seed']}); compare them with: holotwin scenarios compare "
               f"{doc['scenarios']['baseline']} {' '.join(doc['scenarios']['best'])}")


@scenarios.command("delete")
@click.argument("scenario_id", metavar="ID")
@click.pass_obj
def delete(obj: CliContext, scenario_id: str) -> None:
    """Delete a stored scenario."""
    service = obj.open_service()
    try:
        service.delete_scenario(scenario_id)
    finally:
        service.close()
    click.echo(f"Scenario {scenario_id} deleted.")
