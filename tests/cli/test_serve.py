"""``holotwin serve`` in a real process: it answers, and Ctrl-C stops it with exit code 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from holotwin.api.server import free_port

# The child installs Python's Ctrl-C handler itself: one started with SIGINT ignored (as from a
# background shell job) would otherwise never see it.
LAUNCH = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "from holotwin.cli.main import main; main()")


def test_serve_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", LAUNCH, "--data-dir", str(tmp_path / "data"), "serve",
               "--port", str(port), "--log-level", "warning"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    response = httpx.get(f"{url}/digitaltwins", timeout=1.0)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"holotwin serve did not answer on {url}")
                    time.sleep(0.05)
            assert response.status_code == 200 and response.json()["value"] == []
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert f"holotwin API on {url}" in out and f"{url}/docs" in out
    assert out.rstrip().endswith("Server stopped.")
    assert "Traceback" not in err
