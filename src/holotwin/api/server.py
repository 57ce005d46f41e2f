"""Running the API with uvicorn, in the foreground (``holotwin serve``) or in a thread (demo,
tests)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import uvicorn

from holotwin.api.app import create_app
from holotwin.api.deps import ApiSettings, is_loopback
from holotwin.errors import HolotwinError
from holotwin.service import TwinService

if TYPE_CHECKING:
    from fastapi import FastAPI

    from holotwin.ingest import Ingestion
    from holotwin.service.tracker import LogFollower

__all__ = ["ServerThread", "TlsFiles", "UnsafeBindError", "check_bind", "free_port", "run_server"]


class UnsafeBindError(HolotwinError):
    """Refusing to listen on a non-loopback address without authentication."""

    code = "UnsafeBind"


log = logging.getLogger("holotwin.api")

GRACEFUL_SHUTDOWN = 3.0  # s: how long a stop waits for clients to close their connections


def check_bind(host: str, settings: ApiSettings) -> None:
    """Refuse a non-loopback address unless API keys are required."""
    if not settings.auth and not is_loopback(host):
        raise UnsafeBindError(
            f"Refusing to listen on {host} without authentication: anyone on the network could "
            "change your twins. Turn on API keys (--auth, and create a key with "
            "'holotwin keys create NAME --scope write') or listen on 127.0.0.1."
        )


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate (chain) and its private key: the server then speaks HTTPS only."""

    certfile: str
    keyfile: str


class _Server(uvicorn.Server):
    """uvicorn's server, whose stop waits at most :data:`GRACEFUL_SHUTDOWN` seconds for the
    clients' connections to close, then aborts those still open. A client may keep one open
    for as long as it likes (a browser's change feed, a pooled keep-alive), and closing a TLS
    connection waits for the peer's close_notify, which an idle client never sends: the stop
    would wait with it, and the background workers would go on running."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        async def abort_stragglers() -> None:
            await asyncio.sleep(GRACEFUL_SHUTDOWN)
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

        stragglers = asyncio.create_task(abort_stragglers())
        try:
            await super().shutdown(sockets)
        finally:
            stragglers.cancel()


def _config(service: TwinService, host: str, port: int, settings: ApiSettings,
            log_level: str, tls: TlsFiles | None,
            ingestion: Ingestion | None = None, analytics: bool = True) -> uvicorn.Config:
    check_bind(host, settings)
    return uvicorn.Config(
        create_app(service, settings, ingestion, analytics=analytics), host=host, port=port,
        log_level=log_level,
        access_log=False, lifespan="on",
        ssl_certfile=tls.certfile if tls else None, ssl_keyfile=tls.keyfile if tls else None,
    )


def run_server(service: TwinService, host: str = "127.0.0.1", port: int = 8473,
               settings: ApiSettings | None = None, log_level: str = "info",
               tls: TlsFiles | None = None, ingestion: Ingestion | None = None,
               analytics: bool = True) -> None:
    """Serve until interrupted (Ctrl-C stops it cleanly); ``ingestion`` runs alongside, and
    with ``analytics`` the detectors, rules and alert delivery."""
    _Server(
        _config(service, host, port, settings or ApiSettings(), log_level, tls, ingestion,
                analytics)
    ).run()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class ServerThread:
    """The API served from a background thread; ``stop()`` shuts it down cleanly."""

    def __init__(self, service: TwinService, host: str = "127.0.0.1", port: int | None = None,
                 settings: ApiSettings | None = None, log_level: str = "warning",
                 tls: TlsFiles | None = None, ingestion: Ingestion | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.scheme = "https" if tls else "http"
        config = _config(service, host, self.port, settings or ApiSettings(), log_level, tls,
                         ingestion)
        #: the background workers (behaviors, analytics, alerts, KPI reports)
        self.followers: list[LogFollower] = cast("FastAPI", config.app).state.followers
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._server.run, name="holotwin-api", daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise HolotwinError(f"The API server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            # uvicorn is still closing: stop the background workers here, so that none of
            # them touches the store once this returns and the caller closes it
            log.warning("The API server on %s did not stop within 10 s", self.url)
            for follower in self.followers:
                follower.stop()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
