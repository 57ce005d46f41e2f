"""Storage adapters behind one :class:`Store` interface."""

from __future__ import annotations

from holotwin.store.base import (
    ApiKeyRecord,
    Bucket,
    DeadLetter,
    ModelRecord,
    QueryPage,
    Store,
    TelemetryPoint,
    Transaction,
    TwinRecord,
)
from holotwin.store.sqlite import SqliteStore

__all__ = [
    "ApiKeyRecord",
    "Bucket",
    "DeadLetter",
    "ModelRecord",
    "QueryPage",
    "SqliteStore",
    "Store",
    "TelemetryPoint",
    "Transaction",
    "TwinRecord",
    "open_store",
]


def open_store(url: str) -> Store:
    """Open a store from a URL: ``sqlite:///path/to/file.db``, ``sqlite://:memory:``, or a
    ``postgresql://`` DSN (needs the ``postgres`` extra)."""
    if url.startswith(("postgresql://", "postgres://")):
        from holotwin.store.postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]  # sqlite:///abs/file.db or sqlite://relative/file.db
        return SqliteStore(":memory:" if path in ("", ":memory:") else path)
    from holotwin.errors import InvalidInputError

    raise InvalidInputError(
        f"Unknown store URL {url!r}; use sqlite:///PATH or postgresql://USER@HOST/DB"
    )
