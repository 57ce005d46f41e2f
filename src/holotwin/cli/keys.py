"""``holotwin keys``: API keys for ``holotwin serve --auth``."""

from __future__ import annotations

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, short_time, table
from holotwin.service.keys import SCOPES, ApiKeys

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Create, list and revoke API keys.

    Scopes: read (read everything), write (also change models, twins, relationships and send
    telemetry), admin (also manage keys).
    """


@keys.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(SCOPES), required=True,
              help="What the key may do.")
@click.pass_obj
def create_key(obj: CliContext, name: str, scope: str) -> None:
    """Create a key; it is printed once, on stdout."""
    store = obj.open_store()
    try:
        record, key = ApiKeys(store).create(name, scope)
    finally:
        store.close()
    click.echo(f"Created API key '{record.name}' (id {record.id}, scope {record.scope}):",
               err=True)
    click.echo(key)
    click.echo("Store it now: it is not shown again. Send it as 'Authorization: Bearer KEY' "
               "or 'X-API-Key: KEY'.", err=True)


@keys.command("list")
@click.pass_obj
def list_keys(obj: CliContext) -> None:
    """List keys (their ids, names and scopes; never the keys)."""
    store = obj.open_store()
    try:
        records = ApiKeys(store).list()
    finally:
        store.close()
    if not records:
        click.echo("No API keys. Create one with 'holotwin keys create NAME --scope write'.")
        return
    t = table("id", "name", "scope", "created (UTC)")
    for r in records:
        t.add_row(r.id, r.name, r.scope, short_time(r.created))
    console().print(t)


@keys.command("revoke")
@click.argument("key_id", metavar="KEY_ID")
@click.pass_obj
def revoke_key(obj: CliContext, key_id: str) -> None:
    """Revoke a key by its id (see 'holotwin keys list')."""
    store = obj.open_store()
    try:
        ApiKeys(store).revoke(key_id)
    finally:
        store.close()
    click.echo(f"Revoked API key {key_id}. A running server stops accepting it within 10 s.")
