"""``holotwin demo`` end to end: a real process, a real server, twins that change over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from holotwin.api.server import free_port
from holotwin.service import TwinService
from holotwin.store import open_store

MACHINE = "machine-1-1"
# A child started with SIGINT ignored (as from a background shell job) would ignore Ctrl-C, so
# for that test the child installs Python's default handler itself before running the command.
CTRL_C_ABLE = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "from holotwin.cli.main import main; main()")


@contextmanager
def demo_process(data_dir: Path, *args: str, ctrl_c: bool = False
                 ) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    launch = ["-c", CTRL_C_ABLE] if ctrl_c else ["-m", "holotwin.cli.main"]
    command = [sys.executable, *launch, "--data-dir", str(data_dir), "demo",
               "--port", str(port), "--interval", "0.2", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        try:
            yield proc, f"http://127.0.0.1:{port}"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def wait_until_up(proc: subprocess.Popen[str], url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the demo exited with {proc.returncode}:\n{out}\n{err}")
        try:
            if httpx.get(f"{url}/digitaltwins/{MACHINE}", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the demo's API did not come up on {url}")


def get_twin(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/digitaltwins/{MACHINE}", timeout=5.0)
    assert response.status_code == 200, response.text
    twin: dict[str, Any] = response.json()
    return twin


def test_demo_runs_for_a_duration_and_twins_change_live(tmp_path: Path) -> None:
    with demo_process(tmp_path / "data", "--duration", "3") as (proc, url):
        wait_until_up(proc, url)
        first = get_twin(url)
        target = first["speed"] + 10.0
        response = httpx.patch(f"{url}/digitaltwins/{MACHINE}/desired", json={"speed": target},
                               timeout=5.0)
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 2.5
        while True:
            second = get_twin(url)
            if second["speed"] == target or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        history = httpx.get(f"{url}/digitaltwins/{MACHINE}/telemetry",
                            params={"signal": "temperature"}, timeout=5.0).json()
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert second["$metadata"]["$revision"] > first["$metadata"]["$revision"]
    assert second["$etag"] != first["$etag"]
    speed = second["$metadata"]["speed"]
    assert second["speed"] == target and speed["ackVersion"] == speed["desiredVersion"] == 1
    assert len(history["value"]) >= 2
    assert all(isinstance(p["value"], float) for p in history["value"])
    assert f"{url}/docs" in out and "curl -N -H 'Accept: text/event-stream'" in out
    assert "Demo stopped after 3." in out
    assert "Traceback" not in err


def test_ctrl_c_stops_the_demo_with_a_summary(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with demo_process(data, ctrl_c=True) as (proc, url):
        wait_until_up(proc, url)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Demo stopped after" in out and "Traceback" not in err
    # the same data directory continues: the plant is reused, not rebuilt
    with demo_process(data, "--duration", "0.5", "--no-server") as (proc, _):
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Demo stopped after 0." in out
    service = TwinService(open_store(f"sqlite://{data.resolve().as_posix()}/holotwin.db"))
    try:
        created = [e.twin_id for e in service.read_events(0, 100_000, kinds=["twin.created"])]
        # plant, line, 4 machines and the line's battery pack, each created once
        assert service.count_twins() == len(created) == 7
    finally:
        service.close()
