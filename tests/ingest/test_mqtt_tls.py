"""The MQTT source over TLS with a user name and password, and with a client certificate,
against a private Mosquitto the test configures (CA and certificates from trustme, password
file from mosquitto_passwd). Skipped without the mosquitto binaries unless
``HOLOTWIN_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import gc
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from holotwin.clock import SystemClock
from holotwin.ingest import IngestPipeline, MqttConfig, MqttSource, PipelineSettings, TopicMapping
from holotwin.ingest.mqtt import TlsConfig
from holotwin.ingest.source import SourceError
from holotwin.service import TwinService
from tests.ingest.brokers import PrivateBroker, require, wait_for

pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")
trustme = pytest.importorskip("trustme", reason="trustme is not installed")

T0 = 1_700_000_000.0
USER, PASSWORD = "holotwin", "s3cret-pass"


class Pki:
    """A CA, the broker's certificate for 127.0.0.1 and a client certificate, as PEM files."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        self.ca = directory / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca))
        server = ca.issue_cert("127.0.0.1", "localhost")
        self.server_cert, self.server_key = directory / "server.pem", directory / "server.key"
        server.cert_chain_pems[0].write_to_path(str(self.server_cert))
        server.private_key_pem.write_to_path(str(self.server_key))
        client = ca.issue_cert("holotwin-ingest@example.com")
        self.client_cert, self.client_key = directory / "client.pem", directory / "client.key"
        client.cert_chain_pems[0].write_to_path(str(self.client_cert))
        client.private_key_pem.write_to_path(str(self.client_key))
        other = trustme.CA()  # a CA the broker does not trust
        self.other_ca = directory / "other-ca.pem"
        other.cert_pem.write_to_path(str(self.other_ca))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


def _broker(tmp_path: Path, pki: Pki, *, client_certificate: bool) -> PrivateBroker:
    passwd = shutil.which("mosquitto_passwd")
    require(passwd is not None, "no mosquitto_passwd on PATH")
    assert passwd is not None
    password_file = tmp_path / "passwd"
    subprocess.run([passwd, "-c", "-b", str(password_file), USER, PASSWORD], check=True,
                   capture_output=True)
    listener = (f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
                f"password_file {password_file}\n")
    if client_certificate:
        listener += "require_certificate true\n"
    broker = PrivateBroker(tmp_path / "broker", listener=listener, anonymous=False)
    broker.start()
    return broker


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[PrivateBroker]:
    broker = _broker(tmp_path, pki, client_certificate=False)
    yield broker
    broker.stop()


@pytest.fixture
def mtls_broker(tmp_path: Path, pki: Pki) -> Iterator[PrivateBroker]:
    broker = _broker(tmp_path, pki, client_certificate=True)
    yield broker
    broker.stop()


def _source(port: int, tls: TlsConfig | None, password: str | None = PASSWORD) -> MqttSource:
    return MqttSource(MqttConfig(
        name="secure", client_id=f"holotwin-{uuid.uuid4().hex[:8]}", host="127.0.0.1",
        port=port, username=USER if password is not None else None, password=password,
        tls=tls, session_expiry=60,
        subscriptions=(TopicMapping.create("secure/{machine}/telemetry", "{machine}",
                                           time="/ts"),)))


def _publish(port: int, pki: Pki, payload: dict[str, float], *, client_cert: bool) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(USER, PASSWORD)
    client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert) if client_cert else None,
                   keyfile=str(pki.client_key) if client_cert else None)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        info = client.publish("secure/m1/telemetry", json.dumps(payload), qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def pipeline(plant: TwinService) -> Iterator[IngestPipeline]:
    p = IngestPipeline(plant, PipelineSettings(max_batch=10, max_delay=0.01), clock=SystemClock())
    p.start()
    yield p
    p.stop()


def _temps(service: TwinService) -> list[tuple[float, float | None]]:
    return [(p.time, p.value) for p in service.telemetry_history("m1", "temperature", 0, 2e9)]


def test_tls_with_user_and_password(tls_broker: PrivateBroker, pki: Pki, plant: TwinService,
                                    pipeline: IngestPipeline) -> None:
    source = _source(tls_broker.port, TlsConfig(ca_file=str(pki.ca)))
    source.start(pipeline)
    try:
        assert source.wait_connected(10), source.status()
        _publish(tls_broker.port, pki, {"ts": T0, "temperature": 21.5}, client_cert=False)
        wait_for(lambda: _temps(plant) == [(T0, 21.5)], "the reading over TLS", 10)
    finally:
        source.stop()


def test_a_wrong_password_is_refused_and_reported(
    tls_broker: PrivateBroker, pki: Pki, pipeline: IngestPipeline,
) -> None:
    source = _source(tls_broker.port, TlsConfig(ca_file=str(pki.ca)), password="wrong")
    source.start(pipeline)
    try:
        wait_for(lambda: "refused" in (source.status()["lastError"] or ""),
                 "the refusal to be reported", 10)
        assert not source.connected
    finally:
        source.stop()


# paho leaves the socket of a failed TLS handshake for the garbage collector to close
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_broker_certificate_from_an_unknown_ca_is_not_trusted(
    tls_broker: PrivateBroker, pki: Pki, pipeline: IngestPipeline,
) -> None:
    source = _source(tls_broker.port, TlsConfig(ca_file=str(pki.other_ca)))
    source.start(pipeline)
    try:
        wait_for(lambda: source.status()["lastError"] is not None, "the TLS failure", 10)
        assert not source.connected
        assert "CERTIFICATE_VERIFY_FAILED" in (source.status()["lastError"] or "")
    finally:
        source.stop()
        gc.collect()  # close the leaked socket here, under this test's warning filter


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
def test_mutual_tls_with_a_client_certificate(
    mtls_broker: PrivateBroker, pki: Pki, plant: TwinService, pipeline: IngestPipeline,
) -> None:
    without = _source(mtls_broker.port, TlsConfig(ca_file=str(pki.ca)))
    without.start(pipeline)
    try:
        wait_for(lambda: without.status()["lastError"] is not None, "the refusal", 10)
        assert not without.connected
    finally:
        without.stop()
        gc.collect()
    source = _source(mtls_broker.port, TlsConfig(ca_file=str(pki.ca),
                                                 cert_file=str(pki.client_cert),
                                                 key_file=str(pki.client_key)))
    source.start(pipeline)
    try:
        assert source.wait_connected(10), source.status()
        _publish(mtls_broker.port, pki, {"ts": T0 + 1, "temperature": 22.5}, client_cert=True)
        wait_for(lambda: _temps(plant) == [(T0 + 1, 22.5)], "the reading over mutual TLS", 10)
    finally:
        source.stop()


def test_unreadable_tls_files_are_a_clear_error(tmp_path: Path, pipeline: IngestPipeline) -> None:
    source = _source(1883, TlsConfig(ca_file=str(tmp_path / "missing-ca.pem")))
    with pytest.raises(SourceError, match="cannot use its TLS files"):
        source.start(pipeline)
