"""SQLite store: the embedded default (one file in the data directory, WAL mode).

One connection writes, serialized by a lock (SQLite has a single writer anyway); each reading
thread gets its own connection so reads run beside a write. ``path=":memory:"`` gives the
in-memory store used by unit tests (one connection for everything).

>>> store = SqliteStore(":memory:")
>>> store.count_twins()
0
>>> store.close()
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from holotwin.errors import StoreError
from holotwin.store.base import TelemetryPoint
from holotwin.store.sql import SCHEMA_VERSION, SqlStore, _raw

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, document TEXT NOT NULL, upload_time REAL NOT NULL,
    decommissioned INTEGER NOT NULL DEFAULT 0, ord INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS twins (
    id TEXT PRIMARY KEY, model_id TEXT NOT NULL, etag TEXT NOT NULL, revision INTEGER NOT NULL,
    document TEXT NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS twins_model ON twins (model_id, id);
CREATE TABLE IF NOT EXISTS relationships (
    source_id TEXT NOT NULL, id TEXT NOT NULL, target_id TEXT NOT NULL, name TEXT NOT NULL,
    etag TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (source_id, id));
CREATE INDEX IF NOT EXISTS relationships_target ON relationships (target_id);
CREATE INDEX IF NOT EXISTS relationships_name ON relationships (source_id, name);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, kind TEXT NOT NULL,
    twin_id TEXT NOT NULL, model_id TEXT, relationship_id TEXT, revision INTEGER, data TEXT);
CREATE INDEX IF NOT EXISTS events_twin ON events (twin_id, seq);
CREATE TABLE IF NOT EXISTS telemetry (
    twin_id TEXT NOT NULL, signal TEXT NOT NULL, time REAL NOT NULL, value REAL, raw TEXT,
    PRIMARY KEY (twin_id, signal, time)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_latest (
    twin_id TEXT NOT NULL, signal TEXT NOT NULL, time REAL NOT NULL, value REAL, raw TEXT,
    PRIMARY KEY (twin_id, signal));
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, secret_hash TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL, key TEXT NOT NULL, document TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, source TEXT NOT NULL,
    topic TEXT NOT NULL, payload TEXT NOT NULL, encoding TEXT NOT NULL, stage TEXT NOT NULL,
    reason TEXT NOT NULL);
"""


class SqliteStore(SqlStore):
    """Store in a SQLite database file (``path``), or in memory for ``":memory:"``."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self._memory = self.path == ":memory:"
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        self._conn = self._connect()
        if not self._memory:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        with self._write() as cur:
            cur.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open SQLite database {self.path}: {exc}") from exc
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    QUERY_ERRORS = (sqlite3.OperationalError, OverflowError)

    def sql(self, statement: str) -> str:
        return statement.replace("{J}", "?")

    @contextmanager
    def _read(self) -> Iterator[Any]:
        if self._closed:
            raise StoreError("The store is closed")
        if self._memory:
            with self._lock:
                yield self._conn.cursor()
            return
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        if self._closed:
            raise StoreError("The store is closed")
        with self._lock:
            if self._conn.in_transaction:
                # a write interrupted between BEGIN and its end (Ctrl-C lands anywhere): it
                # never committed, so roll it back rather than refuse every later write
                self._conn.rollback()
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def reserve_event_seqs(self, cursor: Any, count: int) -> list[int]:
        # Under the write lock; an explicit seq above sqlite_sequence's moves it (AUTOINCREMENT).
        row = cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        first = (int(row[0]) if row else 0) + 1
        return list(range(first, first + count))

    def bulk_insert_telemetry(self, cursor: Any, points: Sequence[TelemetryPoint]) -> int:
        before = self._conn.total_changes
        cursor.executemany(
            "INSERT INTO telemetry (twin_id, signal, time, value, raw) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(p.twin_id, p.signal, p.time, p.value, _raw(p)) for p in points],
        )
        return int(self._conn.total_changes - before)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._conn.close()
