"""Shared fixtures: stores (SQLite and PostgreSQL), a service on a manual clock, demo models.

PostgreSQL tests use the server at ``HOLOTWIN_PG_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``), one fresh schema per test. They skip when no
server answers, unless ``HOLOTWIN_REQUIRE_SERVICES=1`` (as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from holotwin.clock import ManualClock
from holotwin.service import TwinService
from holotwin.store import SqliteStore, Store

PG_DSN = os.environ.get("HOLOTWIN_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("HOLOTWIN_REQUIRE_SERVICES") == "1"


def _postgres_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'holotwin[postgres]')"
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at {PG_DSN}: {str(exc).strip().splitlines()[0]}"


_PG_REASON: list[str | None] = []


def require_postgres() -> None:
    if not _PG_REASON:
        _PG_REASON.append(_postgres_reason())
    reason = _PG_REASON[0]
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"HOLOTWIN_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


def make_store(kind: str, tmp_path: Any) -> Store:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "holotwin.db")
    if kind == "memory":
        return SqliteStore(":memory:")
    require_postgres()
    from holotwin.store.postgres import PostgresStore

    return PostgresStore(PG_DSN, schema=f"t_{uuid.uuid4().hex[:12]}")


def reopen(store: Store) -> Store:
    """Another store object on the same database: what a second server opens."""
    from holotwin.store.sqlite import SqliteStore as _Sqlite

    if isinstance(store, _Sqlite):
        return _Sqlite(store.path)
    from holotwin.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn, schema=store.schema)


def dispose(store: Store) -> None:
    from holotwin.store.sqlite import SqliteStore as _Sqlite

    if isinstance(store, _Sqlite):
        store.close()
    else:
        store.drop_schema()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    s = make_store(request.param, tmp_path)
    yield s
    dispose(s)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def service(clock: ManualClock) -> Iterator[TwinService]:
    svc = TwinService(SqliteStore(":memory:"), clock)
    yield svc
    svc.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_service(
    request: pytest.FixtureRequest, tmp_path: Any, clock: ManualClock
) -> Iterator[TwinService]:
    """A service on each real store (for end-to-end service tests)."""
    s = make_store(request.param, tmp_path)
    svc = TwinService(s, clock)
    yield svc
    dispose(s)


# A small plant: a line contains machines; a machine has a motor component.
MACHINE = "dtmi:test:Machine;1"
LINE = "dtmi:test:Line;1"
MOTOR = "dtmi:test:Motor;1"
PRESS = "dtmi:test:Press;1"

PLANT_MODELS: list[dict[str, Any]] = [
    {
        "@id": MOTOR,
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;3",
        "contents": [
            {"@type": "Property", "name": "rpm", "schema": "double"},
            {"@type": "Telemetry", "name": "current", "schema": "double"},
        ],
    },
    {
        "@id": MACHINE,
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;3",
        "displayName": "Machine",
        "contents": [
            {"@type": "Property", "name": "serial", "schema": "string"},
            {"@type": "Property", "name": "speed", "schema": "double", "writable": True},
            {"@type": "Property", "name": "running", "schema": "boolean"},
            {
                "@type": "Property",
                "name": "mode",
                "schema": {
                    "@type": "Enum",
                    "valueSchema": "string",
                    "enumValues": [
                        {"name": "auto", "enumValue": "auto"},
                        {"name": "manual", "enumValue": "manual"},
                    ],
                },
            },
            {"@type": "Telemetry", "name": "temperature", "schema": "double"},
            {"@type": "Component", "name": "motor", "schema": MOTOR},
        ],
    },
    {
        "@id": PRESS,
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;3",
        "extends": MACHINE,
        "contents": [{"@type": "Property", "name": "force", "schema": "double"}],
    },
    {
        "@id": LINE,
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;3",
        "contents": [
            {"@type": "Property", "name": "name", "schema": "string"},
            {
                "@type": "Relationship",
                "name": "contains",
                "target": MACHINE,
                "properties": [{"@type": "Property", "name": "position", "schema": "integer"}],
            },
            {"@type": "Relationship", "name": "feeds", "target": LINE, "maxMultiplicity": 1},
        ],
    },
]


@pytest.fixture
def plant_models() -> list[dict[str, Any]]:
    import copy

    return copy.deepcopy(PLANT_MODELS)


def machine(serial: str = "M-1", **props: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": MACHINE}, "serial": serial, **props}
