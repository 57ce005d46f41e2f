"""The store interface: everything holotwin keeps, behind one API.

Implementations: :class:`~holotwin.store.sqlite.SqliteStore` (embedded default, also the
in-memory double with ``path=":memory:"``) and :class:`~holotwin.store.postgres.PostgresStore`.
One contract test suite (``tests/store/test_contract.py``) runs against both.

Writes that must happen together (a twin and its event) go through :meth:`Store.transaction`;
reads are plain methods. Times are float epoch seconds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from holotwin.twins.events import ChangeEvent, NewEvent

if TYPE_CHECKING:
    from holotwin.query.ast import Query

__all__ = [
    "ApiKeyRecord",
    "Bucket",
    "DeadLetter",
    "ModelRecord",
    "QueryPage",
    "Store",
    "TelemetryPoint",
    "Transaction",
    "TwinRecord",
]


@dataclass(frozen=True)
class TwinRecord:
    """A stored twin: its document plus the columns holotwin indexes."""

    id: str
    model_id: str
    etag: str
    revision: int
    document: dict[str, Any]
    updated: float


@dataclass(frozen=True)
class ModelRecord:
    id: str
    document: dict[str, Any]
    upload_time: float
    decommissioned: bool = False


class TelemetryPoint(NamedTuple):
    """One reading. ``time`` is the source time; ``value`` is set for numbers, ``raw`` otherwise.
    (A named tuple: ingestion makes one per reading, and a tuple is the cheapest to make.)"""

    twin_id: str
    signal: str
    time: float
    value: float | None
    raw: Any = None


@dataclass(frozen=True)
class Bucket:
    """Aggregate of one signal over ``[start, start + interval)``."""

    start: float
    count: int
    min: float | None
    max: float | None
    mean: float | None
    last: float | None


@dataclass(frozen=True)
class DeadLetter:
    """A message ingestion could not use, kept with why.

    ``payload`` is the message as UTF-8 text, or base64 when ``encoding`` is ``"base64"`` (the
    bytes were not valid UTF-8). ``stage`` is where it failed (``decode``, ``map``,
    ``validate``); ``id`` is assigned by the store (0 before it is stored).
    """

    time: float
    source: str
    topic: str
    payload: str
    stage: str
    reason: str
    encoding: str = "utf-8"
    id: int = 0


@dataclass(frozen=True)
class QueryPage:
    """One page of query results; ``cursor`` is the keyset to pass as ``after`` for the next
    page, None when this page is the last."""

    rows: list[dict[str, Any]]
    cursor: list[Any] | None


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    scope: str
    secret_hash: str
    created: float


class Transaction(ABC):
    """Reads and writes inside one database transaction (committed on clean exit)."""

    @abstractmethod
    def get_twin(self, twin_id: str) -> TwinRecord | None:
        """Read a twin, locking it against concurrent writers until the transaction ends."""

    @abstractmethod
    def put_twin(self, record: TwinRecord) -> None: ...

    @abstractmethod
    def insert_twin(self, record: TwinRecord) -> bool:
        """Insert a twin only if its id is free; False if another writer created it first."""

    @abstractmethod
    def delete_twin(self, twin_id: str) -> None: ...

    @abstractmethod
    def get_relationship(self, source_id: str, relationship_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def put_relationship(self, document: dict[str, Any]) -> None:
        """Insert or replace a relationship document (it carries ``$etag``)."""

    @abstractmethod
    def delete_relationship(self, source_id: str, relationship_id: str) -> None: ...

    @abstractmethod
    def count_relationships(self, source_id: str, name: str) -> int: ...

    @abstractmethod
    def has_relationships(self, twin_id: str) -> bool:
        """True if the twin is the source or the target of any relationship."""

    @abstractmethod
    def append_events(self, events: Sequence[NewEvent]) -> list[int]:
        """Store events; return their ``seq`` numbers (increasing, in commit order)."""

    @abstractmethod
    def insert_telemetry_flags(self, points: Sequence[TelemetryPoint]) -> list[bool]:
        """Insert readings like :meth:`insert_telemetry`; return, per reading, whether it was
        new (False for one already stored or repeated earlier in ``points``)."""

    @abstractmethod
    def insert_telemetry(self, points: Sequence[TelemetryPoint]) -> int:
        """Insert readings, skipping any (twin, signal, time) already stored; return how many
        were new. The latest value per (twin, signal) is updated too."""

    @abstractmethod
    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Store dead letters (their ``id`` is ignored; the store numbers them)."""

    @abstractmethod
    def put_document(self, kind: str, key: str, document: dict[str, Any] | None,
                     updated: float) -> None:
        """Create, replace or (``document=None``) delete the document ``(kind, key)``."""

    @abstractmethod
    def update_document(self, kind: str, key: str, document: dict[str, Any],
                        updated: float) -> bool:
        """Replace the document ``(kind, key)`` if it exists (never create it); whether it
        did (a run must not bring back a document deleted while it ran)."""

    @abstractmethod
    def compare_and_set_document(self, kind: str, key: str, expected: dict[str, Any] | None,
                                 document: dict[str, Any] | None, updated: float) -> bool:
        """Make the document ``(kind, key)`` ``document`` (None: delete it) only if it is
        ``expected`` now (equal as JSON; None: there is none); whether it did. Atomic against
        every other writer, in this process or another (leases are taken with it). A stored
        document it matched stays locked until the transaction ends."""


