"""Stored runs (scenarios, optimizations): a document whose ``status`` and ``progress``
follow its run, kept in the store's documents of one kind: :class:`RunDocuments`.

``status`` is ``created``, ``running``, ``done`` or ``failed`` (with the reason in
``error``); ``progress`` goes from 0 to 1 while it runs. A run can be started on a background
thread; its failure is then recorded on the document only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from holotwin.clock import Clock, to_iso
from holotwin.errors import NotFoundError
from holotwin.store.base import Store

__all__ = ["DeletedWhileRunning", "RunDocuments"]

Progress = Callable[[float], None]


class DeletedWhileRunning(NotFoundError):
    """The document of a run was deleted while it ran (the run stops at its next step)."""


class RunDocuments:
    """The documents of one ``kind`` (``"scenario"``) in ``store``; see the module docs."""

    def __init__(self, store: Store, clock: Clock, kind: str) -> None:
        self.store, self.clock, self.kind = store, clock, kind

    def save(self, doc: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.put_document(self.kind, doc["id"], doc, self.clock.now())

    def get(self, key: str) -> dict[str, Any]:
        doc = self.store.get_document(self.kind, key)
        if doc is None:
            raise NotFoundError(self.kind, key)
        return doc

    def list(self, leave_out: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k not in leave_out}
                for d in self.store.list_documents(self.kind).values()]

    def delete(self, key: str) -> None:
        self.get(key)
        with self.store.transaction() as tx:
            tx.put_document(self.kind, key, None, self.clock.now())

    def _update(self, doc: dict[str, Any]) -> None:
        """Save a document that is running: :class:`DeletedWhileRunning` if it was deleted
        meanwhile (it stays deleted)."""
        with self.store.transaction() as tx:
            if not tx.update_document(self.kind, doc["id"], doc, self.clock.now()):
                raise DeletedWhileRunning(self.kind, doc["id"], f"The {self.kind} {doc['id']} "
                                          "was deleted while it ran")

    def run(self, key: str, work: Callable[[dict[str, Any], Progress], dict[str, Any]],
            progress: Progress | None = None) -> dict[str, Any]:
        """Run ``work(doc, step)`` on the document ``key``, keeping its status and progress
        (``step(fraction)`` saves it and calls ``progress``); the document gets what ``work``
        returns, ``ran`` and ``status`` done, and is returned. An exception marks it failed,
        with the reason, and is raised again. Deleting the document while it runs stops the
        run at its next step (:class:`DeletedWhileRunning`) and the document stays deleted."""
        doc = self.get(key)
        doc.update(status="running", progress=0.0, error=None)
        self._update(doc)

        def step(done: float) -> None:
            doc["progress"] = round(done, 3)
            self._update(doc)
            if progress is not None:
                progress(done)

        try:
            outcome = work(doc, step)
        except DeletedWhileRunning:
            raise
        except Exception as exc:
            self._failed(doc, exc)
            raise
        doc.update(status="done", progress=1.0, ran=to_iso(self.clock.now()), **outcome)
        self._update(doc)
        return doc

    def _failed(self, doc: dict[str, Any], exc: Exception) -> None:
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        doc.update(status="failed", error=reason)
        with self.store.transaction() as tx:  # a document deleted meanwhile stays deleted
            tx.update_document(self.kind, doc["id"], doc, self.clock.now())

    def start(self, key: str, run: Callable[[str], object]) -> threading.Thread:
        """``run(key)`` on a background thread (its failure shows on the document only);
        returns the thread."""
        self.get(key)

        def target() -> None:
            try:
                run(key)
            except Exception:  # noqa: BLE001 - recorded on the document as "failed"
                pass

        thread = threading.Thread(target=target, name=f"holotwin-{self.kind}-{key}",
                                  daemon=True)
        thread.start()
        return thread
