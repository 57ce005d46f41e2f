"""MQTT source (paho-mqtt 2, the ``mqtt`` extra; imported when a source starts, not before).

MQTT v5 with a persistent session (``clean_start=False`` and a session expiry), so QoS 1
messages published while holotwin is away are delivered when it reconnects with the same
client id. Messages are acknowledged by hand (``manual_ack=True``) once the pipeline committed
them. paho reconnects with exponential backoff (``reconnect_delay_set``); every (re)connect
subscribes again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from holotwin.ingest.mapping import TopicMapping
from holotwin.ingest.source import RawMessage, Source, SourceError

if TYPE_CHECKING:
    from holotwin.ingest.pipeline import IngestPipeline

__all__ = ["MqttConfig", "MqttSource", "TlsConfig"]

log = logging.getLogger("holotwin.ingest.mqtt")


@dataclass(frozen=True)
class TlsConfig:
    """PEM files: the CA that signed the broker's certificate; a client certificate and key
    for mutual TLS (optional)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class MqttConfig:
    """One MQTT connector. Times in seconds."""

    name: str
    client_id: str
    subscriptions: tuple[TopicMapping, ...]
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsConfig | None = None
    keepalive: int = 30
    session_expiry: int = 3600
    reconnect_min_delay: int = 1
    reconnect_max_delay: int = 60


def _paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SourceError(
            "MQTT sources need the mqtt extra: pip install 'holotwin[mqtt]'") from exc
    return mqtt


class MqttSource(Source):
    """Receives the topics of its subscriptions from one broker."""

    kind = "mqtt"

    def __init__(self, config: MqttConfig) -> None:
        super().__init__(config.name, config.subscriptions)
        self.config = config
        self._client: Any = None
        self._pipeline: IngestPipeline | None = None
        self._connected = threading.Event()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def subscriptions(self) -> list[tuple[str, int]]:
        """(MQTT filter, QoS) per distinct filter; the highest QoS wins."""
        qos: dict[str, int] = {}
        for m in self.mappings:
            sub = m.topic.subscription
            qos[sub] = max(qos.get(sub, 0), m.qos)
        return list(qos.items())

    def start(self, pipeline: IngestPipeline) -> None:
        mqtt = _paho()
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        cfg = self.config
        pipeline.attach(self)
        self._pipeline = pipeline
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cfg.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls is not None:
            try:
                client.tls_set(ca_certs=cfg.tls.ca_file, certfile=cfg.tls.cert_file,
                               keyfile=cfg.tls.key_file)
            except (OSError, ValueError) as exc:
                raise SourceError(f"Connector '{cfg.name}': cannot use its TLS files: {exc}") \
                    from exc
        client.reconnect_delay_set(cfg.reconnect_min_delay, cfg.reconnect_max_delay)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry
        self._client = client
        client.connect_async(cfg.host, cfg.port, cfg.keepalive, clean_start=False,
                             properties=props)
        client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (or ``timeout`` seconds); for tests and CLI."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self._connected.clear()
        if self._pipeline is not None:
            self._pipeline.detach(self)
            self._pipeline = None

    # paho callbacks (on paho's network thread) ------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self._error(f"Broker {self.config.host}:{self.config.port} refused the connection: "
                        f"{reason_code}")
            return
        log.info("MQTT connector '%s' connected to %s:%s (session present: %s)", self.name,
                 self.config.host, self.config.port, flags.session_present)
        subs = self.subscriptions()
        if subs:
            client.subscribe(subs)
        else:
            self._connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reason_codes: Any,
                      properties: Any) -> None:
        refused = [str(c) for c in reason_codes if c.is_failure]
        if refused:
            self._error(f"The broker refused subscriptions: {', '.join(refused)}")
        self._connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
        if self._client is not None:  # not a stop(): paho reconnects with backoff
            self._error(f"Disconnected from {self.config.host}:{self.config.port}: "
                        f"{reason_code}; reconnecting")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        qos = int(message.qos)
        mid = int(message.mid)

        def ack() -> None:
            if qos > 0:
                client.ack(mid, qos)

        pipeline.submit(RawMessage(self.name, message.topic, bytes(message.payload),
                                   pipeline.clock.now(), ack))

    def _error(self, text: str) -> None:
        log.warning("MQTT connector '%s': %s", self.name, text)
        clock = self._pipeline.clock if self._pipeline else None
        self.stats.error(text, clock.now() if clock else 0.0)
