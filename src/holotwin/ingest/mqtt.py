"""MQTT source (paho-mqtt 2, the ``mqtt`` extra; imported when a source starts, not before).

MQTT v5 with a persistent session (``clean_start=False`` and a session expiry), so QoS 1
messages published while holotwin is away are delivered when it reconnects with the same
client id. Messages are acknowledged by hand (``manual_ack=True``) once the pipeline committed
them. paho reconnects with exponential backoff (``reconnect_delay_set``); every (re)connect
subscribes again.

With ``desired`` mappings the source also carries desired state both ways (see
:mod:`holotwin.ingest.commands`): it subscribes to the devices' report topics, hands reports to a
:class:`~holotwin.ingest.commands.DesiredStateBridge` instead of the telemetry pipeline, and
publishes the bridge's commands on the same connection. Every (re)connect makes the bridge send
the pending desired values again.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from holotwin.errors import InvalidInputError
from holotwin.ingest.commands import DesiredMapping, DesiredStateBridge
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
    desired: tuple[DesiredMapping, ...] = ()
    #: subscribe as a member of this MQTT v5 shared subscription group ($share/GROUP/filter):
    #: the broker hands each message to ONE member, so several ingest workers share a stream
    shared_group: str | None = None

    def __post_init__(self) -> None:
        group = self.shared_group
        if group is not None and (not group or any(c in group for c in "/+#")):
            raise InvalidInputError(
                f"shared_group must be a non-empty name without / + or #, got {group!r}")


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
        self._sessions = 0  # connections made so far
        self._refused = False  # the broker refused the last connection attempt
        #: reconnects on which the broker had lost this client's session
        self.sessions_lost = 0
        self._client: Any = None
        self._pipeline: IngestPipeline | None = None
        self._connected = threading.Event()
        self.bridge: DesiredStateBridge | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def subscriptions(self) -> list[tuple[str, int]]:
        """(MQTT filter, QoS) per distinct filter; the highest QoS wins. Data subscriptions
        join ``shared_group`` when set; device reports of desired mappings never do (the
        connector that sends a command must see the answer)."""
        qos: dict[str, int] = {}
        share = f"$share/{self.config.shared_group}/" if self.config.shared_group else ""
        for m in self.mappings:
            sub = share + m.topic.subscription
            qos[sub] = max(qos.get(sub, 0), m.qos)
        for d in self.config.desired:
            sub = d.report_topic.subscription
            qos[sub] = max(qos.get(sub, 0), d.qos)
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
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = cfg.session_expiry
        self._client = client
        if cfg.desired:
            self.bridge = DesiredStateBridge(pipeline.service, self.name, cfg.desired,
                                             self._publish, stats=self.stats,
                                             max_payload=pipeline.settings.max_payload)
            self.bridge.start()
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
        bridge, self.bridge = self.bridge, None
        if bridge is not None:  # first: no command after the connection is gone
            bridge.stop(timeout)
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
            self._refused = True  # the disconnect that follows says nothing more
            self._error(f"Broker {self.config.host}:{self.config.port} refused the connection: "
                        f"{reason_code}")
            return
        self._refused = False
        log.info("MQTT connector '%s' connected to %s:%s (session present: %s)", self.name,
                 self.config.host, self.config.port, flags.session_present)
        if self._sessions and not flags.session_present and self.config.session_expiry > 0:
            # the broker lost our session (restarted without persistence, or it expired):
            # QoS 1 messages published while we were away are gone
            self.sessions_lost += 1
            self._error(f"Reconnected to {self.config.host}:{self.config.port} but the broker "
                        "had no session for this client: messages sent while disconnected "
                        "may be lost (broker persistence off, or session_expiry too short?)")
        self._sessions += 1
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
        if self.bridge is not None:
            self.bridge.resync()  # commands sent while away may be lost: send what is pending

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its ``except OSError`` (refused, unreachable, a TLS failure
        # such as an untrusted certificate) without passing the error: take it from there
        error = sys.exc_info()[1]
        self._error(f"Cannot connect to {self.config.host}:{self.config.port}: "
                    f"{error or 'connection failed'}; retrying")

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
        if self._client is not None and not self._refused:  # not a stop() nor a refusal
            self._error(f"Disconnected from {self.config.host}:{self.config.port}: "
                        f"{reason_code}; reconnecting")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        qos = int(message.qos)
        mid = int(message.mid)
        topic = str(message.topic)

        def ack() -> None:
            if qos > 0:
                client.ack(mid, qos)

        raw = RawMessage(self.name, topic, bytes(message.payload), pipeline.clock.now(), ack)
        bridge = self.bridge
        if bridge is None:
            pipeline.submit(raw)
            return
        self._observe(bridge, topic)
        report_twin = bridge.route(topic)
        if report_twin is not None:
            bridge.submit_report(raw, report_twin)
        else:
            pipeline.submit(raw)

    def _observe(self, bridge: DesiredStateBridge, topic: str) -> None:
        """Tell the bridge which topic names the twin of ``topic`` was heard with."""
        for d in self.config.desired:
            found = d.report_twin(topic)
            if found is not None:
                bridge.observe(*found)
                return
        for m in self.mappings:
            names = m.topic.match(topic)
            twin_id = m.twin_id(topic)
            if names is not None and twin_id is not None:
                bridge.observe(twin_id, names)
                return

    def _publish(self, topic: str, payload: bytes, qos: int) -> bool:
        """Send a command now; False when not connected (the bridge keeps it for later)."""
        client = self._client
        if client is None or not self._connected.is_set():
            return False
        info = client.publish(topic, payload, qos=qos)
        return bool(info.rc == 0)

    def status(self) -> dict[str, Any]:
        status = super().status()
        bridge = self.bridge
        if self.config.desired:
            status["commandsSent"] = bridge.sent if bridge else 0
            status["commandsWaiting"] = bridge.waiting if bridge else 0
        return status

    def _error(self, text: str) -> None:
        log.warning("MQTT connector '%s': %s", self.name, text)
        clock = self._pipeline.clock if self._pipeline else None
        self.stats.error(text, clock.now() if clock else 0.0)
