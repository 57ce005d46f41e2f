"""Printing: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["console", "echo_json", "read_json_file", "short_time", "table"]


def console() -> Console:
    """A console on stdout; when stdout is not a terminal, tables keep their natural width
    instead of being folded to 80 columns."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True, highlight=False)


def table(*columns: str) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in columns:
        t.add_column(name, no_wrap=True)
    return t


def short_time(value: object) -> str:
    """``2024-05-01 12:00:03`` (UTC) from epoch seconds or an ISO 8601 string."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        return value[:19].replace("T", " ")
    return ""


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def read_json_file(file: Path) -> Any:
    """The JSON document in ``file`` (``-``: standard input); a precise CLI error if it cannot
    be read or is not JSON."""
    from holotwin.cli.context import CliError

    try:
        text = sys.stdin.read() if str(file) == "-" else \
            file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"Cannot read {file}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{file} is not JSON: line {exc.lineno} column {exc.colno}: "
                       f"{exc.msg}") from None
