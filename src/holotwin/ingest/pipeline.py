"""The ingestion pipeline: raw messages in, committed readings and events out, then acks.

Every source hands its messages to one :class:`IngestPipeline`. Messages are collected into a
batch (up to ``max_batch`` messages or ``max_delay`` seconds after the first, whichever comes
first), then the batch is

1. decoded (UTF-8 JSON, at most ``max_payload`` bytes each),
2. mapped to readings by the source's :class:`~holotwin.ingest.mapping.TopicMapping`,
3. validated against each twin's model (unknown twins and wrong types are refused),
4. written in ONE transaction: readings, one ``telemetry`` event per twin with new readings
   (a summary: latest values, time span, count), and the dead letters of the messages that
   failed a stage,
5. and only then acknowledged, message by message in arrival order.

A message that fails a stage goes to the dead-letter table and is acknowledged: it would never
succeed. A failing store acknowledges nothing; the batch is retried with a growing delay, and
whatever a crash leaves unacknowledged the broker delivers again. Readings are keyed by (twin,
signal, source time), so a redelivered message is stored once.

Without :meth:`IngestPipeline.start` nothing runs in the background: call
:meth:`IngestPipeline.flush_due` or :meth:`IngestPipeline.flush` (tests, with a manual clock).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from holotwin.clock import Clock
from holotwin.errors import HolotwinError, InvalidInputError
from holotwin.ingest.mapping import MappingError, Reading
from holotwin.ingest.source import RawMessage, Source
from holotwin.service import TwinService
from holotwin.store.base import DeadLetter

__all__ = ["DEAD_LETTER_PAYLOAD_LIMIT", "BatchReport", "IngestPipeline", "PipelineSettings"]

log = logging.getLogger("holotwin.ingest")

#: bytes of a payload kept in its dead letter
DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class PipelineSettings:
    """``max_batch`` messages, ``max_delay`` seconds, ``max_payload`` bytes per message;
    ``retry_delay``..``max_retry_delay`` seconds between attempts while the store fails;
    ``max_pending`` messages queued before :meth:`IngestPipeline.submit` blocks its caller
    (backpressure: an MQTT source then stops reading, and the broker keeps the rest)."""

    max_batch: int = 500
    max_delay: float = 0.05
    max_payload: int = 1024 * 1024
    retry_delay: float = 0.2
    max_retry_delay: float = 10.0
    max_pending: int = 20_000

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise InvalidInputError(f"max_batch must be at least 1, got {self.max_batch}")
        if not self.max_delay >= 0:
            raise InvalidInputError(f"max_delay must be >= 0 seconds, got {self.max_delay}")
        if self.max_pending < self.max_batch:
            raise InvalidInputError(f"max_pending ({self.max_pending}) must be at least "
                                    f"max_batch ({self.max_batch})")
        if self.max_payload < 1:
            raise InvalidInputError(f"max_payload must be at least 1 byte, got {self.max_payload}")
        if not 0 < self.retry_delay <= self.max_retry_delay:
            raise InvalidInputError("retry delays must satisfy 0 < retry_delay <= max_retry_delay")


@dataclass(frozen=True)
class BatchReport:
    """What a committed batch did. ``dead_letters``: the index in the batch of each message
    refused, with its dead letter; ``readings``: the signal values the accepted messages
    offered; ``inserted``: how many of them were new (the others were duplicates)."""

    messages: int
    readings: int
    inserted: int
    dead_letters: dict[int, DeadLetter]

    @property
    def duplicates(self) -> int:
        return self.readings - self.inserted


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decode(payload: bytes) -> object:
    if payload.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
        payload = payload[3:]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"Payload is not UTF-8 text (byte {exc.start})") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"Malformed JSON: {exc}") from None


def dead_letter(message: RawMessage, stage: str, reason: str, time: float) -> DeadLetter:
    """A dead letter for ``message``: its payload as text, or base64 when not UTF-8."""
    data = message.payload[:DEAD_LETTER_PAYLOAD_LIMIT]
    if len(message.payload) > DEAD_LETTER_PAYLOAD_LIMIT:
        reason += f" (payload truncated to its first {DEAD_LETTER_PAYLOAD_LIMIT} bytes)"
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
        if "\x00" in text:  # PostgreSQL TEXT cannot hold NUL
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL")
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return DeadLetter(time, message.source, message.topic, text, stage, reason, encoding)


class IngestPipeline:
    """Batches raw messages from sources into the service; see the module docs."""

    def __init__(self, service: TwinService, settings: PipelineSettings | None = None,
                 clock: Clock | None = None) -> None:
        self.service = service
        self.settings = settings or PipelineSettings()
        self.clock: Clock = clock or service.clock
        self._sources: dict[str, Source] = {}
        self._cond = threading.Condition()
        self._pending: list[_Queued] = []
        self._first: float | None = None  # clock time of the oldest pending message
        self._failed: list[_Queued] | None = None  # a batch the store refused
        self._retry_delay = self.settings.retry_delay
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._process_lock = threading.Lock()
        #: batches committed, and new readings they stored (duplicates not counted)
        self.batches = 0
        self.readings = 0
        #: times submit() had to wait because max_pending messages were queued
        self.waits = 0

    # sources -------------------------------------------------------------------------------
    def attach(self, source: Source) -> None:
        """Route messages of ``source.name`` through ``source.mappings``."""
        if self._sources.get(source.name, source) is not source:
            raise InvalidInputError(f"Another source is already named '{source.name}'")
        self._sources[source.name] = source

    def detach(self, source: Source) -> None:
        """Stop routing ``source.name`` (messages already queued are still processed)."""
        if self._sources.get(source.name) is source:
            del self._sources[source.name]

    def submit(self, message: RawMessage) -> None:
        """Queue a message (thread-safe). Returns at once, unless ``max_pending`` messages are
        queued while the background worker runs: then it waits until the worker has taken a
        batch (the store may be down; nothing is dropped)."""
        source = self._sources.get(message.source)
        if source is not None:
            source.stats.add(received=1)
        with self._cond:
            if len(self._pending) >= self.settings.max_pending and self._worker is not None:
                log.warning("Ingestion has %d messages queued (max_pending); holding the "
                            "source until the store catches up", len(self._pending))
                self.waits += 1
                while (len(self._pending) >= self.settings.max_pending
                       and self._worker is not None and not self._stopping):
                    self._cond.wait(1.0)
            if not self._pending:
                self._first = self.clock.now()
            self._pending.append(_Queued(message, source))
            if len(self._pending) >= self.settings.max_batch:
                self._cond.notify()
            elif len(self._pending) == 1:
                self._cond.notify()  # the worker starts timing the batch

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._failed or ())

    # processing ----------------------------------------------------------------------------
    def _due_in(self) -> float | None:
        """Seconds until a batch is due (0: now), None when nothing is pending."""
        if self._failed is not None:
            return 0.0
        if not self._pending:
            return None
        if len(self._pending) >= self.settings.max_batch or self._first is None:
            return 0.0
        return max(0.0, self._first + self.settings.max_delay - self.clock.now())

    def _take(self) -> list[_Queued]:
        with self._cond:
            if self._failed is not None:
                batch, self._failed = self._failed, None
                return batch
            batch = self._pending[: self.settings.max_batch]
            del self._pending[: self.settings.max_batch]
            self._first = self.clock.now() if self._pending else None
            if batch:
                self._cond.notify_all()  # a submit() held by max_pending may go on
            return batch

    def flush_due(self) -> int:
        """Process one batch if it is due (full, or ``max_delay`` old); return messages done."""
        with self._cond:
            due = self._due_in()
        if due is None or due > 0:
            return 0
        return self._run_batch()

    def flush(self) -> int:
        """Process everything pending now; stops at the first batch the store refuses."""
        done = 0
        while self.pending:
            n = self._run_batch()
            if n == 0:
                break
            done += n
        return done

    def _run_batch(self) -> int:
        with self._process_lock:
            batch = self._take()
            if not batch:
                return 0
            if self._process(batch) is not None:
                self._retry_delay = self.settings.retry_delay
                return len(batch)
            with self._cond:
                self._failed = batch
            return 0

    def process(self, batch: Sequence[RawMessage]) -> bool:
        """Decode, map, validate, write and acknowledge one batch now. False if the store
        failed (nothing acknowledged then)."""
        return self.process_report(batch) is not None

    def process_report(self, batch: Sequence[RawMessage]) -> BatchReport | None:
        """As :meth:`process`, reporting what became of each message (None: the store
        failed); for callers that answer a peer synchronously (``POST /ingest/batch``)."""
        return self._process([_Queued(m, self._sources.get(m.source)) for m in batch])

    def _process(self, batch: Sequence[_Queued]) -> BatchReport | None:
        now = self.clock.now()
        letters: list[DeadLetter] = []
        lettered: list[RawMessage] = []
        letter_index: list[int] = []
        groups: list[list[Reading]] = []
        grouped: list[RawMessage] = []
        group_index: list[int] = []
        for position, (message, source) in enumerate(batch):
            try:
                readings = self._map(message, source)
            except _StageError as exc:
                letters.append(dead_letter(message, exc.stage, exc.message, now))
                lettered.append(message)
                letter_index.append(position)
                continue
            groups.append(readings)
            grouped.append(message)
            group_index.append(position)
        try:
            prepared = self.service.prepare_telemetry(groups)
            for index, reason in sorted(prepared.rejected.items()):
                message = grouped[index]
                letters.append(dead_letter(message, "validate", reason, now))
                lettered.append(message)
                letter_index.append(group_index[index])
            inserted = self.service.write_telemetry(prepared.points, prepared.models, letters,
                                                    properties=prepared.properties)
        except Exception as exc:  # noqa: BLE001 - any store failure: keep the batch, ack nothing
            reason = exc.message if isinstance(exc, HolotwinError) else f"{type(exc).__name__}: {exc}"
            log.warning("Ingestion could not write a batch of %d messages: %s", len(batch), reason)
            for stats in {id(s): s.stats for _, s in batch if s is not None}.values():
                stats.error(f"Store: {reason}", now)
            return None
        for message, letter in zip(lettered, letters, strict=True):
            log.info("Dead letter from %s on %s: %s", message.source, message.topic,
                     letter.reason)
        bad = {id(m) for m in lettered}
        counts: dict[int, tuple[Source, list[int]]] = {}  # source -> [written, dead-lettered]
        for message, source in batch:
            if source is not None:
                entry = counts.get(id(source))
                if entry is None:
                    entry = counts[id(source)] = (source, [0, 0])
                entry[1][id(message) in bad] += 1
            try:
                message.ack()
            except Exception as exc:  # noqa: BLE001 - a lost ack means a harmless redelivery
                log.warning("Could not acknowledge a message from %s: %s", message.source, exc)
        for source, (written, lettered_count) in counts.values():
            source.stats.add(written=written, dead_lettered=lettered_count)
        self.batches += 1
        self.readings += inserted
        return BatchReport(len(batch), len(prepared.points), inserted,
                           dict(zip(letter_index, letters, strict=True)))

    def _map(self, message: RawMessage, source: Source | None) -> list[Reading]:
        if len(message.payload) > self.settings.max_payload:
            raise _StageError("decode", f"Payload of {len(message.payload)} bytes is over the "
                                        f"limit of {self.settings.max_payload} bytes")
        try:
            document = _decode(message.payload)
        except InvalidInputError as exc:
            raise _StageError("decode", exc.message) from None
        if source is None:
            raise _StageError("map", f"No source named '{message.source}' is attached, so no "
                                     f"mapping matches topic {message.topic!r}")
        try:
            return source.map(message, document)
        except MappingError as exc:
            raise _StageError("map", exc.message) from None

    # background worker ---------------------------------------------------------------------
    def start(self) -> None:
        """Process batches in a background thread until :meth:`stop`."""
        if self._worker is not None:
            return
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="holotwin-ingest", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    due = self._due_in()
                    if due is not None and due <= 0:
                        break
                    self._cond.wait(timeout=due)
                if self._stopping:
                    return
            if self._run_batch() == 0 and self._failed is not None:
                with self._cond:
                    self._cond.wait(timeout=self._retry_delay)
                self._retry_delay = min(self._retry_delay * 2, self.settings.max_retry_delay)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker after writing what is pending (one attempt; what the store refuses
        stays unacknowledged and comes back from the broker)."""
        worker = self._worker
        if worker is not None:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            worker.join(timeout)
            self._worker = None
        self.flush()


class _Queued(NamedTuple):
    message: RawMessage
    source: Source | None  # the source that routes it (looked up when it arrived)


class _StageError(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message

