"""The application service: the one place that wires the core (models, twins) to a store.

Everything a user can do goes through :class:`TwinService`: the REST API, the CLI, the demo and
the Python API call it; it knows nothing of HTTP. It validates with the core, writes the change
and its event in one store transaction, and then tells listeners (the change feed) that new
events exist.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holotwin.clock import Clock, SystemClock, to_iso
from holotwin.compute import Executor, LocalExecutor
from holotwin.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PreconditionFailedError,
)
from holotwin.models import ModelRegistry
from holotwin.service.alerts import AlertMethods
from holotwin.service.behaviors import BehaviorMethods
from holotwin.service.kpis import KpiMethods
from holotwin.service.optimizations import OptimizationMethods
from holotwin.service.query import run_query
from holotwin.service.readings import TelemetryMethods
from holotwin.service.scenarios import ScenarioMethods
from holotwin.store.base import (
    ModelRecord,
    Store,
    Transaction,
    TwinRecord,
)
from holotwin.twins import (
    ChangeEvent,
    NewEvent,
    TwinChange,
    ack_desired,
    build_relationship,
    create_twin_document,
    merge_patch_twin_document,
    patch_relationship,
    patch_twin_document,
    set_desired,
)

__all__ = ["TwinService", "WriteResult"]

log = logging.getLogger("holotwin.service")

MAX_ID_LENGTH = 256


def _new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _check_id(kind: str, value: str) -> None:
    if not value or len(value) > MAX_ID_LENGTH or any(c in value for c in "/\\?#\x00"):
        raise InvalidInputError(
            f"Invalid {kind} id {value!r}: 1 to {MAX_ID_LENGTH} characters, none of / \\ ? #"
        )


def _check_if_match(kind: str, id: str, current: str | None, if_match: str | None) -> None:
    if if_match is None:
        return
    if current is None:
        raise NotFoundError(kind, id)
    if if_match.strip() != "*" and if_match.strip() != current:
        raise PreconditionFailedError(
            f"{kind[:1].upper()}{kind[1:]} '{id}' has etag {current}, not {if_match}",
            expected=if_match,
            actual=current,
        )


@dataclass(frozen=True)
class WriteResult:
    """A document after a write, and whether the write created it."""

    document: dict[str, Any]
    created: bool = False


class TwinService(TelemetryMethods, BehaviorMethods, ScenarioMethods, OptimizationMethods,
                  AlertMethods, KpiMethods):
    """Models, twins, relationships, telemetry and the change log of one holotwin instance.

    ``executor`` runs the independent parts of scenarios (replications of a line, candidates
    of an optimization) and is closed with the service (default: in this process, see
    :mod:`holotwin.compute`); ``fmu_dir`` is the folder behavior bindings may take FMU files
    from (None: FMU bindings are refused).
    """

    def __init__(self, store: Store, clock: Clock | None = None, *,
                 executor: Executor | None = None, fmu_dir: Path | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.executor: Executor = executor if executor is not None else LocalExecutor(workers=1)
        self.fmu_dir = None if fmu_dir is None else Path(fmu_dir)
        self.registry = ModelRegistry()
        self._model_lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self._model_records: dict[str, ModelRecord] = {}
        records = store.list_models()
        if records:
            self.registry.add([r.document for r in records])
            for r in records:
                self._model_records[r.id] = r
                if r.decommissioned:
                    self.registry.decommission(r.id)

    # change notification ---------------------------------------------------------------------
    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(last_seq)`` after every committed write (from the writing thread)."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[int], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def _notify(self, seqs: Sequence[int]) -> None:
        if seqs:
            for callback in list(self._listeners):
                callback(max(seqs))

    # models ----------------------------------------------------------------------------------
    def add_models(self, documents: object) -> list[ModelRecord]:
        """Validate and store a batch of DTDL interfaces (all or nothing)."""
        if isinstance(documents, dict):
            documents = [documents]
        if not isinstance(documents, list) or not documents:
            raise InvalidInputError("Models must be a non-empty JSON array of DTDL interfaces")
        with self._model_lock:
            added = self.registry.add(documents)
            now = self.clock.now()
            records = [ModelRecord(i.id, self.registry.document(i.id), now) for i in added]
            try:
                self.store.put_models(records)
            except BaseException:
                self.registry.remove_many([i.id for i in added])
                raise
            for r in records:
                self._model_records[r.id] = r
            return records

    def get_model(self, model_id: str) -> ModelRecord:
        record = self._model_records.get(model_id)
        if record is None:
            raise NotFoundError("model", model_id)
        return ModelRecord(record.id, record.document, record.upload_time,
                           self.registry.is_decommissioned(model_id))

    def list_models(self, dependencies_for: Iterable[str] | None = None) -> list[ModelRecord]:
        """All models, or only those given plus what they depend on."""
        ids = self.registry.ids()
        if dependencies_for is not None:
            wanted: list[str] = []
            for model_id in dependencies_for:
                self.registry.require(model_id)
                for dep in [*self.registry.dependencies(model_id), model_id]:
                    if dep not in wanted:
                        wanted.append(dep)
            ids = [i for i in ids if i in wanted]
        return [self.get_model(i) for i in ids]

    def decommission_model(self, model_id: str, flag: bool = True) -> None:
        with self._model_lock:
            self.registry.require(model_id)
            self.store.set_model_decommissioned(model_id, flag)
            self.registry.decommission(model_id, flag)

    def delete_model(self, model_id: str) -> None:
        with self._model_lock:
            self.registry.require(model_id)
            if self.store.list_twins(model_ids=[model_id], limit=1):
                raise ConflictError(
                    f"Model '{model_id}' still has twins; delete them before the model"
                )
            self.registry.remove(model_id)  # raises ConflictError while referenced
            self.store.delete_model(model_id)
            self._model_records.pop(model_id, None)

    def model_family(self, model_id: str) -> set[str]:
        """The model and every model that extends it."""
        self.registry.require(model_id)
        return self.registry.descendants(model_id)

    # twins -----------------------------------------------------------------------------------
    def _view(self, record: TwinRecord) -> dict[str, Any]:
        doc = dict(record.document)
        doc["$etag"] = record.etag
        return doc

    def _require_twin(self, tx: Transaction, twin_id: str) -> TwinRecord:
        record = tx.get_twin(twin_id)
        if record is None:
            raise NotFoundError("twin", twin_id)
        return record

    def _write_twin(
        self,
        tx: Transaction,
        kind: str,
        twin_id: str,
        change: TwinChange,
        revision: int,
        now: float,
    ) -> tuple[dict[str, Any], list[int]]:
        etag = _new_etag()
        doc = change.document
        doc["$metadata"]["$revision"] = revision
        record = TwinRecord(twin_id, doc["$metadata"]["$model"], etag, revision, doc, now)
        if kind == "twin.created":
            # No row existed to lock: a concurrent creator may have won the race.
            if not tx.insert_twin(record):
                raise PreconditionFailedError(
                    f"Twin '{twin_id}' was created by another request at the same time"
                )
        else:
            tx.put_twin(record)
        view = self._view(record)
        seqs = tx.append_events(
            [NewEvent(kind, now, twin_id, record.model_id,
                      {"twin": view, "changed": change.changed}, revision)]
        )
        return view, seqs

    def get_twin(self, twin_id: str, *, with_telemetry: bool = False) -> dict[str, Any]:
        record = self.store.get_twin(twin_id)
        if record is None:
            raise NotFoundError("twin", twin_id)
        view = self._view(record)
        if with_telemetry:
            latest = self.store.latest_telemetry(twin_id)
            if latest:
                view["$metadata"] = dict(view["$metadata"])
                view["$metadata"]["$telemetry"] = {
                    p.signal: {"value": p.value if p.raw is None else p.raw,
                               "sourceTime": to_iso(p.time)}
                    for p in latest
                }
        return view

    def put_twin(
        self,
        twin_id: str,
        body: object,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> WriteResult:
        """Create a twin, or replace it (``If-None-Match: *`` forbids replacing)."""
        _check_id("twin", twin_id)
        now = self.clock.now()
        change = create_twin_document(twin_id, body, self.registry, to_iso(now))
        with self.store.transaction() as tx:
            current = tx.get_twin(twin_id)
            if current is not None and if_none_match is not None and if_none_match.strip() == "*":
                raise PreconditionFailedError(f"Twin '{twin_id}' already exists")
            _check_if_match("twin", twin_id, current.etag if current else None, if_match)
            if current is None:
                last = self.store.twin_event_at(twin_id, float("inf"))
                revision = (last.revision or 0) + 1 if last else 1
            else:
                revision = current.revision + 1
            kind = "twin.created" if current is None else "twin.updated"
            view, seqs = self._write_twin(tx, kind, twin_id, change, revision, now)
        self._notify(seqs)
        return WriteResult(view, created=current is None)

    def _update(
        self,
        twin_id: str,
        if_match: str | None,
        apply: Callable[[dict[str, Any], str], TwinChange],
    ) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            current = self._require_twin(tx, twin_id)
            _check_if_match("twin", twin_id, current.etag, if_match)
            change = apply(current.document, to_iso(now))
            if not change.changed:
                return self._view(current)
            view, seqs = self._write_twin(tx, "twin.updated", twin_id, change,
                                          current.revision + 1, now)
        self._notify(seqs)
        return view

    def patch_twin(self, twin_id: str, ops: object, *, if_match: str | None = None) -> dict[str, Any]:
        """Apply a JSON Patch (RFC 6902) to a twin."""
        return self._update(
            twin_id, if_match, lambda doc, now: patch_twin_document(doc, ops, self.registry, now)
        )

    def merge_patch_twin(
        self, twin_id: str, patch: object, *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386) to a twin."""
        return self._update(
            twin_id, if_match,
            lambda doc, now: merge_patch_twin_document(doc, patch, self.registry, now),
        )

    def set_desired(
        self, twin_id: str, values: object, *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Set desired values of writable properties; reported values stay as they are."""
        return self._update(
            twin_id, if_match, lambda doc, now: set_desired(doc, values, self.registry, now)
        )

    def ack_desired(
        self, twin_id: str, prop: str, version: int, code: int, description: str = ""
    ) -> dict[str, Any]:
        """Record a device's answer (``code``: 200 done, 4xx/5xx refused) to desired version
        ``version`` of ``prop`` without changing the reported value; an answer to an older
        version than the current desired one changes nothing."""
        return self._update(
            twin_id, None,
            lambda doc, now: ack_desired(doc, prop, version, code, description, self.registry,
                                         now),
        )

    def delete_twin(self, twin_id: str, *, if_match: str | None = None) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            current = self._require_twin(tx, twin_id)
            _check_if_match("twin", twin_id, current.etag, if_match)
            if tx.has_relationships(twin_id):
                raise ConflictError(
                    f"Twin '{twin_id}' still has relationships; delete them before the twin"
                )
            tx.delete_twin(twin_id)
            seqs = tx.append_events(
                [NewEvent("twin.deleted", now, twin_id, current.model_id,
                          {"twin": None, "changed": []}, current.revision + 1)]
            )
        self._notify(seqs)

    def list_twins(
        self, model_id: str | None = None, after: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Twins ordered by id; with ``model_id`` only twins of it or models extending it."""
        models = self.model_family(model_id) if model_id else None
        return [self._view(r) for r in self.store.list_twins(models, after, limit)]

    def count_twins(self) -> int:
        return self.store.count_twins()

    # components ------------------------------------------------------------------------------
    def _require_component(self, doc: dict[str, Any], name: str) -> None:
        iface = self.registry.require(doc["$metadata"]["$model"])
        if name not in iface.components:
            raise NotFoundError("component", f"{doc['$dtId']}/{name}",
                                f"Model {iface.id} has no component '{name}'")

    def read_component(self, twin_id: str, name: str) -> tuple[dict[str, Any], str]:
        """A component of a twin and the twin's etag, from one read."""
        doc = self.get_twin(twin_id)
        self._require_component(doc, name)
        value = doc.get(name)
        return (dict(value) if isinstance(value, dict) else {"$metadata": {}}), doc["$etag"]

    def get_component(self, twin_id: str, name: str) -> dict[str, Any]:
        return self.read_component(twin_id, name)[0]

    def patch_component(
        self, twin_id: str, name: str, ops: object, *, if_match: str | None = None
    ) -> dict[str, Any]:
        def apply(doc: dict[str, Any], now: str) -> TwinChange:
            self._require_component(doc, name)
            return patch_twin_document(doc, ops, self.registry, now, prefix=f"/{name}")

        return self._update(twin_id, if_match, apply)

    # history ---------------------------------------------------------------------------------
    def twin_at(self, twin_id: str, t: float) -> dict[str, Any]:
        """The twin as it was at time ``t`` (epoch seconds)."""
        event = self.store.twin_event_at(twin_id, t)
        if event is None or event.data.get("twin") is None:
            raise NotFoundError("twin", twin_id, f"Twin '{twin_id}' did not exist at {to_iso(t)}")
        twin: dict[str, Any] = event.data["twin"]
        return twin

    def twin_history(
        self, twin_id: str, start: float | None = None, end: float | None = None,
        limit: int = 1000, newest_first: bool = False,
    ) -> list[ChangeEvent]:
        """The twin's change events, oldest first (``newest_first``: the newest ``limit``,
        newest first)."""
        return self.store.twin_history(twin_id, start, end, limit, newest_first)

    # relationships ---------------------------------------------------------------------------
    def put_relationship(
        self,
        source_id: str,
        relationship_id: str,
        body: object,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> WriteResult:
        _check_id("relationship", relationship_id)
        now = self.clock.now()
        with self.store.transaction() as tx:
            source = self._require_twin(tx, source_id)
            target_id = body.get("$targetId") if isinstance(body, dict) else None
            target = tx.get_twin(target_id) if isinstance(target_id, str) else None
            doc = build_relationship(
                source.document, relationship_id, body,
                target.document if target else None, self.registry,
            )
            current = tx.get_relationship(source_id, relationship_id)
            if current is not None and if_none_match is not None and if_none_match.strip() == "*":
                raise PreconditionFailedError(f"Relationship '{relationship_id}' already exists")
            _check_if_match("relationship", relationship_id,
                            current["$etag"] if current else None, if_match)
            rel = self.registry.require(source.model_id).relationships[doc["$relationshipName"]]
            if current is None or current["$relationshipName"] != doc["$relationshipName"]:
                count = tx.count_relationships(source_id, doc["$relationshipName"])
                if rel.max_multiplicity is not None and count >= rel.max_multiplicity:
                    raise ConflictError(
                        f"Twin '{source_id}' already has {count} '{rel.name}' relationships, "
                        f"the most its model allows (maxMultiplicity {rel.max_multiplicity})"
                    )
            doc["$etag"] = _new_etag()
            tx.put_relationship(doc)
            kind = "relationship.created" if current is None else "relationship.updated"
            seqs = tx.append_events(
                [NewEvent(kind, now, source_id, source.model_id, {"relationship": doc},
                          relationship_id=relationship_id)]
            )
        self._notify(seqs)
        return WriteResult(doc, created=current is None)

    def get_relationship(self, source_id: str, relationship_id: str) -> dict[str, Any]:
        doc = self.store.get_relationship(source_id, relationship_id)
        if doc is None:
            raise NotFoundError("relationship", relationship_id,
                                f"Relationship '{relationship_id}' of twin '{source_id}' was not found")
        return doc

    def patch_relationship(
        self, source_id: str, relationship_id: str, ops: object, *, if_match: str | None = None
    ) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            source = self._require_twin(tx, source_id)
            current = tx.get_relationship(source_id, relationship_id)
            if current is None:
                raise NotFoundError("relationship", relationship_id)
            _check_if_match("relationship", relationship_id, current["$etag"], if_match)
            doc = patch_relationship(current, ops, source.document, self.registry)
            doc["$etag"] = _new_etag()
            tx.put_relationship(doc)
            seqs = tx.append_events(
                [NewEvent("relationship.updated", now, source_id, source.model_id,
                          {"relationship": doc}, relationship_id=relationship_id)]
            )
        self._notify(seqs)
        return doc

    def delete_relationship(
        self, source_id: str, relationship_id: str, *, if_match: str | None = None
    ) -> None:
        now = self.clock.now()
        with self.store.transaction() as tx:
            source = self._require_twin(tx, source_id)
            current = tx.get_relationship(source_id, relationship_id)
            if current is None:
                raise NotFoundError("relationship", relationship_id)
            _check_if_match("relationship", relationship_id, current["$etag"], if_match)
            tx.delete_relationship(source_id, relationship_id)
            seqs = tx.append_events(
                [NewEvent("relationship.deleted", now, source_id, source.model_id,
                          {"relationship": current}, relationship_id=relationship_id)]
            )
        self._notify(seqs)

    def list_relationships(self, source_id: str, name: str | None = None) -> list[dict[str, Any]]:
        if self.store.get_twin(source_id) is None:
            raise NotFoundError("twin", source_id)
        return self.store.list_relationships(source_id, name)

    def list_incoming(self, target_id: str) -> list[dict[str, Any]]:
        if self.store.get_twin(target_id) is None:
            raise NotFoundError("twin", target_id)
        return self.store.list_incoming(target_id)

    # change feed -----------------------------------------------------------------------------
    def read_events(
        self,
        after: int = 0,
        limit: int = 1000,
        twin_ids: Collection[str] | None = None,
        model_id: str | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[ChangeEvent]:
        """Events after ``after``; ``model_id`` matches twins of that model or any extending it."""
        models = self.model_family(model_id) if model_id else None
        return self.store.read_events(after, limit, twin_ids, models, kinds)

    def last_event_seq(self) -> int:
        return self.store.last_event_seq()

    # query -----------------------------------------------------------------------------------
    def query(
        self, text: object, continuation: str | None = None, page_size: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Run a query (the Azure Digital Twins query language, see :mod:`holotwin.query`);
        return one page of results and the token for the next page (or None)."""
        return run_query(self.store, self.model_family, text, continuation, page_size)

    def close(self) -> None:
        try:
            self.executor.close()
        finally:
            self.store.close()
