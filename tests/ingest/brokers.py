"""Real processes for fault tests: a private Mosquitto, a ``holotwin ingest`` process, and a
paced QoS 1 publisher that survives broker restarts.

Every wait has a deadline; nothing here sleeps to synchronize except the publisher's pacing.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_SERVICES


def require(condition: bool, reason: str) -> None:
    """Skip for ``reason`` unless ``HOLOTWIN_REQUIRE_SERVICES=1``, where it fails instead."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"HOLOTWIN_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def wait_for(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateBroker:
    """``mosquitto -c conf`` on a free loopback port, persisting sessions and QoS 1 queues to
    ``directory`` (written when the broker shuts down: a SIGTERM, not a crash)."""

    def __init__(self, directory: Path, *, listener: str = "", anonymous: bool = True) -> None:
        """``listener``: more lines for the listener (TLS files...); ``anonymous``: whether
        clients may connect without a user name."""
        binary = shutil.which("mosquitto")
        require(binary is not None, "no mosquitto binary on PATH for a private broker")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"{listener}"
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            # run as root, mosquitto would switch to user 'mosquitto' and could not write its
            # log or its persistence file here: the restart would lose the sessions
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            "max_queued_messages 0\n"  # no limit: a stopped consumer must not lose messages
            f"log_dest file {directory}/mosquitto.log\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _answers(self.port) or self.process is None
                 or self.process.poll() is not None, "the private broker to listen", 10)
        if self.process.poll() is not None:
            log = (self.directory / "mosquitto.log")
            pytest.fail(f"mosquitto exited with {self.process.returncode}: "
                        f"{log.read_text() if log.exists() else ''}")

    def stop(self) -> None:
        """SIGTERM: the broker saves its sessions and queues, then exits."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            pytest.fail("the private broker did not stop within 10 s of SIGTERM")

    def restart(self) -> None:
        self.stop()
        self.start()


class IngestProcess:
    """``holotwin --data-dir D ingest --connectors F`` with its output collected by a thread."""

    def __init__(self, data_dir: Path, connectors: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("HOLOTWIN_STORE",
                                                               "HOLOTWIN_DATA_DIR")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "holotwin.cli", "--data-dir", str(data_dir), "ingest",
             "--connectors", str(connectors), "--progress", "1", "--log-level", "warning"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        with stdout:
            for line in stdout:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def count(self, prefix: str) -> int:
        return sum(1 for line in list(self.lines) if line.startswith(prefix))

    def wait_connected(self, times: int = 1, timeout: float = 15) -> None:
        def connected() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"holotwin ingest exited early:\n{self.output}")
            return self.count("Connected:") >= times

        wait_for(connected, f"holotwin ingest to connect ({times}x)", timeout)

    def kill(self) -> None:
        """SIGKILL: no flush, no acknowledgement of what is pending."""
        self.process.kill()
        self.process.wait(10)
        self._reader.join(5)

    def terminate(self, timeout: float = 15) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            pytest.fail(f"holotwin ingest did not stop within {timeout} s:\n{self.output}")
        self._reader.join(5)
        return code


class PacedPublisher:
    """Publishes ``payloads`` at QoS 1 to ``topic`` at about ``rate`` messages/s from a thread.

    paho keeps every QoS 1 message until its PUBACK and sends again (DUP) whatever is not
    acknowledged when it reconnects, and it reconnects by itself; ``max_inflight`` bounds
    the window. The broker keeps the publisher's session too (``clean_start`` false).
    """

    def __init__(self, port: int, topic: str, payloads: list[bytes], rate: float,
                 max_inflight: int = 50) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self.topic = topic
        self.payloads = payloads
        self.rate = rate
        self.sent = 0
        self.mids: list[int] = []
        self.acked: set[int] = set()  # message ids the broker acknowledged (N < 65536)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"pub-{uuid.uuid4().hex[:10]}",
                                  protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 300
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=False,
                            properties=props)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        for i, payload in enumerate(self.payloads):
            # a publish while disconnected returns MQTT_ERR_NO_CONN but paho keeps the
            # message and sends it after reconnecting: count the PUBACKs, not the return codes
            self.mids.append(self.client.publish(self.topic, payload, qos=1).mid)
            self.sent = i + 1
            ahead = started + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing, so faults land mid-stream

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        self.acked.add(mid)

    def unacknowledged(self) -> int:
        return len(set(self.mids) - self.acked)

    def wait_done(self, timeout: float) -> None:
        """Until every message was handed to paho and acknowledged by the broker."""
        wait_for(lambda: not self._thread.is_alive() and self.unacknowledged() == 0,
                 f"the broker to acknowledge all {len(self.payloads)} publishes "
                 f"({self.sent} sent, {self.unacknowledged()} not acknowledged)", timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_times(db: Path, twin_id: str, signal_name: str) -> list[float]:
    """Source times of the stored readings of one signal (read with a separate connection)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT time FROM telemetry WHERE twin_id = ? AND signal = ?",
                            (twin_id, signal_name)).fetchall()
    finally:
        conn.close()
    return [float(r[0]) for r in rows]


def count_rows(db: Path, sql: str, *args: object) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()
