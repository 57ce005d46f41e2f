"""API fixtures. Every response in these tests is checked: a 5xx fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from holotwin.api import ApiSettings, create_app
from holotwin.api.server import ServerThread
from holotwin.service import TwinService
from tests.conftest import PLANT_MODELS


def _no_server_errors(response: httpx.Response) -> None:
    if response.status_code >= 500:
        response.read()
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text}"
        )


def make_client(service: TwinService, settings: ApiSettings | None = None) -> TestClient:
    client = TestClient(create_app(service, settings), raise_server_exceptions=True)
    client.event_hooks["response"].append(_no_server_errors)
    return client


@pytest.fixture
def client(service: TwinService) -> Iterator[TestClient]:
    with make_client(service) as c:
        yield c


@pytest.fixture
def plant_client(client: TestClient) -> TestClient:
    r = client.post("/models", json=PLANT_MODELS)
    assert r.status_code == 201, r.text
    return client


@pytest.fixture(params=["sqlite", "postgres"])
def live_server(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[str, TwinService]]:
    """A real uvicorn server on a free loopback port, on each store."""
    from tests.conftest import dispose, make_store

    store = make_store(request.param, tmp_path)
    service = TwinService(store)
    server = ServerThread(service).start()
    try:
        yield server.url, service
    finally:
        server.stop()
        dispose(store)