class Store(ABC):
    """Everything holotwin persists."""

    # lifecycle -----------------------------------------------------------------------------
    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]: ...

    # models --------------------------------------------------------------------------------
    @abstractmethod
    def put_models(self, records: Sequence[ModelRecord]) -> None:
        """Store new models in one transaction."""

    @abstractmethod
    def list_models(self) -> list[ModelRecord]:
        """All models in upload order."""

    @abstractmethod
    def set_model_decommissioned(self, model_id: str, flag: bool) -> None: ...

    @abstractmethod
    def delete_model(self, model_id: str) -> None: ...

    # twins and relationships ---------------------------------------------------------------
    @abstractmethod
    def get_twin(self, twin_id: str) -> TwinRecord | None: ...

    @abstractmethod
    def list_twins(
        self, model_ids: Collection[str] | None = None, after: str | None = None, limit: int = 1000
    ) -> list[TwinRecord]:
        """Twins ordered by id, those with id > ``after``, optionally of the given models."""

    @abstractmethod
    def count_twins(self) -> int: ...

    def twin_models(self, twin_ids: Collection[str]) -> dict[str, str]:
        """The model id of each twin of ``twin_ids`` that exists (one round trip where the
        store can; the ingestion pipeline validates a batch with it)."""
        found = {}
        for twin_id in twin_ids:
            record = self.get_twin(twin_id)
            if record is not None:
                found[twin_id] = record.model_id
        return found

    @abstractmethod
    def get_relationship(self, source_id: str, relationship_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_relationships(self, source_id: str, name: str | None = None) -> list[dict[str, Any]]:
        """Outgoing relationships of a twin, ordered by id."""

    @abstractmethod
    def list_incoming(self, target_id: str) -> list[dict[str, Any]]:
        """Relationships pointing at a twin, ordered by (source, id)."""

    @abstractmethod
    def query(self, query: Query, after: Sequence[Any] | None = None, limit: int = 100) -> QueryPage:
        """Run a parsed twin-graph query (its ``IS_OF_MODEL`` model sets already resolved).

        Returns at most ``limit`` rows after the cursor ``after`` (from a previous page), in a
        stable order; a ``COUNT()`` query returns one row ``{"COUNT": n}``. Raises
        :class:`~holotwin.errors.QueryError` for a query the store cannot run.
        """

    # events and history --------------------------------------------------------------------
    @abstractmethod
    def read_events(
        self,
        after: int = 0,
        limit: int = 1000,
        twin_ids: Collection[str] | None = None,
        model_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[ChangeEvent]:
        """Events with seq > ``after`` in seq order, optionally filtered."""

    @abstractmethod
    def last_event_seq(self) -> int: ...

    @abstractmethod
    def twin_history(
        self, twin_id: str, start: float | None = None, end: float | None = None,
        limit: int = 1000, newest_first: bool = False,
    ) -> list[ChangeEvent]:
        """The twin's own change events (kinds ``twin.*``) with start <= time < end, oldest
        first; with ``newest_first`` the newest ``limit`` of them, newest first."""

    @abstractmethod
    def twin_event_at(self, twin_id: str, t: float) -> ChangeEvent | None:
        """The last ``twin.*`` event of the twin at or before time ``t``."""

    # telemetry -----------------------------------------------------------------------------
    @abstractmethod
    def telemetry_range(
        self, twin_id: str, signal: str, start: float, end: float, limit: int = 10000
    ) -> list[TelemetryPoint]:
        """Readings with start <= time < end, oldest first."""

    @abstractmethod
    def telemetry_buckets(
        self, twin_id: str, signal: str, start: float, end: float, interval: float
    ) -> list[Bucket]:
        """min/max/mean/last of numeric readings per ``interval`` seconds, empty buckets left out."""

    @abstractmethod
    def latest_telemetry(self, twin_id: str) -> list[TelemetryPoint]:
        """The newest reading of each of the twin's signals."""

    # dead letters --------------------------------------------------------------------------
    @abstractmethod
    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Store dead letters in one transaction."""

    @abstractmethod
    def list_dead_letters(self, after_id: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Dead letters with id > ``after_id``, oldest first."""

    @abstractmethod
    def count_dead_letters(self) -> int: ...

    # documents -----------------------------------------------------------------------------
    # Small JSON documents by (kind, key): behavior bindings per model, estimator state per
    # twin, ... Written in transactions (Transaction.put_document).
    @abstractmethod
    def get_document(self, kind: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_documents(self, kind: str, keys: Collection[str] | None = None
                       ) -> dict[str, dict[str, Any]]:
        """Documents of ``kind`` by key (only ``keys`` when given), in key order."""

    # API keys ------------------------------------------------------------------------------
    @abstractmethod
    def put_api_key(self, record: ApiKeyRecord) -> None: ...

    @abstractmethod
    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    @abstractmethod
    def list_api_keys(self) -> list[ApiKeyRecord]: ...

    @abstractmethod
    def delete_api_key(self, key_id: str) -> bool: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
