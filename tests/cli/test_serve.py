"""``holotwin serve`` in a real process: it answers, and Ctrl-C stops it with exit code 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _serve(data: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", LAUNCH, "--data-dir", str(data), "serve",
               "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "error"})


def _leases(url: str) -> dict[str, dict[str, Any]]:
    workers = httpx.get(f"{url}/health", timeout=2.0).json()["workers"]
    return {name: w["lease"] for name, w in workers.items() if w["lease"]}


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except httpx.TransportError:  # not listening yet
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def test_two_servers_on_one_store_run_analytics_once_and_hand_it_over(tmp_path: Path) -> None:
    """Of two 'holotwin serve' on one data directory one holds each of the analytics and
    alerts leases (GET /health says which); stopped, a holder hands them over at once."""
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    procs = [_serve(tmp_path / "data", p) for p in ports]
    errors: list[str] = []
    try:
        for url in urls:  # each server has looked at both leases
            _until(lambda u=url: [lease["heldBy"] is not None for lease in
                                  _leases(u).values()] == [True, True], f"the leases of {url}")
        views = [_leases(url) for url in urls]
        for name in ("analytics", "alerts"):
            assert sorted(v[name]["holding"] for v in views) == [False, True], views
            assert views[0][name]["heldBy"] == views[1][name]["heldBy"]
        workers = httpx.get(f"{urls[0]}/health", timeout=2.0).json()["workers"]
        assert set(workers) == {"behaviors", "analytics", "alerts", "kpis"}
        assert workers["behaviors"]["lease"] is None  # estimates are written conditionally
        assert workers["kpis"]["lease"] is None  # each server keeps the reports it serves
        holder = 0 if views[0]["analytics"]["holding"] else 1
        procs[holder].send_signal(signal.SIGINT)
        assert procs[holder].wait(30) == 0
        _until(lambda: [lease["holding"] for lease in _leases(urls[1 - holder]).values()]
               == [True, True], "the other server to hold both leases", 10)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                errors.append(proc.communicate(timeout=30)[1])
            except subprocess.TimeoutExpired:
                proc.kill()
                errors.append(proc.communicate()[1])
    assert all("Traceback" not in err for err in errors), errors
    said = "".join(errors)
    assert "Analytics: standing by; the lease 'analytics' is held by" in said, errors
    assert "Analytics: took the lease 'analytics' (its holder released it)" in said, errors
