"""OPC UA source (asyncua, the ``opcua`` extra; imported when a source starts, not before).

The source connects to one server endpoint (anonymous or user name and password; a security
policy optional), creates one data-change subscription with the configured publishing interval
and monitors the configured nodes, each mapped to a twin's telemetry signal or to the reported value
of one of its properties. Every notification becomes a
:class:`~holotwin.ingest.source.RawMessage` on the node's address with the payload
``{"value": ..., "time": epoch s}``; the time is the DataValue's source timestamp, else its
server timestamp, else the receive time. asyncua runs on its own asyncio loop in a thread.

The connection is watched by reading the server state every ``watch_interval`` seconds; when it
is lost the source reconnects with a doubling delay (``reconnect_min_delay`` to
``reconnect_max_delay``) and subscribes again. OPC UA keeps no session for us while we are
away: changes during an outage are lost, but the first notification after a reconnect carries
each node's current value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from holotwin.errors import InvalidInputError
from holotwin.ingest.mapping import TopicMapping
from holotwin.ingest.source import RawMessage, Source, SourceError

if TYPE_CHECKING:
    from holotwin.ingest.pipeline import IngestPipeline

__all__ = ["OpcUaConfig", "OpcUaNode", "OpcUaSource"]

log = logging.getLogger("holotwin.ingest.opcua")

_NODE_ID = re.compile(r"^(ns=\d+;|nsu=[^;]+;)?[isgb]=.+$")
_UNSAFE_TOPIC = re.compile(r"[+#{}]")


@dataclass(frozen=True)
class OpcUaNode:
    """One monitored node: ``node_id`` (``ns=2;s=Pump1.Speed``) or ``browse_path``
    (qualified names from the Objects folder: ``2:Pump1/2:Speed``), its twin, and what its
    value becomes there: a telemetry ``signal``, or the reported value of the twin property
    ``property_name``
    (a setpoint, a mode, a serial number: state rather than a stream); and the unit of its
    value when it needs converting (see ``UNIT_CONVERSIONS``)."""

    twin: str
    signal: str | None = None
    node_id: str | None = None
    browse_path: str | None = None
    unit: str | None = None
    property_name: str | None = None

    def __post_init__(self) -> None:
        if (self.signal is None) == (self.property_name is None):
            raise InvalidInputError("An OPC UA node maps to either a signal or a property")
        if (self.node_id is None) == (self.browse_path is None):
            raise InvalidInputError("An OPC UA node needs either node_id or browse_path")
        if self.node_id is not None and not _NODE_ID.match(self.node_id):
            raise InvalidInputError(
                f"Invalid NodeId {self.node_id!r}: expected e.g. 'ns=2;s=Pump1.Speed' or 'i=2258'")
        if self.browse_path is not None and not all(
                re.match(r"^\d+:.+$", part) for part in self.browse_path.split("/")):
            raise InvalidInputError(
                f"Invalid browse path {self.browse_path!r}: expected qualified names from the "
                "Objects folder, e.g. '2:Pump1/2:Speed'")

    @property
    def address(self) -> str:
        """The node as configured (the topic of its messages and dead letters)."""
        return self.node_id if self.node_id is not None else f"browse:{self.browse_path}"

    def mapping(self) -> TopicMapping:
        topic = _UNSAFE_TOPIC.sub("_", self.address)
        name = self.signal if self.signal is not None else self.property_name
        assert name is not None
        return TopicMapping.create(topic, self.twin, signals={name: "/value"},
                                   time="/time", time_format="s",
                                   units={name: self.unit} if self.unit else None,
                                   target="telemetry" if self.signal is not None else "property")


@dataclass(frozen=True)
class OpcUaConfig:
    """One OPC UA connector. ``security``: asyncua's security string
    (``Basic256Sha256,SignAndEncrypt,client-cert.pem,client-key.pem``), None for none. Times in
    seconds. ``queue_size``: changes the server keeps per node between two publishes (so quick
    changes are not lost, only coalesced when over it)."""

    name: str
    endpoint: str
    nodes: tuple[OpcUaNode, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str | None = None
    publishing_interval: float = 0.5
    sampling_interval: float = 0.05
    queue_size: int = 100
    timeout: float = 4.0
    watch_interval: float = 1.0
    reconnect_min_delay: float = 1.0
    reconnect_max_delay: float = 60.0

    def __post_init__(self) -> None:
        if not self.endpoint.startswith("opc.tcp://"):
            raise InvalidInputError(f"An OPC UA endpoint starts with opc.tcp://, got "
                                    f"{self.endpoint!r}")
        if not self.nodes:
            raise InvalidInputError("An OPC UA connector needs at least one node")
        seen: set[str] = set()
        for node in self.nodes:
            if node.address in seen:
                raise InvalidInputError(f"Node {node.address} is configured twice")
            seen.add(node.address)
        if self.queue_size < 1 or not self.publishing_interval > 0:
            raise InvalidInputError("queue_size must be >= 1 and publishing_interval > 0")
        if not 0 < self.reconnect_min_delay <= self.reconnect_max_delay:
            raise InvalidInputError("Reconnect delays must satisfy 0 < min <= max")


def _asyncua() -> Any:
    try:
        import asyncua
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SourceError(
            "OPC UA sources need the opcua extra: pip install 'holotwin[opcua]'") from exc
    return asyncua


def _epoch(value: object) -> float | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # asyncua gives naive UTC datetimes in some versions
        value = value.replace(tzinfo=UTC)
    t = value.timestamp()
    return t if t > 0 else None  # OPC UA's "no time" is 1601-01-01


def _plain(value: object) -> object:
    """An OPC UA value as JSON: numbers, text, booleans, lists; datetimes as ISO 8601."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    text = getattr(value, "Text", None)  # LocalizedText
    return text if isinstance(text, str) else str(value)


