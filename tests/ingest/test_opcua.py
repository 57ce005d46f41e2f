"""The OPC UA source against an asyncua server the test starts on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from holotwin.clock import to_iso
from holotwin.errors import InvalidInputError
from holotwin.ingest import IngestPipeline, PipelineSettings
from holotwin.ingest.opcua import OpcUaConfig, OpcUaNode, OpcUaSource
from holotwin.service import TwinService

asyncua = pytest.importorskip("asyncua", reason="asyncua is not installed (the opcua extra)")

T0 = 1_700_000_000.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Plant:
    """An asyncua server on its own loop: object Pump1 with Speed, Temp, Mode, Running and
    Setpoint."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"opc.tcp://127.0.0.1:{port}/holotwin/"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.vars: dict[str, Any] = {}
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _start(self) -> None:
        from asyncua import Server, ua

        self.server = Server()
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await self.server.register_namespace("urn:holotwin:test")
        pump = await self.server.nodes.objects.add_object(ua.NodeId("Pump1", ns), f"{ns}:Pump1")
        self.vars["speed"] = await pump.add_variable(ua.NodeId("Pump1.Speed", ns), f"{ns}:Speed", 0.0)
        self.vars["temp"] = await pump.add_variable(ua.NodeId("Pump1.Temp", ns), f"{ns}:Temp", 68.0)
        self.vars["mode"] = await pump.add_variable(ua.NodeId("Pump1.Mode", ns), f"{ns}:Mode", "idle")
        self.vars["running"] = await pump.add_variable(ua.NodeId("Pump1.Running", ns),
                                                       f"{ns}:Running", False)
        self.vars["setpoint"] = await pump.add_variable(ua.NodeId("Pump1.Setpoint", ns),
                                                        f"{ns}:Setpoint", 0.0)
        self.ns = ns
        await self.server.start()

    def write(self, name: str, value: object, source_time: float) -> None:
        from asyncua import ua

        async def write() -> None:
            dv = ua.DataValue(ua.Variant(value), SourceTimestamp=datetime.fromtimestamp(
                source_time, UTC), ServerTimestamp=datetime.now(UTC))
            await self.vars[name].write_value(dv)
        self.run(write())

    def stop(self) -> None:
        self.run(self.server.stop())

        async def cancel_the_rest() -> None:  # sessions of clients the server dropped
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def opc_server() -> Iterator[Plant]:
    plant = Plant(_free_port())
    yield plant
    plant.stop()


def _points(service: TwinService, twin: str, signal: str) -> list[tuple[float, Any]]:
    return [(p.time, p.value if p.raw is None else p.raw)
            for p in service.telemetry_history(twin, signal, 0, 2e9)]


def test_data_changes_arrive_as_readings(plant: TwinService, opc_server: Plant) -> None:
    ns = opc_server.ns
    config = OpcUaConfig("opc", opc_server.endpoint, (
        OpcUaNode("m1", "speed", node_id=f"ns={ns};s=Pump1.Speed"),
        OpcUaNode("m1", "temperature", browse_path=f"{ns}:Pump1/{ns}:Temp",
                  unit="degreeFahrenheit"),
        OpcUaNode("m2", "mode", node_id=f"ns={ns};s=Pump1.Mode"),
    ), publishing_interval=0.02, watch_interval=0.2)
    pipeline = IngestPipeline(plant, PipelineSettings(max_batch=1))
    source = OpcUaSource(config)
    source.start(pipeline)
    try:
        assert source.wait_connected(5), source.status()
        # the subscription first reports the current values (source time: when they were set)
        wait_for(lambda: pipeline.pending >= 3 or pipeline.flush() >= 3, "initial values")
        opc_server.write("speed", 12.5, T0)
        opc_server.write("temp", 212.0, T0 + 1)
        opc_server.write("mode", "run", T0 + 2)
        opc_server.write("speed", 13.5, T0 + 3)

        def arrived() -> bool:
            pipeline.flush()
            return len(_points(plant, "m1", "speed")) >= 3 and \
                len(_points(plant, "m2", "mode")) >= 2
        wait_for(arrived, "the written values")
    finally:
        source.stop()
    assert {(T0, 12.5), (T0 + 3, 13.5)} <= set(_points(plant, "m1", "speed"))
    assert (T0 + 1, 100.0) in _points(plant, "m1", "temperature")  # converted to Celsius
    assert (T0 + 2, "run") in _points(plant, "m2", "mode")
    status = source.status()
    assert status["type"] == "opcua" and status["connected"] is False
    assert status["written"] >= 7 and status["deadLettered"] == 0


