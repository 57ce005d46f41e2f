"""Desired state to devices and their reports back: the service's ack, the bridge on its own
(a recording publisher, a manual clock) and the whole loop against a real Mosquitto
(``HOLOTWIN_MQTT``; skipped without one unless ``HOLOTWIN_REQUIRE_SERVICES=1``)."""

from __future__ import annotations

import doctest
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from holotwin.clock import SystemClock
from holotwin.errors import InvalidInputError
from holotwin.ingest import (
    ConnectorConfigError,
    IngestPipeline,
    MqttConfig,
    MqttSource,
    PipelineSettings,
    RawMessage,
    TopicMapping,
    commands,
    parse_connectors,
)
from holotwin.ingest.commands import DesiredMapping, DesiredStateBridge
from holotwin.service import TwinService
from tests.conftest import PLANT_MODELS, machine
from tests.ingest.test_mqtt import HOST, PORT, Publisher, _require_broker, wait_for

MAPPING = DesiredMapping.create("{machine}", "plant/{line}/{machine}/reported",
                                "plant/{line}/{machine}/desired")


@pytest.fixture
def twins(service: TwinService) -> TwinService:
    service.add_models(PLANT_MODELS)
    for twin_id in ("m1", "m2"):
        service.put_twin(twin_id, machine(twin_id, speed=50.0))
    return service


def speed_meta(service: TwinService, twin: str = "m1") -> dict[str, Any]:
    meta: dict[str, Any] = service.get_twin(twin)["$metadata"]["speed"]
    return meta


def test_the_module_examples_run() -> None:
    assert doctest.testmod(commands).failed == 0


# the service ---------------------------------------------------------------------------------
def test_a_refusal_is_recorded_and_the_reported_value_stays(twins: TwinService) -> None:
    twins.set_desired("m1", {"speed": 500.0})
    revision = twins.get_twin("m1")["$metadata"]["$revision"]
    twin = twins.ack_desired("m1", "speed", 1, 409, "Above the maximum of 200")
    meta = twin["$metadata"]["speed"]
    assert twin["speed"] == 50.0 and meta["desiredValue"] == 500.0
    assert (meta["ackVersion"], meta["ackCode"], meta["ackDescription"]) == (
        1, 409, "Above the maximum of 200")
    assert twin["$metadata"]["$revision"] == revision + 1
    last = twins.read_events(0, 1000, kinds=["twin.updated"])[-1]
    assert last.data["changed"] == ["/speed"]
    # the same answer again changes nothing (no event)
    seq = twins.last_event_seq()
    twins.ack_desired("m1", "speed", 1, 409, "Above the maximum of 200")
    assert twins.last_event_seq() == seq


def test_an_answer_to_an_old_version_is_ignored_and_a_future_one_refused(
        twins: TwinService) -> None:
    twins.set_desired("m1", {"speed": 60.0})
    twins.set_desired("m1", {"speed": 70.0})
    seq = twins.last_event_seq()
    twins.ack_desired("m1", "speed", 1, 400, "stale")
    assert twins.last_event_seq() == seq and speed_meta(twins)["ackCode"] == 202
    with pytest.raises(InvalidInputError, match="version 3 does not exist"):
        twins.ack_desired("m1", "speed", 3, 400)
    with pytest.raises(InvalidInputError, match="not a writable property"):
        twins.ack_desired("m1", "serial", 1, 400)
    with pytest.raises(InvalidInputError, match="from 100 to 599"):
        twins.ack_desired("m1", "speed", 2, 700)
    with pytest.raises(InvalidInputError, match="no desired value"):
        twins.ack_desired("m2", "speed", 1, 400)


# configuration -------------------------------------------------------------------------------
def connector(**desired: Any) -> dict[str, Any]:
    return {"connector": [{"name": "b", "type": "mqtt", "desired": [desired]}]}


def test_the_connector_file_reads_desired_mappings() -> None:
    config = parse_connectors(connector(twin="{machine}", report_topic="p/{line}/{machine}/r",
                                        command_topic="p/{line}/{machine}/d", qos=0))
    (mqtt,) = config.mqtt
    assert mqtt.subscriptions == ()  # a connector of only desired state needs no telemetry
    (d,) = mqtt.desired
    assert (d.twin, d.report_topic.text, d.command_topic, d.qos) == (
        "{machine}", "p/{line}/{machine}/r", "p/{line}/{machine}/d", 0)
    assert MqttSource(mqtt).subscriptions() == [("p/+/+/r", 0)]


