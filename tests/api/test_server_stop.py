"""Stopping the API server while a client keeps an idle HTTPS connection open (a browser tab,
a pooled client): the stop waits at most GRACEFUL_SHUTDOWN seconds for it, then drops it,
and the background workers are stopped either way."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import httpx
import trustme

from holotwin.api.server import GRACEFUL_SHUTDOWN, ServerThread, TlsFiles
from holotwin.service import TwinService
from holotwin.store import SqliteStore


def test_a_tls_server_stops_though_a_client_keeps_its_connection_open(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    service = TwinService(SqliteStore(tmp_path / "holotwin.db"))
    server = ServerThread(service, tls=TlsFiles(str(tmp_path / "cert.pem"),
                                                str(tmp_path / "key.pem"))).start()
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(tmp_path / "ca.pem")))
    try:
        # a keep-alive connection, left open until the end
        assert client.get(f"{server.url}/health").json()["status"] == "ok"
        started = time.monotonic()
        server.stop()
        took = time.monotonic() - started
        # it used to wait for the client (10 s, then gave up with the workers running)
        assert took < GRACEFUL_SHUTDOWN + 3, took
        assert server.followers and not any(f.status()["running"] for f in server.followers)
    finally:
        client.close()
        service.close()
