"""``holotwin demo --mqtt``: the machines as devices on a real Mosquitto (``HOLOTWIN_MQTT``),
holotwin ingesting them and sending desired speeds back. Skipped without a broker unless
``HOLOTWIN_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.test_demo_command import MACHINE, demo_process, get_twin, wait_until_up
from tests.ingest.test_mqtt import BROKER, _require_broker


def wait_for_twin(url: str, done: Callable[[dict[str, Any]], bool], timeout: float = 3.0
                  ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        twin = get_twin(url)
        if done(twin) or time.monotonic() > deadline:
            return twin
        time.sleep(0.05)


def test_the_demo_runs_over_mqtt_and_desired_speeds_are_acked(tmp_path: Path) -> None:
    _require_broker()
    prefix = f"holotwin-test/{uuid.uuid4().hex[:10]}"
    with demo_process(tmp_path / "data", "--mqtt", BROKER, "--mqtt-prefix", prefix,
                      "--duration", "4") as (proc, url):
        wait_until_up(proc, url)
        first = get_twin(url)
        target = first["speed"] + 10.0
        response = httpx.patch(f"{url}/digitaltwins/{MACHINE}/desired", json={"speed": target},
                               timeout=5.0)
        assert response.status_code == 200, response.text
        acked = wait_for_twin(url, lambda t: t["$metadata"]["speed"].get("ackVersion") == 1)
        response = httpx.patch(f"{url}/digitaltwins/{MACHINE}/desired", json={"speed": 900.0},
                               timeout=5.0)
        assert response.status_code == 200, response.text
        refused = wait_for_twin(url, lambda t: t["$metadata"]["speed"].get("ackVersion") == 2)
        history = httpx.get(f"{url}/digitaltwins/{MACHINE}/telemetry",
                            params={"signal": "temperature"}, timeout=5.0).json()
        connectors = httpx.get(f"{url}/ingest/connectors", timeout=5.0)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    speed = acked["$metadata"]["speed"]
    assert acked["speed"] == target and speed["desiredVersion"] == 1 and speed["ackCode"] == 200
    assert acked["$metadata"]["$revision"] > first["$metadata"]["$revision"]
    speed = refused["$metadata"]["speed"]
    assert (speed["desiredVersion"], speed["ackCode"]) == (2, 400)
    assert "outside 0 to 200" in speed["ackDescription"] and refused["speed"] == target
    assert len(history["value"]) >= 2  # telemetry came in over the broker
    (connector,) = [c for c in connectors.json()["value"] if c["name"] == "demo-broker"]
    assert connector["connected"] and connector["commandsSent"] >= 2
    assert connector["deadLettered"] == 0 and connector["written"] > 10
    assert f"MQTT broker  {BROKER} (topics {prefix}/<line>/<machine>/telemetry" in out
    assert "Demo stopped after 4." in out and "Traceback" not in err


def test_broker_options_are_checked() -> None:
    from holotwin.demo import DemoOptions
    from holotwin.demo.broker import parse_broker
    from holotwin.errors import InvalidInputError

    assert parse_broker("[::1]:1883") == ("::1", 1883)
    for bad in ("nonsense", "host:0", ":1883", "host:port"):
        with pytest.raises(InvalidInputError, match="HOST:PORT"):
            DemoOptions(mqtt=bad)
    with pytest.raises(ValueError, match="without \\+ or #"):
        DemoOptions(mqtt="h:1", mqtt_prefix="a/#")