@pytest.mark.parametrize(("table", "problem"), [
    ({"twin": "{m}", "report_topic": "p/{m}/r", "command_topic": "p/{line}/{m}/d"},
     "desired #1 (p/{m}/r): command_topic 'p/{line}/{m}/d' uses {line}"),
    ({"twin": "{m}", "report_topic": "p/{m}/r", "command_topic": "p/+/d"}, "cannot hold +"),
    ({"twin": "{x}", "report_topic": "p/{m}/r", "command_topic": "p/{m}/d"}, "uses {x}"),
    ({"twin": "{m}", "report_topic": "p/{m}/r"}, "key 'command_topic': is required"),
    ({"twin": "{m}", "report_topic": "p/{m}/r", "command_topic": "p/{m}/d", "qos": 2},
     "key 'qos': must be from 0 to 1"),
    ({"twin": "{m}", "report_topic": "p/{m}/r", "command_topic": "p/{m}/d", "x": 1},
     "key 'x': is not a known key"),
])
def test_bad_desired_mappings_are_refused_with_their_place(
        table: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConnectorConfigError) as info:
        parse_connectors(connector(**table), "c.toml")
    assert problem in info.value.message and "connector 'b'" in info.value.message


# the bridge on its own -----------------------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], int]] = []
        self.online = True

    def __call__(self, topic: str, payload: bytes, qos: int) -> bool:
        if self.online:
            self.sent.append((topic, json.loads(payload), qos))
        return self.online


def report(bridge: DesiredStateBridge, twin: str, payload: object) -> list[str]:
    acks: list[str] = []
    text = payload if isinstance(payload, str) else json.dumps(payload)
    bridge.submit_report(RawMessage("b", f"plant/l1/{twin}/reported", text.encode(), 0.0,
                                    lambda: acks.append(twin)), twin)
    bridge.run_once()
    return acks


def test_the_bridge_sends_once_the_topic_is_known_and_applies_reports(
        twins: TwinService) -> None:
    sent = Recorder()
    bridge = DesiredStateBridge(twins, "b", [MAPPING], sent)
    bridge.run_once()  # the start scan: nothing pending
    twins.set_desired("m1", {"speed": 80.0})
    bridge.run_once()
    assert sent.sent == [] and bridge.waiting == 1  # {line} of m1 is not known yet
    bridge.observe("m1", {"line": "l1", "machine": "m1"})
    bridge.run_once()
    assert sent.sent == [("plant/l1/m1/desired", {"speed": 80.0, "$version": 1}, 1)]
    bridge.run_once()
    twins.merge_patch_twin("m1", {"running": True})  # other changes send nothing again
    bridge.run_once()
    assert len(sent.sent) == 1 and bridge.waiting == 0
    assert report(bridge, "m1", {"speed": 72.5}) == ["m1"]  # ramping: not there yet
    assert speed_meta(twins).get("ackVersion") is None
    assert report(bridge, "m1", {"speed": 80.0, "$version": 1}) == ["m1"]
    twin = twins.get_twin("m1")
    assert twin["speed"] == 80.0 and twin["$metadata"]["speed"]["ackVersion"] == 1
    assert twin["$metadata"]["speed"]["ackCode"] == 200
    assert bridge.reports == 2 and twins.count_dead_letters() == 0


def test_a_refusal_report_and_bad_reports(twins: TwinService) -> None:
    bridge = DesiredStateBridge(twins, "b", [MAPPING], Recorder())
    twins.set_desired("m1", {"speed": 900.0})
    report(bridge, "m1", {"speed": 50.0, "$version": 1, "ackCode": 400,
                          "ackDescription": "Above 200"})
    meta = speed_meta(twins)
    assert twins.get_twin("m1")["speed"] == 50.0
    assert (meta["ackVersion"], meta["ackCode"], meta["ackDescription"]) == (1, 400, "Above 200")
    bad = [("m1", "{nope"), ("m1", {"speed": 1, "$version": 0}), ("m1", {"ackCode": 200}),
           ("m1", {"speed": "fast"}), ("ghost", {"speed": 1.0}),
           ("m1", {"speed": 1.0, "ackCode": 404})]
    for twin, payload in bad:
        assert report(bridge, twin, payload) == [twin]  # acknowledged all the same
    letters = twins.list_dead_letters()
    assert [d.stage for d in letters] == ["decode", "map", "map", "validate", "validate", "map"]
    assert "Twin 'ghost'" in letters[4].reason and letters[0].topic == "plant/l1/m1/reported"
    assert bridge.stats.as_dict()["deadLettered"] == 6 and bridge.stats.as_dict()["written"] == 1


def test_a_new_bridge_sends_what_is_still_pending(twins: TwinService) -> None:
    twins.set_desired("m1", {"speed": 80.0})
    twins.set_desired("m2", {"speed": 50.0})  # equal to the reported value: acked at once
    sent = Recorder()
    first = DesiredStateBridge(twins, "b", [MAPPING], sent)
    first.observe("m1", {"line": "l1"})
    sent.online = False  # the broker is away: the command waits
    first.run_once()
    assert sent.sent == [] and first.waiting == 1
    sent.online = True
    first.resync()  # what a reconnect does
    first.run_once()
    second = DesiredStateBridge(twins, "b", [MAPPING], sent)  # a restart
    second.observe("m1", {"line": "l1"})
    second.run_once()
    expected = ("plant/l1/m1/desired", {"speed": 80.0, "$version": 1}, 1)
    assert sent.sent == [expected, expected]


