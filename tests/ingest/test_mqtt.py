"""The MQTT source against a real broker (Mosquitto at ``HOLOTWIN_MQTT``, default
127.0.0.1:1883). Skipped when no broker answers, unless ``HOLOTWIN_REQUIRE_SERVICES=1``.
Every test uses its own topic prefix and client ids."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from holotwin.clock import SystemClock
from holotwin.errors import InvalidInputError
from holotwin.ingest import (
    IngestPipeline,
    MqttConfig,
    MqttSource,
    PipelineSettings,
    TopicMapping,
)
from holotwin.service import TwinService
from tests.conftest import REQUIRE_SERVICES

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")

BROKER = os.environ.get("HOLOTWIN_MQTT", "127.0.0.1:1883")
HOST, _, PORT_TEXT = BROKER.rpartition(":")
PORT = int(PORT_TEXT)
T0 = 1_700_000_000.0


def _require_broker() -> None:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return
    except OSError as exc:
        reason = f"no MQTT broker at {BROKER}: {exc}"
    if REQUIRE_SERVICES:
        pytest.fail(f"HOLOTWIN_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Publisher:
    def __init__(self) -> None:
        from paho.mqtt.enums import CallbackAPIVersion

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        self.client.connect(HOST, PORT)
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=5)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def prefix() -> str:
    _require_broker()
    return f"holotwin-test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def publisher(prefix: str) -> Iterator[Publisher]:
    p = Publisher()
    yield p
    p.close()


@pytest.fixture
def pipeline(plant: TwinService) -> Iterator[IngestPipeline]:
    p = IngestPipeline(plant, PipelineSettings(max_batch=100, max_delay=0.02, max_payload=2048),
                       clock=SystemClock())
    p.start()
    yield p
    p.stop()


def make_source(prefix: str, qos: int = 1, client_id: str | None = None) -> MqttSource:
    return MqttSource(MqttConfig(
        name="broker",
        client_id=client_id or f"holotwin-{uuid.uuid4().hex[:8]}",
        host=HOST, port=PORT, session_expiry=60,
        subscriptions=(
            TopicMapping.create(f"{prefix}/{{line}}/{{machine}}/telemetry", "{machine}",
                                qos=qos, time="/ts"),
            TopicMapping.create(f"{prefix}/{{line}}/{{machine}}/batch", "{machine}", qos=qos,
                                records="/rows", time="/ts", signals={"temperature": "/temp"}),
        ),
    ))


@pytest.fixture
def started(prefix: str, pipeline: IngestPipeline) -> Iterator[Callable[..., MqttSource]]:
    sources: list[MqttSource] = []

    def start(**kwargs: Any) -> MqttSource:
        source = make_source(prefix, **kwargs)
        source.start(pipeline)
        sources.append(source)
        assert source.wait_connected(10), "the MQTT source did not connect and subscribe"
        return source

    yield start
    for s in sources:
        s.stop()


def temps(service: TwinService, twin: str = "m1") -> list[tuple[float, float | None]]:
    return [(p.time, p.value) for p in service.telemetry_history(twin, "temperature", 0, 2e9)]


@pytest.mark.parametrize("qos", [0, 1])
def test_single_and_batched_messages_are_stored(
    qos: int, prefix: str, publisher: Publisher, plant: TwinService,
    started: Callable[..., MqttSource],
) -> None:
    source = started(qos=qos)
    publisher.send(f"{prefix}/l1/m1/telemetry", json.dumps({"ts": T0, "temperature": 20.5}), qos)
    publisher.send(f"{prefix}/l1/m2/batch", json.dumps(
        {"rows": [{"ts": T0 + i, "temp": 30.0 + i} for i in range(5)]}), qos)
    wait_for(lambda: len(temps(plant, "m2")) == 5 and len(temps(plant)) == 1, "the readings")
    # counters move after the commit, when the messages are acknowledged
    wait_for(lambda: source.status()["written"] == 2, "the acknowledgements")
    assert temps(plant) == [(T0, 20.5)]
    assert temps(plant, "m2")[-1] == (T0 + 4, 34.0)
    status = source.status()
    assert status["connected"] and status["written"] == 2 and status["deadLettered"] == 0


def test_a_message_sent_while_disconnected_arrives_after_reconnect(
    prefix: str, publisher: Publisher, plant: TwinService, pipeline: IngestPipeline,
) -> None:
    client_id = f"holotwin-persist-{uuid.uuid4().hex[:8]}"
    first = make_source(prefix, client_id=client_id)
    first.start(pipeline)
    assert first.wait_connected(10)
    first.stop()  # the broker keeps the session (expiry 60 s) and queues QoS 1 messages
    publisher.send(f"{prefix}/l1/m1/telemetry", json.dumps({"ts": T0, "temperature": 1.25}))
    second = make_source(prefix, client_id=client_id)
    second.start(pipeline)
    try:
        wait_for(lambda: temps(plant) == [(T0, 1.25)], "the queued message")
    finally:
        second.stop()


def test_bad_payloads_become_dead_letters_and_ingestion_goes_on(
    prefix: str, publisher: Publisher, plant: TwinService,
    started: Callable[..., MqttSource],
) -> None:
    source = started()
    topic = f"{prefix}/l1/m1/telemetry"
    publisher.send(topic, b"{malformed")
    publisher.send(topic, json.dumps({"ts": T0, "temperature": 1.0, "pad": "x" * 3000}))
    publisher.send(topic, json.dumps({"ts": T0, "temperature": "hot"}))
    publisher.send(f"{prefix}/l1/ghost/telemetry", json.dumps({"ts": T0, "temperature": 1.0}))
    publisher.send(topic, json.dumps({"ts": T0 + 5, "temperature": 42.0}))
    wait_for(lambda: plant.count_dead_letters() == 4 and len(temps(plant)) == 1,
             "four dead letters and the good reading")
    wait_for(lambda: source.status()["written"] == 1, "the acknowledgements")
    letters = plant.list_dead_letters()
    assert [d.stage for d in letters] == ["decode", "decode", "validate", "validate"]
    assert "Malformed JSON" in letters[0].reason
    assert "over the limit of 2048 bytes" in letters[1].reason
    assert "temperature" in letters[2].reason
    assert letters[3].reason == "Twin 'ghost' does not exist"
    assert all(d.source == "broker" for d in letters)
    assert temps(plant) == [(T0 + 5, 42.0)]
    assert source.status()["deadLettered"] == 4 and source.status()["written"] == 1


def test_a_redelivered_message_is_stored_once(
    prefix: str, publisher: Publisher, plant: TwinService,
    started: Callable[..., MqttSource],
) -> None:
    source = started()
    seq = plant.last_event_seq()
    payload = json.dumps({"ts": T0, "temperature": 3.5})
    publisher.send(f"{prefix}/l1/m1/telemetry", payload)
    publisher.send(f"{prefix}/l1/m1/telemetry", payload)
    wait_for(lambda: source.status()["written"] == 2, "both deliveries to be processed")
    assert temps(plant) == [(T0, 3.5)]
    assert len(plant.read_events(after=seq, kinds=["telemetry"])) == 1


def test_workers_in_a_shared_group_split_the_stream(
    prefix: str, publisher: Publisher, plant: TwinService, pipeline: IngestPipeline,
) -> None:
    """Two sources in one MQTT v5 shared subscription group: each message reaches one of them,
    both take part, every reading is stored once."""
    group = f"g{uuid.uuid4().hex[:6]}"
    workers = []
    for n in range(2):
        worker = MqttSource(MqttConfig(
            name=f"worker-{n}", client_id=f"holotwin-{uuid.uuid4().hex[:8]}", host=HOST,
            port=PORT, session_expiry=60, shared_group=group,
            subscriptions=(TopicMapping.create(f"{prefix}/{{machine}}/telemetry", "{machine}",
                                               time="/ts"),)))
        worker.start(pipeline)
        workers.append(worker)
    try:
        assert all(w.wait_connected(10) for w in workers)
        assert workers[0].subscriptions() == [(f"$share/{group}/{prefix}/+/telemetry", 1)]
        for i in range(60):
            publisher.send(f"{prefix}/m1/telemetry", json.dumps({"ts": T0 + i, "temperature": i}))
        wait_for(lambda: len(temps(plant)) == 60, "every reading")
        got = [w.status()["received"] for w in workers]
        assert sum(got) == 60 and min(got) > 0, got
    finally:
        for w in workers:
            w.stop()
    assert temps(plant) == [(T0 + i, float(i)) for i in range(60)]
    with pytest.raises(InvalidInputError, match="shared_group"):
        MqttConfig(name="x", client_id="x", subscriptions=(), shared_group="a/b")