class OpcUaSource(Source):
    """Monitors the configured nodes of one OPC UA server."""

    kind = "opcua"

    def __init__(self, config: OpcUaConfig) -> None:
        super().__init__(config.name, [n.mapping() for n in config.nodes])
        self.config = config
        self._topics = {n.address: m.topic.text for n, m in zip(config.nodes, self.mappings,
                                                                strict=True)}
        self._pipeline: IngestPipeline | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._connected = threading.Event()
        self._ready = threading.Event()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (or ``timeout`` seconds); for tests and CLI."""
        return self._connected.wait(timeout)

    def start(self, pipeline: IngestPipeline) -> None:
        _asyncua()
        if self._thread is not None:
            return
        pipeline.attach(self)
        self._pipeline = pipeline
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name=f"holotwin-opcua-{self.name}",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        self._connected.clear()
        if self._pipeline is not None:
            self._pipeline.detach(self)
            self._pipeline = None

    # the asyncio thread --------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        delay = self.config.reconnect_min_delay
        while not self._stop.is_set():
            try:
                await self._session()
                delay = self.config.reconnect_min_delay
            except Exception as exc:  # noqa: BLE001 - any failure: report, back off, retry
                self._connected.clear()
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.warning("OPC UA connector '%s' (%s): %s; retrying in %.1f s", self.name,
                            self.config.endpoint, message, delay)
                self.stats.error(f"{self.config.endpoint}: {message}", self._now())
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.config.reconnect_max_delay)

    async def _session(self) -> None:
        asyncua = _asyncua()
        cfg = self.config
        assert self._stop is not None
        client = asyncua.Client(cfg.endpoint, timeout=cfg.timeout)
        if cfg.username is not None:
            client.set_user(cfg.username)
            client.set_password(cfg.password or "")
        if cfg.security is not None:
            await client.set_security_string(cfg.security)
        await client.connect()
        try:
            nodes = []
            by_node: dict[Any, str] = {}
            objects = client.nodes.objects
            for node in cfg.nodes:
                if node.node_id is not None:
                    ua_node = client.get_node(node.node_id)
                else:
                    path = (node.browse_path or "").split("/")
                    try:
                        ua_node = await objects.get_child(path)
                    except Exception as exc:
                        raise SourceError(f"Browse path {node.browse_path} not found under "
                                          f"Objects: {exc}") from exc
                nodes.append(ua_node)
                by_node[ua_node.nodeid] = node.address
            handler = _Handler(self, by_node)
            subscription = await client.create_subscription(
                cfg.publishing_interval * 1000.0, handler)
            await subscription.subscribe_data_change(
                nodes, queuesize=cfg.queue_size, sampling_interval=cfg.sampling_interval * 1000.0)
            self._connected.set()
            log.info("OPC UA connector '%s' connected to %s; monitoring %d nodes", self.name,
                     cfg.endpoint, len(nodes))
            state = client.nodes.server_state
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), cfg.watch_interval)
                except TimeoutError:
                    await asyncio.wait_for(state.read_value(), cfg.timeout)
        finally:
            self._connected.clear()
            try:
                await asyncio.wait_for(client.disconnect(), cfg.timeout)
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass

    def _now(self) -> float:
        return self._pipeline.clock.now() if self._pipeline is not None else 0.0

    def _on_change(self, address: str, value: object, data_value: Any) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        received = pipeline.clock.now()
        status = getattr(data_value, "StatusCode", None)
        if status is not None and hasattr(status, "is_good") and not status.is_good():
            # a bad value (sensor failure, lost device) is not a reading
            self.stats.error(f"Node {address}: {status}", received)
            return
        time = (_epoch(getattr(data_value, "SourceTimestamp", None))
                or _epoch(getattr(data_value, "ServerTimestamp", None)) or received)
        payload = json.dumps({"value": _plain(value), "time": time}, default=str)
        pipeline.submit(RawMessage(self.name, self._topics[address], payload.encode(),
                                   received))


class _Handler:
    """asyncua's subscription handler; runs on the source's loop."""

    def __init__(self, source: OpcUaSource, by_node: dict[Any, str]) -> None:
        self.source = source
        self.by_node = by_node

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        address = self.by_node.get(node.nodeid)
        if address is None:
            return
        data_value = getattr(getattr(data, "monitored_item", None), "Value", None)
        self.source._on_change(address, val, data_value)

    def status_change_notification(self, status: Any) -> None:
        self.source.stats.error(f"Subscription status: {status}", self.source._now())

