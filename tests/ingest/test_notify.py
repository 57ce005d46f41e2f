"""Alert delivery to webhooks (a local HTTP server) and MQTT (the local Mosquitto)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from holotwin.clock import ManualClock
from holotwin.ingest.notify import ALERT_KINDS, AlertNotifier
from holotwin.service import TwinService
from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.tracker import LogFollower
from tests.conftest import reopen
from tests.ingest.brokers import _answers, free_port, require, wait_for

OVEN = "dtmi:test:Oven;1"
T0 = 1_700_000_000.0


class Hook:
    """A webhook receiver that answers with the next status of ``script`` (then 200)."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.received: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = hook.script.pop(0) if hook.script else 200
                hook.received.append((status, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def oven(any_service: TwinService) -> TwinService:
    any_service.add_models([{"@id": OVEN, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
                             "contents": [{"@type": "Telemetry", "name": "temperature",
                                           "schema": "double"}]}])
    any_service.put_twin("oven-1", {"$metadata": {"$model": OVEN}})
    any_service.put_rule("hot", {"condition": "temperature > 80", "model": OVEN,
                                 "severity": "critical"})
    any_service.put_rule("warm", {"condition": "temperature > 60", "model": OVEN,
                                  "severity": "info"})
    return any_service


@pytest.fixture
def hook() -> Iterator[list[Hook]]:
    made: list[Hook] = []
    yield made
    for h in made:
        h.close()


def heat(service: TwinService, values: list[float], t0: float = T0) -> None:
    engine = AnalyticsEngine(service)
    for k, v in enumerate(values):
        service.publish_telemetry("oven-1", {"temperature": v}, source_time=t0 + k)
        engine.run_once()


def test_a_webhook_is_retried_until_it_answers(oven: TwinService, hook: list[Hook]) -> None:
    h = Hook([503, 500, 429])
    hook.append(h)
    oven.put_alert_sink("ops", {"type": "webhook", "url": h.url, "backoff": 0.01,
                                "headers": {"Authorization": "Bearer s3cret"},
                                "minSeverity": "warning"})
    heat(oven, [50, 90, 50])  # hot raised and cleared; warm (info) is below minSeverity
    notifier = AlertNotifier(oven)
    assert notifier.run_once() == 2
    statuses = [r[0] for r in h.received]
    assert statuses == [503, 500, 429, 200, 200]
    kinds = [r[2]["type"] for r in h.received]
    assert kinds == ["alert.raised"] * 4 + ["alert.cleared"]
    headers = h.received[0][1]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["X-Holotwin-Event-Id"] == str(h.received[0][2]["id"])
    assert h.received[0][2]["data"]["alert"]["rule"] == "hot"
    status = oven.get_alert_sink("ops")["status"]
    assert status["delivered"] == 2 and status["failed"] == 0
    # nothing new: nothing sent again, also from a new notifier (the position is stored)
    assert AlertNotifier(oven).run_once() == 0 and len(h.received) == 5


def test_a_refused_or_unreachable_webhook_becomes_a_dead_letter(oven: TwinService,
                                                                hook: list[Hook]) -> None:
    h = Hook([400])
    hook.append(h)
    oven.put_alert_sink("bad", {"type": "webhook", "url": h.url, "rules": ["hot"],
                                "backoff": 0.01})
    oven.put_alert_sink("down", {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/x",
                                 "rules": ["hot"], "attempts": 3, "backoff": 0.01})
    heat(oven, [90])
    notifier = AlertNotifier(oven, timeout=2.0)
    notifier.run_once()
    assert [r[0] for r in h.received] == [400]  # a 400 is not retried
    letters = oven.list_dead_letters()
    assert sorted(d.source for d in letters) == ["alert-sink/bad", "alert-sink/down"]
    assert all(d.stage == "deliver" for d in letters)
    down = next(d for d in letters if d.source == "alert-sink/down")
    assert "no answer" in down.reason and json.loads(down.payload)["type"] == "alert.raised"
    assert oven.get_alert_sink("down")["status"]["failed"] == 1
    assert "HTTP 400" in oven.get_alert_sink("bad")["status"]["lastError"]
    assert notifier.failed_deliveries == 2


def test_of_two_servers_one_raises_and_delivers_each_alert_and_the_other_takes_over(
        oven: TwinService, hook: list[Hook], clock: ManualClock) -> None:
    """Two servers on one store, each running the engine and the notifier on threads: each
    alert is raised once and delivered once; when the holders stop, the others go on."""
    h = Hook([])
    hook.append(h)
    oven.put_alert_sink("ops", {"type": "webhook", "url": h.url, "backoff": 0.01})
    other = TwinService(reopen(oven.store), clock)
    engines = [AnalyticsEngine(s, poll_interval=0.05) for s in (oven, other)]
    notifiers = [AlertNotifier(s, poll_interval=0.05) for s in (oven, other)]
    workers: list[LogFollower] = [*engines, *notifiers]
    try:
        for worker in workers:
            worker.start()
        # the sink's position is stored by the first round of the notifier that holds the lease
        wait_for(lambda: any(n.rounds for n in notifiers), "a notifier's first round", 10)
        other.publish_telemetry("oven-1", {"temperature": 90.0}, source_time=T0)
        wait_for(lambda: len(h.received) == 2, "hot and warm delivered", 10)
        for pair in (engines, notifiers):  # one did rounds, the other stood by
            assert sorted(w.rounds > 0 for w in pair) == [False, True]
            assert sorted(w.status()["lease"]["holding"] for w in pair) == [False, True]
        assert sorted((a["rule"], a["occurrences"]) for a in oven.list_alerts()) == [
            ("hot", 1), ("warm", 1)]
        for pair in (engines, notifiers):
            next(w for w in pair if w.rounds).stop()  # the other takes over at once
        oven.publish_telemetry("oven-1", {"temperature": 50.0}, source_time=T0 + 1)
        oven.publish_telemetry("oven-1", {"temperature": 95.0}, source_time=T0 + 2)
        wait_for(lambda: len(h.received) == 6, "both cleared and raised again", 10)
        assert all(w.rounds for w in workers)
    finally:
        for worker in workers:
            worker.stop()
        other.close()
    assert len(h.received) == 6 and all(r[0] == 200 for r in h.received)
    seqs = [e.seq for e in oven.read_events(0, 100, kinds=ALERT_KINDS)]
    assert [int(r[1]["X-Holotwin-Event-Id"]) for r in h.received] == seqs  # each once, in order
    assert sorted(r[2]["type"] for r in h.received) == ["alert.cleared"] * 2 + [
        "alert.raised"] * 4
    assert len(oven.list_alerts()) == 4


def test_alerts_are_published_to_mqtt(oven: TwinService) -> None:
    require(_answers(1883), "no MQTT broker on 127.0.0.1:1883 (start mosquitto)")
    import paho.mqtt.client as mqtt

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    got: list[tuple[str, dict[str, Any]]] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: got.append((m.topic, json.loads(m.payload)))
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    try:
        client.subscribe(f"{prefix}/#", qos=1)
        assert subscribed.wait(5)
        oven.put_alert_sink("bus", {"type": "mqtt", "url": "mqtt://127.0.0.1:1883",
                                    "topic": f"{prefix}/{{severity}}/{{twinId}}"})
        heat(oven, [70, 90])
        notifier = AlertNotifier(oven)
        try:
            assert notifier.run_once() == 2
        finally:
            notifier.stop()
        wait_for(lambda: len(got) == 2, "two alerts on MQTT", 10)
        assert sorted(t for t, _ in got) == [f"{prefix}/critical/oven-1",
                                             f"{prefix}/info/oven-1"]
        assert {m["data"]["alert"]["rule"] for _, m in got} == {"hot", "warm"}
    finally:
        client.loop_stop()
        client.disconnect()
