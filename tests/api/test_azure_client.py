"""The unmodified ``azure-digitaltwins-core`` client against a real holotwin server.

The client sends bearer tokens only over HTTPS, so the server runs with a throwaway CA and
certificate (trustme) and an API key is the token: exactly how a user would point their
existing Azure Digital Twins code at holotwin.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

azure_core = pytest.importorskip("azure.core", reason="azure-digitaltwins-core is not installed")
trustme = pytest.importorskip("trustme", reason="trustme is not installed")

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.digitaltwins.core import DigitalTwinsClient

from holotwin.api import ApiSettings
from holotwin.api.server import ServerThread, TlsFiles
from holotwin.service import ApiKeys, TwinService
from tests.conftest import LINE, MACHINE, MOTOR, PLANT_MODELS, dispose, make_store


class ApiKeyCredential:
    """A TokenCredential that hands out a holotwin API key as the bearer token."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.key, int(time.time()) + 3600)


@pytest.fixture(params=["sqlite", "postgres"])
def adt(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[DigitalTwinsClient, TwinService]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_pem, key_pem, ca_pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    store = make_store(request.param, tmp_path)
    service = TwinService(store)
    _, key = ApiKeys(store).create("adt-client", "write")
    server = ServerThread(service, settings=ApiSettings(auth=True),
                          tls=TlsFiles(str(cert_pem), str(key_pem))).start()
    client = DigitalTwinsClient(server.url, ApiKeyCredential(key), connection_verify=str(ca_pem))
    try:
        yield client, service
    finally:
        client._client.close()  # DigitalTwinsClient itself has no close()
        server.stop()
        # uvicorn may still be closing the TLS connection: the workers are stopped anyway,
        # so none of them reads the store it is about to close
        assert server.followers and not any(f.status()["running"] for f in server.followers)
        dispose(store)


def test_models_twins_relationships_telemetry(adt: tuple[DigitalTwinsClient, TwinService]) -> None:
    client, service = adt
    created = client.create_models(PLANT_MODELS)
    assert {m.id for m in created} == {m["@id"] for m in PLANT_MODELS}
    assert client.get_model(MACHINE, include_model_definition=True).model["@id"] == MACHINE
    assert {m.id for m in client.list_models(include_model_definition=True)} >= {MACHINE, LINE}
    assert {m.id for m in client.list_models([MACHINE])} == {MACHINE, MOTOR}

    twin = client.upsert_digital_twin(
        "m1", {"$metadata": {"$model": MACHINE}, "serial": "S1", "speed": 1.0})
    assert twin["$dtId"] == "m1" and twin["$etag"]
    client.upsert_digital_twin("line", {"$metadata": {"$model": LINE}, "name": "L1"})
    got = client.get_digital_twin("m1")
    assert got["serial"] == "S1" and got["$metadata"]["$model"] == MACHINE

    # patch with the right etag, then a stale one
    from azure.core import MatchConditions

    client.update_digital_twin("m1", [{"op": "replace", "path": "/speed", "value": 2.0}],
                               etag=got["$etag"], match_condition=MatchConditions.IfNotModified)
    assert client.get_digital_twin("m1")["speed"] == 2.0
    with pytest.raises(ResourceModifiedError):
        client.update_digital_twin("m1", [{"op": "replace", "path": "/speed", "value": 3.0}],
                                   etag=got["$etag"], match_condition=MatchConditions.IfNotModified)

    client.update_component("m1", "motor", [{"op": "add", "path": "/rpm", "value": 900.0}])
    assert client.get_component("m1", "motor")["rpm"] == 900.0

    rel = client.upsert_relationship("line", "line-m1", {
        "$relationshipId": "line-m1", "$sourceId": "line", "$relationshipName": "contains",
        "$targetId": "m1", "position": 1})
    assert rel["$targetId"] == "m1"
    assert client.get_relationship("line", "line-m1")["position"] == 1
    client.update_relationship("line", "line-m1", [{"op": "replace", "path": "/position",
                                                    "value": 2}])
    assert [r["$relationshipId"] for r in client.list_relationships("line")] == ["line-m1"]
    assert [r["$relationshipId"] for r in client.list_relationships("line", "contains")] == [
        "line-m1"]
    incoming = list(client.list_incoming_relationships("m1"))
    assert incoming[0].source_id == "line" and incoming[0].relationship_name == "contains"

    rows = list(client.query_twins("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'm1'"))
    assert [r["$dtId"] for r in rows] == ["m1"]

    client.publish_telemetry("m1", {"temperature": 71.5})
    client.publish_component_telemetry("m1", "motor", {"current": 4.2})
    latest = {p.signal: p.value for p in service.latest_telemetry("m1")}
    assert latest == {"temperature": 71.5, "motor/current": 4.2}

    client.delete_relationship("line", "line-m1")
    client.delete_digital_twin("m1")
    with pytest.raises(ResourceNotFoundError):
        client.get_digital_twin("m1")
    client.decommission_model(LINE)
    assert client.get_model(LINE).decommissioned is True


def test_errors_reach_the_client_with_messages(adt: tuple[DigitalTwinsClient, TwinService]) -> None:
    client, _ = adt
    client.create_models(PLANT_MODELS)
    with pytest.raises(HttpResponseError) as info:
        client.upsert_digital_twin("m1", {"$metadata": {"$model": MACHINE}, "speed": "fast"})
    assert info.value.status_code == 400 and "expects double" in str(info.value)
    with pytest.raises(ResourceNotFoundError):
        client.get_relationship("m1", "nope")
