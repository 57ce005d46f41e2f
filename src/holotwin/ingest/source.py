"""The :class:`Source` interface every ingestion source implements, and an in-process source.

A source receives raw messages (from a broker, a server, a file) and hands each one to the
pipeline as a :class:`RawMessage` with an ``ack`` callback. The pipeline calls ``ack`` only
once the message's data (or its dead letter) is committed; a source acknowledges to its peer
then (an MQTT PUBACK, an HTTP response), which is what makes ingestion at-least-once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from holotwin.clock import to_iso
from holotwin.errors import HolotwinError
from holotwin.ingest.mapping import MappingError, Reading, TopicMapping, map_payload

if TYPE_CHECKING:
    from holotwin.ingest.pipeline import IngestPipeline

__all__ = ["InProcessSource", "PushSource", "RawMessage", "Source", "SourceError", "SourceStats"]


class SourceError(HolotwinError):
    """A source cannot run (not started, missing client library, bad TLS files...)."""

    code = "SourceError"


def _no_ack() -> None:
    """Nothing to acknowledge (QoS 0, or a source without acknowledgements)."""


@dataclass(frozen=True)
class RawMessage:
    """One message as a source received it: ``received`` is epoch seconds."""

    source: str
    topic: str
    payload: bytes
    received: float
    ack: Callable[[], None] = _no_ack


class SourceStats:
    """Counters of one source, updated by the pipeline and the source (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.written = 0
        self.dead_lettered = 0
        self.last_error: str | None = None
        self.last_error_time: float | None = None

    def add(self, *, received: int = 0, written: int = 0, dead_lettered: int = 0) -> None:
        with self._lock:
            self.received += received
            self.written += written
            self.dead_lettered += dead_lettered

    def error(self, message: str, time: float) -> None:
        with self._lock:
            self.last_error = message
            self.last_error_time = time

    def as_dict(self) -> dict[str, Any]:
        """Counts of messages received, written (committed), dead-lettered; the last error."""
        with self._lock:
            return {
                "received": self.received,
                "written": self.written,
                "deadLettered": self.dead_lettered,
                "lastError": self.last_error,
                "lastErrorTime": None if self.last_error_time is None
                else to_iso(self.last_error_time),
            }


class Source(ABC):
    """A source of raw messages for an :class:`~holotwin.ingest.pipeline.IngestPipeline`.

    Implementations: :class:`InProcessSource` (tests, embedding), ``MqttSource``. ``mappings``
    turn the source's topics (or addresses) into readings; ``stats`` counts what happened.
    """

    kind = "source"

    def __init__(self, name: str, mappings: Sequence[TopicMapping]) -> None:
        self.name = name
        self.mappings = tuple(mappings)
        self.stats = SourceStats()

    @abstractmethod
    def start(self, pipeline: IngestPipeline) -> None:
        """Attach to the pipeline and begin receiving (returns at once)."""

    @abstractmethod
    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving and release connections (messages not yet acknowledged stay with
        the peer, which delivers them again)."""

    @property
    def connected(self) -> bool:
        """Whether the source is receiving now."""
        return True

    def map(self, message: RawMessage, document: object) -> list[Reading]:
        """The readings in a decoded message (a :class:`MappingError` says why there are none).

        By default the first of ``mappings`` whose topic pattern matches decides; a source
        whose messages carry their own addressing (HTTP batch items, replayed rows) overrides
        this."""
        for mapping in self.mappings:
            twin_id = mapping.twin_id(message.topic)
            if twin_id is not None:
                return map_payload(mapping, message.topic, document, message.received, twin_id)
        raise MappingError(
            f"No mapping of source '{message.source}' matches topic {message.topic!r}")

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.kind, "connected": self.connected,
                **self.stats.as_dict()}


class PushSource(Source):
    """A source that has no connection of its own: callers push messages into it while it is
    attached to a pipeline (between :meth:`start` and :meth:`stop`)."""

    def __init__(self, name: str, mappings: Sequence[TopicMapping]) -> None:
        super().__init__(name, mappings)
        self._pipeline: IngestPipeline | None = None

    def start(self, pipeline: IngestPipeline) -> None:
        pipeline.attach(self)
        self._pipeline = pipeline

    def stop(self, timeout: float = 5.0) -> None:
        if self._pipeline is not None:
            self._pipeline.detach(self)
        self._pipeline = None

    @property
    def connected(self) -> bool:
        return self._pipeline is not None


class InProcessSource(PushSource):
    """A source fed by calls: ``publish(topic, payload)``; for tests and embedding."""

    kind = "in-process"

    def publish(self, topic: str, payload: bytes | str,
                ack: Callable[[], None] = _no_ack) -> None:
        if self._pipeline is None:
            raise SourceError(f"Source '{self.name}' is not started")
        data = payload.encode() if isinstance(payload, str) else payload
        self._pipeline.submit(
            RawMessage(self.name, topic, data, self._pipeline.clock.now(), ack))
