"""Connector files, ``GET /ingest/...`` and ``holotwin deadletters``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from holotwin.cli.main import cli
from holotwin.ingest import ConnectorConfigError, Ingestion, load_connectors, parse_connectors
from holotwin.service import TwinService
from holotwin.store import DeadLetter, SqliteStore
from tests.api.conftest import make_client

EXAMPLE = """
[pipeline]
max_batch = 200
max_delay_ms = 20

[[connector]]
name = "plant"
type = "mqtt"
host = "127.0.0.1"
client_id = "holotwin-1"
username = "u"
password = "p"

[[connector.subscription]]
topic = "plant/{line}/{machine}/telemetry"
twin = "{machine}"
qos = 0
time = "/ts"
signals = { temperature = "/sensors/temp" }
units = { temperature = "degreeFahrenheit" }
"""


def test_a_connector_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE)
    config = load_connectors(path)
    assert config.pipeline.max_batch == 200 and config.pipeline.max_delay == 0.02
    [mqtt] = config.mqtt
    assert (mqtt.name, mqtt.client_id, mqtt.port, mqtt.password) == ("plant", "holotwin-1",
                                                                     1883, "p")
    [sub] = mqtt.subscriptions
    assert sub.topic.subscription == "plant/+/+/telemetry" and sub.qos == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("port", "port = 99999"), "connector 'plant': key 'port': must be from 1 to 65535"),
        (("host", 'host = 5'), "connector 'plant': key 'host': must be a string, got 5"),
        (("type", 'type = "amqp"'), "connector 'plant': key 'type': must be one of mqtt"),
        (("qos", "qos = 2"), "subscription #1 (plant/{line}/{machine}/telemetry): key 'qos'"),
        (("twin", 'twin = "{station}"'), "uses {station}, which topic"),
        (("color", 'color = "red"'), "key 'color': is not a known key"),
    ],
)
def test_connector_errors_name_file_connector_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    key, line = change
    lines = EXAMPLE.splitlines()
    if any(x.startswith(f"{key} =") for x in lines):
        lines = [line if x.startswith(f"{key} =") else x for x in lines]
    else:
        lines.insert(lines.index('type = "mqtt"') + 1, line)
    path = tmp_path / "c.toml"
    path.write_text("\n".join(lines))
    with pytest.raises(ConnectorConfigError) as info:
        load_connectors(path)
    assert str(path) in info.value.message and message in info.value.message


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConnectorConfigError, match="cannot read it"):
        load_connectors(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[[connector]\n")
    with pytest.raises(ConnectorConfigError, match="is not valid TOML"):
        load_connectors(tmp_path / "bad.toml")
    with pytest.raises(ConnectorConfigError, match="key 'name': is required"):
        parse_connectors({"connector": [{"type": "mqtt"}]})


def test_api_lists_connectors_and_pages_dead_letters(service: TwinService) -> None:
    service.store.put_dead_letters([
        DeadLetter(1.0 + i, "plant", f"t/{i}", "{", "decode", f"bad {i}") for i in range(3)])
    config = parse_connectors({"connector": [{"name": "plant", "type": "mqtt",
                                              "port": 1, "subscription": [
                                                  {"topic": "a/{id}", "twin": "{id}"}]}]})
    ingestion = Ingestion.from_config(service, config)  # port 1: never connects, that is fine
    from holotwin.api.app import create_app

    with make_client(service) as plain:
        assert plain.get("/ingest/connectors").json() == {"value": []}
    with make_client(service) as client:
        client.app.state.ingestion = ingestion  # type: ignore[attr-defined]
        [status] = client.get("/ingest/connectors").json()["value"]
        assert status["name"] == "plant" and status["type"] == "mqtt"
        assert status["received"] == 0 and "lastError" in status
        page = client.get("/ingest/deadletters?limit=2").json()
        assert [d["reason"] for d in page["value"]] == ["bad 0", "bad 1"]
        assert page["count"] == 3 and page["nextAfter"] == page["value"][-1]["id"]
        rest = client.get(f"/ingest/deadletters?after={page['nextAfter']}").json()
        assert [d["topic"] for d in rest["value"]] == ["t/2"] and rest["nextAfter"] is None
        assert client.get("/ingest/deadletters?limit=0").status_code == 400
    # the app starts and stops the connectors with its lifespan
    from fastapi.testclient import TestClient

    with TestClient(create_app(service, ingestion=ingestion)):
        assert ingestion.running
    assert not ingestion.running


def test_cli_lists_dead_letters(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = SqliteStore(data / "holotwin.db")
    store.put_dead_letters([DeadLetter(1.7e9, "plant", "a/b", "{x", "decode", "Malformed")])
    store.close()
    runner = CliRunner()
    out = runner.invoke(cli, ["--data-dir", str(data), "deadletters", "list"])
    assert out.exit_code == 0, out.output
    assert "a/b" in out.output and "Malformed" in out.output
    out = runner.invoke(cli, ["--data-dir", str(data), "deadletters", "list", "--json"])
    doc = json.loads(out.output)
    assert doc["count"] == 1 and doc["value"][0]["payload"] == "{x"
    bad = runner.invoke(cli, ["--data-dir", str(data), "serve", "--connectors",
                              str(tmp_path / "none.toml")])
    assert bad.exit_code == 1 and "cannot read it" in bad.output