# against Mosquitto ---------------------------------------------------------------------------
class Device:
    """A device on the broker: records commands; answers them as told."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.publisher = Publisher()
        client = self.publisher.client
        client.on_message = self._on_message
        done = threading.Event()
        client.on_subscribe = lambda *args: done.set()
        client.subscribe(f"{prefix}/+/+/desired", qos=1)
        assert done.wait(5), "the device could not subscribe"

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.commands.append((message.topic, json.loads(message.payload)))

    def received(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return list(self.commands)

    def send(self, kind: str, payload: dict[str, Any], twin: str = "m1") -> None:
        self.publisher.send(f"{self.prefix}/l1/{twin}/{kind}", json.dumps(payload))


@pytest.fixture
def prefix() -> str:
    _require_broker()
    return f"holotwin-test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def device(prefix: str) -> Iterator[Device]:
    d = Device(prefix)
    yield d
    d.publisher.close()


@pytest.fixture
def live(plant: TwinService) -> Iterator[tuple[TwinService, IngestPipeline]]:
    plant.clock = SystemClock()  # the bridge and pipeline threads run on wall time
    p = IngestPipeline(plant, PipelineSettings(max_batch=100, max_delay=0.02))
    p.start()
    yield plant, p
    p.stop()


def desired_source(prefix: str) -> MqttSource:
    return MqttSource(MqttConfig(
        name="broker", client_id=f"holotwin-{uuid.uuid4().hex[:8]}", host=HOST, port=PORT,
        session_expiry=60,
        subscriptions=(TopicMapping.create(f"{prefix}/{{line}}/{{machine}}/telemetry",
                                           "{machine}"),),
        desired=(DesiredMapping.create("{machine}", f"{prefix}/{{line}}/{{machine}}/reported",
                                       f"{prefix}/{{line}}/{{machine}}/desired"),),
    ))


@pytest.fixture
def running(prefix: str, live: tuple[TwinService, IngestPipeline]) -> Iterator[MqttSource]:
    source = desired_source(prefix)
    source.start(live[1])
    assert source.wait_connected(10)
    yield source
    source.stop()


def test_a_desired_value_reaches_the_device_and_its_report_acks_it(
        live: tuple[TwinService, IngestPipeline], device: Device,
        running: MqttSource, prefix: str) -> None:
    service = live[0]
    device.send("telemetry", {"temperature": 21.0})  # holotwin learns m1's line
    wait_for(lambda: service.latest_telemetry("m1") != [], "m1's telemetry")
    service.set_desired("m1", {"speed": 80.0})
    wait_for(lambda: device.received() != [], "the command")
    assert device.received() == [(f"{prefix}/l1/m1/desired", {"speed": 80.0, "$version": 1})]
    device.send("reported", {"speed": 80.0, "$version": 1, "running": True})
    wait_for(lambda: speed_meta(service).get("ackVersion") == 1, "the ack")
    twin = service.get_twin("m1")
    assert twin["speed"] == 80.0 and twin["running"] is True
    assert twin["$metadata"]["speed"]["desiredVersion"] == 1
    status = running.status()
    assert status["commandsSent"] == 1 and status["commandsWaiting"] == 0
    assert status["written"] == 2  # the telemetry and the report


def test_a_device_refusal_arrives_as_a_negative_ack(
        live: tuple[TwinService, IngestPipeline], device: Device,
        running: MqttSource) -> None:
    service = live[0]
    device.send("reported", {"speed": 10.0})  # a report also makes the device known
    wait_for(lambda: service.get_twin("m1").get("speed") == 10.0, "the first report")
    service.set_desired("m1", {"speed": 900.0})
    wait_for(lambda: device.received() != [], "the command")
    device.send("reported", {"speed": 10.0, "$version": 1, "ackCode": 400,
                             "ackDescription": "Above the maximum of 200"})
    wait_for(lambda: speed_meta(service).get("ackCode") == 400, "the refusal")
    meta = speed_meta(service)
    assert meta["ackVersion"] == 1 and meta["ackDescription"] == "Above the maximum of 200"
    assert service.get_twin("m1")["speed"] == 10.0


def test_a_pending_command_is_sent_again_after_a_restart(
        live: tuple[TwinService, IngestPipeline], device: Device, prefix: str) -> None:
    service, pipeline = live
    service.set_desired("m1", {"speed": 75.0})  # set while holotwin's connector is down
    for round_ in (1, 2):
        source = desired_source(prefix)
        source.start(pipeline)
        try:
            assert source.wait_connected(10)
            device.send("telemetry", {"temperature": 20.0 + round_})
            wait_for(lambda n=round_: len(device.received()) == n,
                     f"command #{round_}")
        finally:
            source.stop()
    expected = (f"{prefix}/l1/m1/desired", {"speed": 75.0, "$version": 1})
    assert device.received() == [expected, expected]
