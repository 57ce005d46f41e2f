"""SQL shared by the SQLite and PostgreSQL stores.

Statements are written once with ``?`` placeholders and ``{J}`` where a JSON parameter goes;
each dialect rewrites them (``%s`` and ``%s::jsonb`` on PostgreSQL). What differs beyond that
(connections, locking, bulk loading) lives in the dialect's module.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from holotwin.errors import QueryError
from holotwin.query.ast import Query
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
    iter_chunks,
)
from holotwin.store.querysql import Dialect, SqliteDialect, compile_count, compile_page
from holotwin.twins.events import ChangeEvent, NewEvent

__all__ = ["SqlStore", "SqlTransaction"]

SCHEMA_VERSION = 1


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str:
    """Compact JSON, refusing NaN and infinities (one encoder, built once)."""
    return _ENCODER.encode(value)


def loads(value: Any) -> Any:
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


def _twin(row: Sequence[Any]) -> TwinRecord:
    return TwinRecord(row[0], row[1], row[2], int(row[3]), loads(row[4]), float(row[5]))


def _event(row: Sequence[Any]) -> ChangeEvent:
    return ChangeEvent(
        seq=int(row[0]),
        time=float(row[1]),
        kind=row[2],
        twin_id=row[3],
        model_id=row[4],
        relationship_id=row[5],
        revision=None if row[6] is None else int(row[6]),
        data=loads(row[7]) or {},
    )


def _point(row: Sequence[Any]) -> TelemetryPoint:
    return TelemetryPoint(row[0], row[1], float(row[2]), row[3], loads(row[4]))


_INSERT_DEAD_LETTER = (
    "INSERT INTO dead_letters (time, source, topic, payload, encoding, stage, reason) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _dead_letter_row(d: DeadLetter) -> tuple[Any, ...]:
    return (d.time, d.source, d.topic, d.payload, d.encoding, d.stage, d.reason)


_TWIN_COLS = "id, model_id, etag, revision, document, updated"
_EVENT_COLS = "seq, time, kind, twin_id, model_id, relationship_id, revision, data"


class SqlTransaction(Transaction):
    """A transaction over a DB-API cursor; ``sql`` rewrites statements for the dialect."""

    def __init__(self, store: SqlStore, cursor: Any) -> None:
        self._store = store
        self._cur = cursor

    def _exec(self, statement: str, params: Sequence[Any] = ()) -> Any:
        self._cur.execute(self._store.sql(statement), params)
        return self._cur

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._exec(
            f"SELECT {_TWIN_COLS} FROM twins WHERE id = ?{self._store.FOR_UPDATE}", (twin_id,)
        ).fetchone()
        return _twin(row) if row else None

    def put_twin(self, record: TwinRecord) -> None:
        self._exec(
            "INSERT INTO twins (id, model_id, etag, revision, document, updated) "
            "VALUES (?, ?, ?, ?, {J}, ?) ON CONFLICT (id) DO UPDATE SET model_id = excluded.model_id, "
            "etag = excluded.etag, revision = excluded.revision, document = excluded.document, "
            "updated = excluded.updated",
            (record.id, record.model_id, record.etag, record.revision, dumps(record.document),
             record.updated),
        )

    def insert_twin(self, record: TwinRecord) -> bool:
        cur = self._exec(
            "INSERT INTO twins (id, model_id, etag, revision, document, updated) "
            "VALUES (?, ?, ?, ?, {J}, ?) ON CONFLICT (id) DO NOTHING",
            (record.id, record.model_id, record.etag, record.revision, dumps(record.document),
             record.updated),
        )
        return bool(cur.rowcount == 1)

    def delete_twin(self, twin_id: str) -> None:
        self._exec("DELETE FROM twins WHERE id = ?", (twin_id,))

    def get_relationship(self, source_id: str, relationship_id: str) -> dict[str, Any] | None:
        row = self._exec(
            "SELECT document FROM relationships WHERE source_id = ? AND id = ?",
            (source_id, relationship_id),
        ).fetchone()
        return loads(row[0]) if row else None

    def put_relationship(self, document: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO relationships (source_id, id, target_id, name, etag, document) "
            "VALUES (?, ?, ?, ?, ?, {J}) ON CONFLICT (source_id, id) DO UPDATE SET "
            "target_id = excluded.target_id, name = excluded.name, etag = excluded.etag, "
            "document = excluded.document",
            (document["$sourceId"], document["$relationshipId"], document["$targetId"],
             document["$relationshipName"], document["$etag"], dumps(document)),
        )

    def delete_relationship(self, source_id: str, relationship_id: str) -> None:
        self._exec(
            "DELETE FROM relationships WHERE source_id = ? AND id = ?", (source_id, relationship_id)
        )

    def count_relationships(self, source_id: str, name: str) -> int:
        row = self._exec(
            "SELECT count(*) FROM relationships WHERE source_id = ? AND name = ?", (source_id, name)
        ).fetchone()
        return int(row[0])

    def has_relationships(self, twin_id: str) -> bool:
        row = self._exec(
            "SELECT 1 FROM relationships WHERE source_id = ? OR target_id = ? LIMIT 1",
            (twin_id, twin_id),
        ).fetchone()
        return row is not None

    def append_events(self, events: Sequence[NewEvent]) -> list[int]:
        if not events:
            return []
        self._store.lock_event_sequence(self._cur)
        seqs = self._store.reserve_event_seqs(self._cur, len(events))
        self._cur.executemany(
            self._store.sql(
                "INSERT INTO events (seq, time, kind, twin_id, model_id, relationship_id, "
                "revision, data) VALUES (?, ?, ?, ?, ?, ?, ?, {J})"),
            [(seq, e.time, e.kind, e.twin_id, e.model_id, e.relationship_id, e.revision,
              dumps(e.data)) for seq, e in zip(seqs, events, strict=True)],
        )
        return seqs

    def put_document(self, kind: str, key: str, document: dict[str, Any] | None,
                     updated: float) -> None:
        if document is None:
            self._exec("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
            return
        self._exec("INSERT INTO documents (kind, key, document, updated) VALUES (?, ?, {J}, ?) "
                   "ON CONFLICT (kind, key) DO UPDATE SET document = excluded.document, "
                   "updated = excluded.updated", (kind, key, dumps(document), updated))

    def update_document(self, kind: str, key: str, document: dict[str, Any],
                        updated: float) -> bool:
        cursor = self._exec("UPDATE documents SET document = {J}, updated = ? WHERE kind = ? "
                            "AND key = ?", (dumps(document), updated, kind, key))
        return bool(cursor.rowcount)

    def compare_and_set_document(self, kind: str, key: str, expected: dict[str, Any] | None,
                                 document: dict[str, Any] | None, updated: float) -> bool:
        if expected is None:
            if document is None:
                return self._exec("SELECT 1 FROM documents WHERE kind = ? AND key = ?",
                                  (kind, key)).fetchone() is None
            # of two writers inserting at once, the second waits for the first and inserts
            # nothing
            cursor = self._exec("INSERT INTO documents (kind, key, document, updated) "
                                "VALUES (?, ?, {J}, ?) ON CONFLICT (kind, key) DO NOTHING",
                                (kind, key, dumps(document), updated))
            return bool(cursor.rowcount == 1)
        # the row is locked from this read to the end of the transaction (SQLite: the whole
        # database, BEGIN IMMEDIATE); a writer that held it first is seen with its change
        row = self._exec(f"SELECT document FROM documents WHERE kind = ? AND key = ?"
                         f"{self._store.FOR_UPDATE}", (kind, key)).fetchone()
        if row is None or loads(row[0]) != expected:
            return False
        if document is None:
            self._exec("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
        else:
            self._exec("UPDATE documents SET document = {J}, updated = ? WHERE kind = ? "
                       "AND key = ?", (dumps(document), updated, kind, key))
        return True

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self._cur.executemany(self._store.sql(_INSERT_DEAD_LETTER),
                                  [_dead_letter_row(d) for d in letters])

    def insert_telemetry_flags(self, points: Sequence[TelemetryPoint]) -> list[bool]:
        if not points:
            return []
        # Redeliveries are rare: insert everything under a savepoint, and only when the count
        # shows duplicates roll back, look up the keys already stored and insert the rest.
        self._cur.execute("SAVEPOINT telemetry_flags")
        if self.insert_telemetry(points) == len(points):
            self._cur.execute("RELEASE SAVEPOINT telemetry_flags")
            return [True] * len(points)
        self._cur.execute("ROLLBACK TO SAVEPOINT telemetry_flags")
        stored = self._store.existing_telemetry_keys(self._cur, points)
        flags: list[bool] = []
        for p in points:
            key = (p.twin_id, p.signal, p.time)
            flags.append(key not in stored)
            stored.add(key)
        self.insert_telemetry([p for p, new in zip(points, flags, strict=True) if new])
        self._cur.execute("RELEASE SAVEPOINT telemetry_flags")
        return flags

    def insert_telemetry(self, points: Sequence[TelemetryPoint]) -> int:
        if not points:
            return 0
        inserted = self._store.bulk_insert_telemetry(self._cur, points)
        latest: dict[tuple[str, str], TelemetryPoint] = {}
        for p in points:
            key = (p.twin_id, p.signal)
            if key not in latest or p.time >= latest[key].time:
                latest[key] = p
        self._cur.executemany(
            self._store.sql(
                "INSERT INTO telemetry_latest (twin_id, signal, time, value, raw) "
                "VALUES (?, ?, ?, ?, {J}) ON CONFLICT (twin_id, signal) DO UPDATE SET "
                "time = excluded.time, value = excluded.value, raw = excluded.raw "
                "WHERE excluded.time >= telemetry_latest.time"
            ),
            [(p.twin_id, p.signal, p.time, p.value, _raw(p)) for p in latest.values()],
        )
        return inserted


def _raw(p: TelemetryPoint) -> str | None:
    return None if p.raw is None else dumps(p.raw)


class SqlStore(Store):
    """Store logic common to SQL databases; subclasses supply connections and dialect bits."""

    #: appended to the SELECT in :meth:`Transaction.get_twin` to lock the row
    FOR_UPDATE = ""
    #: SQL that turns ``(time - start) / interval`` into a whole bucket number
    FLOOR = "CAST(({x}) AS INTEGER)"
    #: how queries read JSON documents (see :mod:`holotwin.store.querysql`)
    QUERY_DIALECT: Dialect = SqliteDialect()
    #: driver errors a generated query may raise for a valid but unrunnable query
    QUERY_ERRORS: tuple[type[Exception], ...] = ()

    @abstractmethod
    def sql(self, statement: str) -> str:
        """Rewrite a statement written with ``?`` and ``{J}`` for this dialect."""

    @abstractmethod
    @contextmanager
    def _read(self) -> Iterator[Any]:
        """A cursor for reads."""

    @abstractmethod
    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A cursor inside a write transaction, committed on clean exit."""

    @abstractmethod
    def bulk_insert_telemetry(self, cursor: Any, points: Sequence[TelemetryPoint]) -> int: ...

    def existing_telemetry_keys(
        self, cursor: Any, points: Sequence[TelemetryPoint]
    ) -> set[tuple[str, str, float]]:
        """The (twin, signal, time) keys of ``points`` already stored."""
        found: set[tuple[str, str, float]] = set()
        for chunk in iter_chunks(points, 2000):
            rows = ", ".join("(?, ?, ?)" for _ in chunk)
            params = [v for p in chunk for v in (p.twin_id, p.signal, p.time)]
            cursor.execute(
                self.sql(
                    "SELECT twin_id, signal, time FROM telemetry WHERE (twin_id, signal, time) "
                    f"IN (VALUES {rows})"
                ),
                params,
            )
            found.update((r[0], r[1], float(r[2])) for r in cursor.fetchall())
        return found

    def lock_event_sequence(self, cursor: Any) -> None:
        """Make event numbers commit in order (needed where writers run concurrently)."""

    @abstractmethod
    def reserve_event_seqs(self, cursor: Any, count: int) -> list[int]:
        """The next ``count`` event numbers, ascending, inside the writing transaction (after
        :meth:`lock_event_sequence`); events are then inserted with them in one statement."""

    def twin_models(self, twin_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in iter_chunks(list(twin_ids), 500):
            params: list[Any] = []
            where = self._in("id", chunk, params)
            found.update((r[0], r[1])
                         for r in self._all(f"SELECT id, model_id FROM twins WHERE {where}", params))
        return found

    # helpers -------------------------------------------------------------------------------
    def _all(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._read() as cur:
            cur.execute(self.sql(statement), params)
            return list(cur.fetchall())

    def _one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        rows = self._all(statement, params)
        return rows[0] if rows else None

    def _exec(self, statement: str, params: Sequence[Any] = ()) -> int:
        with self._write() as cur:
            cur.execute(self.sql(statement), params)
            return int(cur.rowcount)

    @staticmethod
    def _in(column: str, values: Collection[str], params: list[Any]) -> str:
        params.extend(values)
        return f"{column} IN ({', '.join('?' for _ in values)})"

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._write() as cur:
            yield SqlTransaction(self, cur)

    # models --------------------------------------------------------------------------------
    def put_models(self, records: Sequence[ModelRecord]) -> None:
        with self._write() as cur:
            row = cur.execute(self.sql("SELECT coalesce(max(ord), 0) FROM models")).fetchone()
            base = int(row[0])
            cur.executemany(
                self.sql(
                    "INSERT INTO models (id, document, upload_time, decommissioned, ord) "
                    "VALUES (?, {J}, ?, ?, ?)"
                ),
                [(r.id, dumps(r.document), r.upload_time, r.decommissioned, base + i + 1)
                 for i, r in enumerate(records)],
            )

    def list_models(self) -> list[ModelRecord]:
        return [
            ModelRecord(r[0], loads(r[1]), float(r[2]), bool(r[3]))
            for r in self._all(
                "SELECT id, document, upload_time, decommissioned FROM models ORDER BY ord"
            )
        ]

    def set_model_decommissioned(self, model_id: str, flag: bool) -> None:
        self._exec("UPDATE models SET decommissioned = ? WHERE id = ?", (flag, model_id))

    def delete_model(self, model_id: str) -> None:
        self._exec("DELETE FROM models WHERE id = ?", (model_id,))

    # twins and relationships ---------------------------------------------------------------
    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._one(f"SELECT {_TWIN_COLS} FROM twins WHERE id = ?", (twin_id,))
        return _twin(row) if row else None

    def list_twins(
        self, model_ids: Collection[str] | None = None, after: str | None = None, limit: int = 1000
    ) -> list[TwinRecord]:
        where: list[str] = []
        params: list[Any] = []
        if model_ids is not None:
            if not model_ids:
                return []
            where.append(self._in("model_id", list(model_ids), params))
        if after is not None:
            where.append("id > ?")
            params.append(after)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        params.append(limit)
        rows = self._all(f"SELECT {_TWIN_COLS} FROM twins{clause} ORDER BY id LIMIT ?", params)
        return [_twin(r) for r in rows]

    def count_twins(self) -> int:
        return int(self._one("SELECT count(*) FROM twins")[0])

    def get_relationship(self, source_id: str, relationship_id: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT document FROM relationships WHERE source_id = ? AND id = ?",
            (source_id, relationship_id),
        )
        return loads(row[0]) if row else None

    def list_relationships(self, source_id: str, name: str | None = None) -> list[dict[str, Any]]:
        if name is None:
            rows = self._all(
                "SELECT document FROM relationships WHERE source_id = ? ORDER BY id", (source_id,)
            )
        else:
            rows = self._all(
                "SELECT document FROM relationships WHERE source_id = ? AND name = ? ORDER BY id",
                (source_id, name),
            )
        return [loads(r[0]) for r in rows]

    def list_incoming(self, target_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT document FROM relationships WHERE target_id = ? ORDER BY source_id, id",
            (target_id,),
        )
        return [loads(r[0]) for r in rows]

    def query(self, query: Query, after: Sequence[Any] | None = None, limit: int = 100) -> QueryPage:
        if limit < 1:
            raise QueryError(f"The page size must be at least 1, not {limit}")
        if query.select.kind == "count":
            compiled = compile_count(query, self.QUERY_DIALECT)
            rows = self._query_rows(compiled.sql, compiled.params)
            return QueryPage([compiled.decode(rows[0])], None)
        compiled = compile_page(query, self.QUERY_DIALECT, after, limit + 1)
        rows = self._query_rows(compiled.sql, compiled.params)
        more = len(rows) > limit
        rows = rows[:limit]
        cursor = list(rows[-1][-compiled.key_width:]) if more else None
        return QueryPage([compiled.decode(r) for r in rows], cursor)

    def _query_rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._all(statement, params)
        except self.QUERY_ERRORS as exc:
            raise QueryError(f"The query could not be run: {str(exc).splitlines()[0]}") from exc

    # events --------------------------------------------------------------------------------
    def read_events(
        self,
        after: int = 0,
        limit: int = 1000,
        twin_ids: Collection[str] | None = None,
        model_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[ChangeEvent]:
        params: list[Any] = [after]
        where = ["seq > ?"]
        for column, values in (("twin_id", twin_ids), ("model_id", model_ids), ("kind", kinds)):
            if values is not None:
                if not values:
                    return []
                where.append(self._in(column, list(values), params))
        params.append(limit)
        rows = self._all(
            f"SELECT {_EVENT_COLS} FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
            params,
        )
        return [_event(r) for r in rows]

    def last_event_seq(self) -> int:
        return int(self._one("SELECT coalesce(max(seq), 0) FROM events")[0])

    def twin_history(
        self, twin_id: str, start: float | None = None, end: float | None = None,
        limit: int = 1000, newest_first: bool = False,
    ) -> list[ChangeEvent]:
        params: list[Any] = [twin_id]
        where = "twin_id = ? AND kind LIKE 'twin.%'"
        if start is not None:
            where += " AND time >= ?"
            params.append(start)
        if end is not None:
            where += " AND time < ?"
            params.append(end)
        params.append(limit)
        rows = self._all(
            f"SELECT {_EVENT_COLS} FROM events WHERE {where} ORDER BY seq"
            f"{' DESC' if newest_first else ''} LIMIT ?", params
        )
        return [_event(r) for r in rows]

    def twin_event_at(self, twin_id: str, t: float) -> ChangeEvent | None:
        row = self._one(
            f"SELECT {_EVENT_COLS} FROM events WHERE twin_id = ? AND kind LIKE 'twin.%' "
            "AND time <= ? ORDER BY seq DESC LIMIT 1",
            (twin_id, t),
        )
        return _event(row) if row else None

    # telemetry -----------------------------------------------------------------------------
    def telemetry_range(
        self, twin_id: str, signal: str, start: float, end: float, limit: int = 10000
    ) -> list[TelemetryPoint]:
        rows = self._all(
            "SELECT twin_id, signal, time, value, raw FROM telemetry WHERE twin_id = ? AND "
            "signal = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?",
            (twin_id, signal, start, end, limit),
        )
        return [_point(r) for r in rows]

    def telemetry_buckets(
        self, twin_id: str, signal: str, start: float, end: float, interval: float
    ) -> list[Bucket]:
        bucket = self.FLOOR.format(x="(time - ?) / ?")
        rows = self._all(
            f"WITH t AS (SELECT {bucket} AS b, time, value FROM telemetry WHERE twin_id = ? AND "
            "signal = ? AND time >= ? AND time < ? AND value IS NOT NULL) "
            "SELECT b, count(*), min(value), max(value), avg(value), "
            "(SELECT t2.value FROM t AS t2 WHERE t2.b = t.b ORDER BY t2.time DESC LIMIT 1) "
            "FROM t GROUP BY b ORDER BY b",
            (start, interval, twin_id, signal, start, end),
        )
        return [
            Bucket(start + int(r[0]) * interval, int(r[1]), _f(r[2]), _f(r[3]), _f(r[4]), _f(r[5]))
            for r in rows
        ]

    def latest_telemetry(self, twin_id: str) -> list[TelemetryPoint]:
        rows = self._all(
            "SELECT twin_id, signal, time, value, raw FROM telemetry_latest WHERE twin_id = ? "
            "ORDER BY signal",
            (twin_id,),
        )
        return [_point(r) for r in rows]

    # dead letters --------------------------------------------------------------------------
    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            with self.transaction() as tx:
                tx.put_dead_letters(letters)

    def list_dead_letters(self, after_id: int = 0, limit: int = 100) -> list[DeadLetter]:
        rows = self._all(
            "SELECT id, time, source, topic, payload, encoding, stage, reason FROM dead_letters "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [DeadLetter(float(r[1]), r[2], r[3], r[4], r[6], r[7], r[5], int(r[0]))
                for r in rows]

    def get_document(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self._one("SELECT document FROM documents WHERE kind = ? AND key = ?", (kind, key))
        return None if row is None else dict(loads(row[0]))

    def list_documents(self, kind: str, keys: Collection[str] | None = None
                       ) -> dict[str, dict[str, Any]]:
        if keys is not None and not keys:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for chunk in [None] if keys is None else iter_chunks(sorted(keys), 500):
            params: list[Any] = [kind]
            where = "" if chunk is None else " AND " + self._in("key", chunk, params)
            found.update((r[0], loads(r[1])) for r in self._all(
                f"SELECT key, document FROM documents WHERE kind = ?{where} ORDER BY key",
                params))
        return found

    def count_dead_letters(self) -> int:
        return int(self._one("SELECT count(*) FROM dead_letters")[0])

    # API keys ------------------------------------------------------------------------------
    def put_api_key(self, record: ApiKeyRecord) -> None:
        self._exec(
            "INSERT INTO api_keys (id, name, scope, secret_hash, created) VALUES (?, ?, ?, ?, ?)",
            (record.id, record.name, record.scope, record.secret_hash, record.created),
        )

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self._one(
            "SELECT id, name, scope, secret_hash, created FROM api_keys WHERE id = ?", (key_id,)
        )
        return ApiKeyRecord(row[0], row[1], row[2], row[3], float(row[4])) if row else None

    def list_api_keys(self) -> list[ApiKeyRecord]:
        return [
            ApiKeyRecord(r[0], r[1], r[2], r[3], float(r[4]))
            for r in self._all(
                "SELECT id, name, scope, secret_hash, created FROM api_keys ORDER BY created, id"
            )
        ]

    def delete_api_key(self, key_id: str) -> bool:
        return self._exec("DELETE FROM api_keys WHERE id = ?", (key_id,)) > 0


def _f(v: Any) -> float | None:
    return None if v is None else float(v)
