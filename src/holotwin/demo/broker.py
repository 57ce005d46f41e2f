"""The demo over MQTT (``holotwin demo --mqtt HOST:PORT``): the machines are devices on a broker.

Each machine publishes on ``<prefix>/<line>/<machine>/...`` (prefix ``holotwin-demo``):

- ``telemetry``: ``{"ts": epoch s, "temperature": ..., "vibration": ..., "power": ...}``
- ``reported``: the properties that changed, ``{"status": ..., "speed": ..., ...}``; when the
  speed reaches a commanded setpoint it adds ``"$version"``, which acknowledges it
- and it listens on ``desired`` for ``{"speed": value, "$version": n}``. A speed outside
  ``[0, max_speed]`` is refused: ``{"speed": current, "$version": n, "ackCode": 400, ...}``.

holotwin ingests these through an :class:`~holotwin.ingest.MqttSource` configured here in code
(telemetry through the pipeline, reports and commands through its desired-state bridge), exactly
as a connectors file would configure it. The lines' throughput is holotwin's own arithmetic and
is still written directly.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

from holotwin.demo.devices import MachineReading, SimulatedMachine
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import PlantLayout
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.ingest import (
    Ingestion,
    IngestPipeline,
    MqttConfig,
    MqttSource,
    PipelineSettings,
    SourceError,
    TopicMapping,
)
from holotwin.ingest.commands import DesiredMapping
from holotwin.service import TwinService

__all__ = ["DEFAULT_PREFIX", "MqttDeviceFleet", "demo_ingestion", "parse_broker",
           "start_demo_ingestion"]

DEFAULT_PREFIX = "holotwin-demo"
CONNECT_TIMEOUT = 10.0  # seconds to wait for the broker
log = logging.getLogger("holotwin.demo")


def parse_broker(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:1883`` for IPv6) to (host, port).

    >>> parse_broker("127.0.0.1:1883")
    ('127.0.0.1', 1883)
    """
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidInputError(f"A broker must be HOST:PORT, got {text!r}")
    return host, int(port)


def demo_ingestion(service: TwinService, host: str, port: int,
                   prefix: str = DEFAULT_PREFIX) -> Ingestion:
    """The connector holotwin uses for the demo devices (not started)."""
    topic = f"{prefix}/{{line}}/{{machine}}"
    config = MqttConfig(
        name="demo-broker",
        client_id=f"holotwin-demo-{uuid.uuid4().hex[:8]}",
        host=host, port=port,
        session_expiry=0,  # a fresh connector each run; pending commands are sent again
        subscriptions=(TopicMapping.create(f"{topic}/telemetry", "{machine}", time="/ts"),),
        desired=(DesiredMapping.create("{machine}", f"{topic}/reported", f"{topic}/desired"),),
    )
    pipeline = IngestPipeline(service, PipelineSettings(max_batch=200, max_delay=0.02))
    return Ingestion(pipeline, [MqttSource(config)])


def start_demo_ingestion(ingestion: Ingestion) -> None:
    """Start and wait until subscribed (a :class:`SourceError` if no broker answers)."""
    ingestion.start()
    for source in ingestion.sources:
        if isinstance(source, MqttSource) and not source.wait_connected(CONNECT_TIMEOUT):
            cfg = source.config
            ingestion.stop()
            raise SourceError(f"No MQTT broker answered at {cfg.host}:{cfg.port} within "
                              f"{CONNECT_TIMEOUT:g} s")


