"""``holotwin models``: import DTDL files and list the models."""

from __future__ import annotations

from pathlib import Path

import click

from holotwin.cli.context import CliContext, CliError
from holotwin.cli.output import console, echo_json, short_time, table
from holotwin.models import load_documents

__all__ = ["models"]


@click.group()
def models() -> None:
    """Import and list DTDL models."""


@models.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def import_models(obj: CliContext, path: Path) -> None:
    """Import DTDL interfaces from a JSON file or a directory.

    A directory is searched recursively for *.json files; each file holds one interface or a
    list of them. Either every interface is imported or none is.
    """
    documents = load_documents(path)
    if not documents:
        raise CliError(f"No DTDL documents found in {path} (looked for *.json files)")
    service = obj.open_service()
    try:
        records = service.add_models(documents)
    finally:
        service.close()
    noun = "model" if len(records) == 1 else "models"
    click.echo(f"Imported {len(records)} {noun} from {path}:")
    for record in records:
        click.echo(f"  {record.id}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the DTDL documents as JSON.")
@click.pass_obj
def list_models(obj: CliContext, as_json: bool) -> None:
    """List the models in the store."""
    service = obj.open_service()
    try:
        records = service.list_models()
    finally:
        service.close()
    if as_json:
        echo_json([r.document for r in records])
        return
    if not records:
        click.echo("No models yet. Import some with 'holotwin models import PATH'.")
        return
    t = table("model", "display name", "uploaded (UTC)", "state")
    for r in records:
        name = r.document.get("displayName", "")
        if isinstance(name, dict):  # a language map
            name = name.get("en") or next(iter(name.values()), "")
        t.add_row(r.id, str(name), short_time(r.upload_time),
                  "decommissioned" if r.decommissioned else "active")
    console().print(t)
