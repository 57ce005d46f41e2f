"""PostgreSQL store (psycopg 3, a connection pool): the shared store for a plant.

Needs the ``postgres`` extra (``pip install holotwin[postgres]``); psycopg is imported when a
:class:`PostgresStore` is created, not before. ``schema`` puts every table in a schema of its own
(created if missing), which is how tests and several holotwin instances share one database.

Event numbers come from a sequence; writers take a transaction-scoped advisory lock before
inserting events so that events commit in ``seq`` order and a change-feed reader that resumes
after ``seq`` never skips an event that committed late.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from holotwin.errors import StoreError
from holotwin.store.base import TelemetryPoint
from holotwin.store.querysql import PostgresDialect
from holotwin.store.sql import SCHEMA_VERSION, SqlStore, _raw

__all__ = ["PostgresStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, document JSONB NOT NULL, upload_time DOUBLE PRECISION NOT NULL,
    decommissioned BOOLEAN NOT NULL DEFAULT FALSE, ord BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS twins (
    id TEXT PRIMARY KEY, model_id TEXT NOT NULL, etag TEXT NOT NULL, revision BIGINT NOT NULL,
    document JSONB NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS twins_model ON twins (model_id, id);
CREATE TABLE IF NOT EXISTS relationships (
    source_id TEXT NOT NULL, id TEXT NOT NULL, target_id TEXT NOT NULL, name TEXT NOT NULL,
    etag TEXT NOT NULL, document JSONB NOT NULL, PRIMARY KEY (source_id, id));
CREATE INDEX IF NOT EXISTS relationships_target ON relationships (target_id);
CREATE INDEX IF NOT EXISTS relationships_name ON relationships (source_id, name);
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY, time DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
    twin_id TEXT NOT NULL, model_id TEXT, relationship_id TEXT, revision BIGINT, data JSONB);
CREATE INDEX IF NOT EXISTS events_twin ON events (twin_id, seq);
CREATE TABLE IF NOT EXISTS telemetry (
    twin_id TEXT NOT NULL, signal TEXT NOT NULL, time DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION, raw TEXT, PRIMARY KEY (twin_id, signal, time));
CREATE TABLE IF NOT EXISTS telemetry_latest (
    twin_id TEXT NOT NULL, signal TEXT NOT NULL, time DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION, raw TEXT, PRIMARY KEY (twin_id, signal));
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, secret_hash TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, key TEXT NOT NULL, document JSONB NOT NULL, updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS dead_letters (
    id BIGSERIAL PRIMARY KEY, time DOUBLE PRECISION NOT NULL, source TEXT NOT NULL,
    topic TEXT NOT NULL, payload TEXT NOT NULL, encoding TEXT NOT NULL, stage TEXT NOT NULL,
    reason TEXT NOT NULL);
"""

_EVENT_LOCK = 0x686F6C6F  # "holo": the advisory lock that orders event commits
_COPY_THRESHOLD = 500
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresStore(SqlStore):
    """Store in PostgreSQL at ``dsn`` (a libpq connection string or URL)."""

    FOR_UPDATE = " FOR UPDATE"
    FLOOR = "CAST(floor({x}) AS BIGINT)"
    QUERY_DIALECT = PostgresDialect()

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 10) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "PostgreSQL support needs the postgres extra: pip install 'holotwin[postgres]'"
            ) from exc
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StoreError(f"Invalid PostgreSQL schema name {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self._psycopg = psycopg
        # a bad but valid-looking query (e.g. a value out of range) is the caller's problem
        self.QUERY_ERRORS = (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded)
        self._sql_cache: dict[str, str] = {}
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                if schema:
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                    conn.execute(f'SET search_path TO "{schema}"')
                conn.execute(_SCHEMA)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
        except psycopg.Error as exc:
            raise StoreError(f"Cannot use PostgreSQL at {_redact(dsn)}: {exc}") from exc
        options = f"-c search_path={schema}" if schema else None
        kwargs: dict[str, Any] = {"options": options} if options else {}
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, kwargs=kwargs, open=True, name="holotwin"
        )

    def sql(self, statement: str) -> str:
        cached = self._sql_cache.get(statement)
        if cached is None:
            cached = (
                statement.replace("%", "%%").replace("{J}", "%s::jsonb").replace("?", "%s")
            )
            if len(self._sql_cache) < 1000:  # generated query statements vary; keep it bounded
                self._sql_cache[statement] = cached
        return cached

    @contextmanager
    def _read(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except self._psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL is unavailable: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
        except self._psycopg.OperationalError as exc:
            raise StoreError(f"PostgreSQL is unavailable: {exc}") from exc

    def lock_event_sequence(self, cursor: Any) -> None:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_EVENT_LOCK,))

    def reserve_event_seqs(self, cursor: Any, count: int) -> list[int]:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('events', 'seq')) FROM generate_series(1, %s)",
            (count,))
        return sorted(int(r[0]) for r in cursor.fetchall())

    def bulk_insert_telemetry(self, cursor: Any, points: Sequence[TelemetryPoint]) -> int:
        rows = [(p.twin_id, p.signal, p.time, p.value, _raw(p)) for p in points]
        if len(rows) < _COPY_THRESHOLD:
            cursor.execute(
                "INSERT INTO telemetry (twin_id, signal, time, value, raw) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[], %s::float8[], "
                "%s::text[]) ON CONFLICT DO NOTHING",
                [list(col) for col in zip(*rows, strict=True)],
            )
            return int(cursor.rowcount)
        # Redeliveries are rare: COPY straight into the table, and only when a key is already
        # there (the COPY fails as a whole) go through a staging table and ON CONFLICT.
        cursor.execute("SAVEPOINT telemetry_copy")
        try:
            with cursor.copy("COPY telemetry (twin_id, signal, time, value, raw) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except self._psycopg.errors.UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT telemetry_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT telemetry_copy")
            return len(rows)
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS telemetry_stage (twin_id TEXT, signal TEXT, "
            "time DOUBLE PRECISION, value DOUBLE PRECISION, raw TEXT) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(
            "COPY telemetry_stage (twin_id, signal, time, value, raw) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO telemetry SELECT * FROM telemetry_stage ON CONFLICT DO NOTHING"
        )
        inserted = int(cursor.rowcount)
        cursor.execute("DELETE FROM telemetry_stage")
        return inserted

    def drop_schema(self) -> None:
        """Drop this store's schema and everything in it (for tests)."""
        if not self.schema:
            raise StoreError("drop_schema needs a store created with schema=...")
        self.close()
        with self._psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def close(self) -> None:
        self._pool.close()


def _redact(dsn: str) -> str:
    return re.sub(r"(password=|:)[^@\s]*@", r"\1***@", dsn)
