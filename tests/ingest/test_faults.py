"""Faults with real processes: ``holotwin ingest`` killed mid-stream, the broker restarted
mid-stream. Each test runs a private Mosquitto (persistence on) on a free port, so the shared
broker is never touched; skipped without a ``mosquitto`` binary unless
``HOLOTWIN_REQUIRE_SERVICES=1``.

What is guaranteed end to end, and what these tests check:
- The publisher keeps every QoS 1 message until the broker's PUBACK and sends it again after
  a reconnect, so the broker receives each message at least once.
- The broker keeps the ingest session's undelivered and unacknowledged QoS 1 messages while
  holotwin is away, and across its own restart (saved on SIGTERM; a broker crash between
  autosaves would lose them: not tested, not claimed).
- holotwin acknowledges only what it committed, so everything reaches the store at least once;
  the (twin, signal, source time) key turns the redeliveries into no second row.
So the store holds every reading exactly once, although the transport delivers some twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from holotwin.service import TwinService
from holotwin.store import SqliteStore
from tests.conftest import PLANT_MODELS, machine
from tests.ingest.brokers import (
    IngestProcess,
    PacedPublisher,
    PrivateBroker,
    count_rows,
    stored_times,
    wait_for,
)

pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")

N = 3000  # readings, one per message, each with its own source time
RATE = 1500.0  # messages/s: about 2 s of publishing, so the fault lands mid-stream
T0 = 1_700_000_000.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    b = PrivateBroker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A SQLite store with the test plant's models and twin m1."""
    directory = tmp_path / "data"
    directory.mkdir()
    service = TwinService(SqliteStore(directory / "holotwin.db"))
    try:
        service.add_models(PLANT_MODELS)
        service.put_twin("m1", machine("m1"))
    finally:
        service.close()
    return directory


def connectors(path: Path, port: int, prefix: str) -> Path:
    path.write_text(f"""
[pipeline]
max_batch = 200
max_delay_ms = 20

[[connector]]
name = "faults"
type = "mqtt"
host = "127.0.0.1"
port = {port}
client_id = "holotwin-faults-{uuid.uuid4().hex[:10]}"
session_expiry = 300
reconnect_min_delay = 1
reconnect_max_delay = 1

[[connector.subscription]]
topic = "{prefix}/{{machine}}/telemetry"
twin = "{{machine}}"
qos = 1
time = "/ts"
""")
    return path


def payloads() -> list[bytes]:
    return [json.dumps({"ts": T0 + i, "temperature": float(i)}).encode() for i in range(N)]


def check_exactly_once(db: Path) -> None:
    times = stored_times(db, "m1", "temperature")
    missing = sorted({T0 + i for i in range(N)} - set(times))
    assert not missing, f"{len(missing)} readings lost, first source times {missing[:5]}"
    assert len(times) == N and set(times) == {T0 + i for i in range(N)}
    assert count_rows(db, "SELECT COUNT(*) FROM dead_letters") == 0
    # the change feed is not doubled either: the readings its telemetry events report (one
    # event per twin and committed batch, counting the new readings only) add up to N
    assert count_rows(db, "SELECT SUM(json_extract(data, '$.readings')) FROM events "
                          "WHERE kind = 'telemetry'") == N


@pytest.fixture
def prefix() -> str:
    return f"holotwin-faults/{uuid.uuid4().hex[:10]}"


def test_killed_ingest_process_loses_and_doubles_nothing(
    tmp_path: Path, broker: PrivateBroker, data_dir: Path, prefix: str,
) -> None:
    db = data_dir / "holotwin.db"
    config = connectors(tmp_path / "connectors.toml", broker.port, prefix)
    first = IngestProcess(data_dir, config)
    second: IngestProcess | None = None
    publisher = PacedPublisher(broker.port, f"{prefix}/m1/telemetry", payloads(), RATE)
    try:
        first.wait_connected()  # the session and its subscription exist from here on
        publisher.start()
        wait_for(lambda: len(stored_times(db, "m1", "temperature")) >= N // 4,
                 "a quarter of the readings before the kill", 15)
        first.kill()  # mid-stream: batches in the pipeline were never acknowledged
        killed_at = publisher.sent
        assert killed_at < N, "the publisher finished before the kill: not mid-stream"
        wait_for(lambda: publisher.sent >= min(N, killed_at + N // 5),
                 "more messages published while holotwin is down", 15)
        second = IngestProcess(data_dir, config)  # same client id: the broker resumes it
        second.wait_connected()
        publisher.wait_done(20)
        wait_for(lambda: len(stored_times(db, "m1", "temperature")) >= N,
                 "every reading in the store", 20)
        assert second.terminate() == 0, second.output
        assert "Stopped after" in second.output
    finally:
        publisher.close()
        for p in (first, second):
            if p is not None and p.process.poll() is None:
                p.kill()
    check_exactly_once(db)


def test_broker_restart_loses_and_doubles_nothing(
    tmp_path: Path, broker: PrivateBroker, data_dir: Path, prefix: str,
) -> None:
    db = data_dir / "holotwin.db"
    config = connectors(tmp_path / "connectors.toml", broker.port, prefix)
    ingest = IngestProcess(data_dir, config)
    publisher = PacedPublisher(broker.port, f"{prefix}/m1/telemetry", payloads(), RATE)
    try:
        ingest.wait_connected()
        publisher.start()
        wait_for(lambda: len(stored_times(db, "m1", "temperature")) >= N // 4,
                 "a quarter of the readings before the restart", 15)
        broker.restart()  # same port, same persistence directory
        restarted_at = publisher.sent
        assert restarted_at < N, "the publisher finished before the restart: not mid-stream"
        ingest.wait_connected(times=2)  # paho reconnects by itself; we subscribe again
        publisher.wait_done(20)
        wait_for(lambda: len(stored_times(db, "m1", "temperature")) >= N,
                 "every reading in the store", 20)
        assert ingest.terminate() == 0, ingest.output
        assert "had no session" not in ingest.output  # the broker kept it across the restart
    finally:
        publisher.close()
        if ingest.process.poll() is None:
            ingest.kill()
    check_exactly_once(db)


def test_a_reconnect_that_finds_no_session_is_reported(
    broker: PrivateBroker, data_dir: Path, prefix: str,
) -> None:
    """A broker that lost its sessions (restarted without its persistence file) may have lost
    messages meant for us: the source says so in its status and the log."""
    from holotwin.ingest import IngestPipeline, MqttConfig, MqttSource, TopicMapping

    service = TwinService(SqliteStore(data_dir / "holotwin.db"))
    source = MqttSource(MqttConfig(
        name="lossy", client_id=f"holotwin-{uuid.uuid4().hex[:8]}", host="127.0.0.1",
        port=broker.port, session_expiry=300, reconnect_min_delay=1, reconnect_max_delay=1,
        subscriptions=(TopicMapping.create(f"{prefix}/{{machine}}/telemetry", "{machine}"),)))
    pipeline = IngestPipeline(service)
    source.start(pipeline)
    try:
        assert source.wait_connected(10)
        broker.restart()  # sessions saved and restored: nothing to report
        wait_for(lambda: source.connected and source.status()["lastError"] is not None,
                 "the reconnect after a restart", 15)
        assert source.sessions_lost == 0
        broker.stop()
        (broker.directory / "mosquitto.db").unlink()
        broker.start()
        wait_for(lambda: source.sessions_lost == 1 and source.connected,
                 "the reconnect to a broker without our session", 15)
        assert "had no session" in (source.status()["lastError"] or "")
    finally:
        source.stop()
        service.close()