class MqttDeviceFleet(DeviceFleet):
    """The demo machines as MQTT devices (see the module docs). The twins are still read for
    the display (revisions, desired speeds), never written, except the lines' throughput."""

    def __init__(self, service: TwinService, layout: PlantLayout, host: str, port: int, *,
                 prefix: str = DEFAULT_PREFIX, seed: int = 7, report_every: int = 3) -> None:
        super().__init__(service, layout, seed=seed, report_every=report_every)
        self.host, self.port, self.prefix = host, port, prefix
        self.published = 0  # messages handed to the broker
        self._lines = {m: line.id for line in layout.lines for m in line.machine_ids}
        self._lock = threading.Lock()
        self._commands: dict[str, tuple[object, int]] = {}  # twin -> (speed, version), unread
        self._acking: dict[str, int] = {}  # twin -> version to acknowledge at its setpoint
        self._client: Any = None

    def topic(self, twin_id: str, kind: str) -> str:
        return f"{self.prefix}/{self._lines[twin_id]}/{twin_id}/{kind}"

    def start(self) -> None:
        """Restore the machines from their twins, connect, subscribe to the commands."""
        super().start()
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"holotwin-demo-devices-{uuid.uuid4().hex[:8]}",
                             protocol=mqtt.MQTTv5)
        subscribed = threading.Event()
        client.on_message = self._on_command
        client.on_subscribe = lambda *args: subscribed.set()
        client.on_connect = lambda c, *args: c.subscribe(f"{self.prefix}/+/+/desired", qos=1)
        try:
            client.connect(self.host, self.port)
        except OSError as exc:
            raise SourceError(f"The demo devices cannot reach the MQTT broker at "
                              f"{self.host}:{self.port}: {exc}") from None
        client.loop_start()
        self._client = client
        if not subscribed.wait(CONNECT_TIMEOUT):
            self._disconnect()
            raise SourceError(f"The demo devices could not subscribe at {self.host}:{self.port}")

    def _on_command(self, client: Any, userdata: Any, message: Any) -> None:
        twin_id = str(message.topic).split("/")[-2]
        try:
            command = json.loads(message.payload)
            value, version = command["speed"], command["$version"]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("Demo device %s ignores a command it cannot read: %s", twin_id, exc)
            return
        if twin_id in self._lines and isinstance(version, int):
            with self._lock:
                self._commands[twin_id] = (value, version)

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        if self._client is None:  # never connected (stop() after a failed start)
            return
        self._client.publish(topic, json.dumps(payload), qos=1)
        self.published += 1

    # the hooks of DeviceFleet ----------------------------------------------------------------
    def _follow_desired(self, twin_id: str, machine: SimulatedMachine) -> bool:
        try:  # for the display only: the device learns desired speeds from its commands
            self._twins[twin_id] = self.service.get_twin(twin_id)
        except NotFoundError:
            del self.machines[twin_id]
            return False
        with self._lock:
            command = self._commands.pop(twin_id, None)
        if command is not None:
            value, version = command
            speed = (float(value) if isinstance(value, int | float)
                     and not isinstance(value, bool) else None)
            if speed is None or not 0 <= speed <= machine.params.max_speed:
                self._publish(self.topic(twin_id, "reported"), {
                    "speed": machine.speed, "$version": version, "ackCode": 400,
                    "ackDescription": f"Speed {value!r} is outside 0 to "
                                      f"{machine.params.max_speed:g} parts/min"})
            else:
                machine.set_target_speed(speed)
                self._acking[twin_id] = version
        return True

    def _send_telemetry(self, twin_id: str, reading: MachineReading, t: float) -> int:
        payload = {"ts": t, **reading.as_payload()}
        self._publish(self.topic(twin_id, "telemetry"), payload)
        return len(payload) - 1

    def _send_report(self, twin_id: str, machine: SimulatedMachine,
                     values: dict[str, Any]) -> None:
        payload = dict(values)
        version = self._acking.get(twin_id)
        if version is not None and machine.at_target:
            payload["speed"] = machine.speed
            payload["$version"] = version
            del self._acking[twin_id]
        self._publish(self.topic(twin_id, "reported"), payload)

    def stop(self) -> None:
        """Report the final state, then disconnect once the broker has it."""
        try:
            super().stop()
        finally:
            self._disconnect()

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            deadline = time.monotonic() + 2.0
            while client.want_write() and time.monotonic() < deadline:
                time.sleep(0.01)
            client.disconnect()
            client.loop_stop()