def test_nodes_mapped_to_properties_set_reported_values(plant: TwinService,
                                                        opc_server: Plant) -> None:
    """A node mapped to a property updates the twin's reported value with the node's source
    time; an older report does not overwrite a newer one; a value the property's schema
    refuses is a dead letter."""
    ns = opc_server.ns
    config = OpcUaConfig("opc", opc_server.endpoint, (
        OpcUaNode("m1", node_id=f"ns={ns};s=Pump1.Running", property_name="running"),
        OpcUaNode("m2", node_id=f"ns={ns};s=Pump1.Setpoint", property_name="speed"),
        OpcUaNode("m2", node_id=f"ns={ns};s=Pump1.Mode", property_name="running"),  # a string
    ), publishing_interval=0.02, watch_interval=0.2)
    pipeline = IngestPipeline(plant, PipelineSettings(max_batch=1))
    source = OpcUaSource(config)
    source.start(pipeline)
    now = time.time()
    try:
        assert source.wait_connected(5), source.status()
        wait_for(lambda: pipeline.flush() >= 0 and plant.count_dead_letters() == 1 and
                 "running" in plant.get_twin("m1"), "the initial values")
        opc_server.write("running", True, now + 10)
        opc_server.write("setpoint", 42.0, now + 11)

        def applied() -> bool:
            pipeline.flush()
            return plant.get_twin("m2").get("speed") == 42.0 and \
                plant.get_twin("m1").get("running") is True
        wait_for(applied, "the reported values")
        revision = plant.get_twin("m2")["$metadata"]["$revision"]
        opc_server.write("setpoint", 99.0, now + 5)  # older than the 42.0 already reported
        wait_for(lambda: pipeline.flush() >= 0 and source.status()["written"] >= 5,
                 "the stale report")
    finally:
        source.stop()
    m1, m2 = plant.get_twin("m1"), plant.get_twin("m2")
    assert m1["$metadata"]["running"]["sourceTime"] == to_iso(now + 10)
    assert m2["speed"] == 42.0 and m2["$metadata"]["speed"]["sourceTime"] == to_iso(now + 11)
    assert m2["$metadata"]["$revision"] == revision  # the stale report changed nothing
    [letter] = plant.list_dead_letters()
    assert letter.stage == "validate" and "running" in letter.reason
    assert letter.topic == f"ns={ns};s=Pump1.Mode"
    assert plant.telemetry_history("m2", "speed", 0, 2e10) == []  # not telemetry


def test_reconnects_after_the_server_comes_back(service: TwinService) -> None:
    from tests.conftest import PLANT_MODELS, machine

    service.add_models(PLANT_MODELS)
    service.put_twin("m1", machine("m1"))
    port = _free_port()
    config = OpcUaConfig("opc", f"opc.tcp://127.0.0.1:{port}/holotwin/",
                         (OpcUaNode("m1", "speed", node_id="ns=2;s=Pump1.Speed"),),
                         publishing_interval=0.02, timeout=1.0, watch_interval=0.1,
                         reconnect_min_delay=0.05, reconnect_max_delay=0.2)
    pipeline = IngestPipeline(service)
    source = OpcUaSource(config)
    source.start(pipeline)
    try:
        # nothing listens yet: the source reports the error and keeps trying
        wait_for(lambda: source.status()["lastError"] is not None, "a connection error")
        assert not source.connected
        server = Plant(port)
        try:
            assert server.ns == 2
            assert source.wait_connected(5)
            server.write("speed", 1.0, T0)
            wait_for(lambda: pipeline.flush() > 0 and bool(
                [p for p in _points(service, "m1", "speed") if p[0] == T0]), "a reading")
        finally:
            server.stop()
        wait_for(lambda: not source.connected, "the loss to be seen")
    finally:
        source.stop()


def test_node_configuration_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="either a signal or a property"):
        OpcUaNode("m1", node_id="i=1")
    with pytest.raises(InvalidInputError, match="either a signal or a property"):
        OpcUaNode("m1", "speed", node_id="i=1", property_name="speed")
    with pytest.raises(InvalidInputError, match="either node_id or browse_path"):
        OpcUaNode("m1", "speed")
    with pytest.raises(InvalidInputError, match="Invalid NodeId"):
        OpcUaNode("m1", "speed", node_id="Pump1.Speed")
    with pytest.raises(InvalidInputError, match="Invalid browse path"):
        OpcUaNode("m1", "speed", browse_path="Objects/Pump1")
    with pytest.raises(InvalidInputError, match="configured twice"):
        OpcUaConfig("o", "opc.tcp://h:4840", (OpcUaNode("a", "s", node_id="i=1"),
                                              OpcUaNode("b", "t", node_id="i=1")))
    with pytest.raises(InvalidInputError, match=r"opc\.tcp://"):
        OpcUaConfig("o", "http://h", (OpcUaNode("a", "s", node_id="i=1"),))
