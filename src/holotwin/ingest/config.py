"""Connector configuration: a TOML file per deployment (``holotwin serve --connectors FILE``).

::

    [pipeline]                 # optional
    max_batch = 500            # messages per transaction
    max_delay_ms = 50          # longest wait for a batch to fill
    max_payload_bytes = 1048576
    max_pending = 20000        # queued messages before sources are held (backpressure)

    [[connector]]
    name = "plant-broker"
    type = "mqtt"
    host = "broker.plant.local"
    port = 8883
    client_id = "holotwin-ingest-1"   # the persistent session is kept under this id
    username = "holotwin"
    password_env = "PLANT_MQTT_PASSWORD"  # or password = "..."
    tls = { ca_file = "/etc/holotwin/ca.pem" }  # cert_file, key_file for mutual TLS

    [[connector.subscription]]
    topic = "plant/{line}/{machine}/telemetry"
    twin = "{machine}"
    qos = 1
    time = "/ts"                       # JSON pointer; default: receive time
    records = "/readings"              # optional: the array of records in the payload
    signals = { temperature = "/sensors/temp", power = "/p" }   # default: every member
    units = { temperature = "degreeFahrenheit", power = "kilowatt" }

    [[connector.desired]]              # optional: desired state to devices, their reports back
    twin = "{machine}"
    report_topic = "plant/{line}/{machine}/reported"
    command_topic = "plant/{line}/{machine}/desired"
    qos = 1

Every error names the file, the connector and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from holotwin.errors import InvalidInputError
from holotwin.ingest.commands import DesiredMapping
from holotwin.ingest.mapping import MappingError, TopicMapping
from holotwin.ingest.mqtt import MqttConfig, TlsConfig
from holotwin.ingest.opcua import OpcUaConfig, OpcUaNode
from holotwin.ingest.pipeline import PipelineSettings
from holotwin.ingest.replay import ReplayConfig

__all__ = ["ConnectorConfigError", "ConnectorsConfig", "load_connectors", "parse_connectors"]

_CONNECTOR_TYPES = ("mqtt", "opcua", "replay")
_KIND_NAMES = {str: "a string", int: "an integer", dict: "a table", list: "an array of tables"}


class ConnectorConfigError(InvalidInputError):
    """A connector file is invalid; ``where`` is ``file: connector 'x': key 'y'``."""

    code = "ConnectorConfigError"

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where


@dataclass(frozen=True)
class ConnectorsConfig:
    pipeline: PipelineSettings
    mqtt: tuple[MqttConfig, ...]
    opcua: tuple[OpcUaConfig, ...] = ()
    replay: tuple[ReplayConfig, ...] = ()


class _Table:
    """Reads keys of one TOML table, remembering which it used, with located errors."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where
        self.used: set[str] = set()

    def fail(self, key: str | None, problem: str) -> ConnectorConfigError:
        return ConnectorConfigError(f"{self.where}: key '{key}'" if key else self.where, problem)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        bad_bool = isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple)
                                                          else (kind,))
        if not isinstance(value, kind) or bad_bool:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            names = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
            raise self.fail(key, f"must be {names}, got {value!r}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value: int = self.get(key, int, default)
        if not low <= value <= high:
            raise self.fail(key, f"must be from {low} to {high}, got {value}")
        return value

    def strings(self, key: str) -> dict[str, str] | None:
        table = self.get(key, dict)
        if table is None:
            return None
        for name, value in table.items():
            if not isinstance(value, str):
                raise self.fail(f"{key}.{name}", f"must be a string, got {value!r}")
        return dict(table)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"is not a known key (known: {', '.join(sorted(self.used))})")


def load_connectors(path: str | os.PathLike[str]) -> ConnectorsConfig:
    """Read and check a connector file."""
    name = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectorConfigError(name, f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConnectorConfigError(name, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConnectorConfigError(name, f"is not valid TOML: {exc}") from None
    return parse_connectors(data, name)


def parse_connectors(data: Mapping[str, Any], origin: str = "<connectors>") -> ConnectorsConfig:
    """Check a parsed connector document (see the module docs for the format)."""
    root = _Table(data, origin)
    pipeline = _pipeline(root.get("pipeline", dict, {}), f"{origin}: [pipeline]")
    connectors = root.get("connector", list, [])
    root.finish()
    mqtt: list[MqttConfig] = []
    opcua: list[OpcUaConfig] = []
    replay: list[ReplayConfig] = []
    names: set[str] = set()
    for i, raw in enumerate(connectors):
        where = f"{origin}: connector #{i + 1}"
        if not isinstance(raw, dict):
            raise ConnectorConfigError(where, "must be a table ([[connector]])")
        name = _Table(raw, where).get("name", str, required=True)
        where = f"{origin}: connector '{name}'"
        if name in names:
            raise ConnectorConfigError(where, "another connector has the same name")
        names.add(name)
        table = _Table(raw, where)
        table.get("name", str)
        kind = table.get("type", str, required=True)
        if kind not in _CONNECTOR_TYPES:
            raise table.fail("type", f"must be one of {', '.join(_CONNECTOR_TYPES)}, got {kind!r}")
        if kind == "opcua":
            opcua.append(_opcua(table, name))
        elif kind == "replay":
            replay.append(_replay(table, name))
        else:
            mqtt.append(_mqtt(table, name))
    return ConnectorsConfig(pipeline, tuple(mqtt), tuple(opcua), tuple(replay))


def _pipeline(data: Mapping[str, Any], where: str) -> PipelineSettings:
    t = _Table(data, where)
    try:
        settings = PipelineSettings(
            max_batch=t.integer("max_batch", 500, 1, 100_000),
            max_delay=t.integer("max_delay_ms", 50, 0, 60_000) / 1000.0,
            max_payload=t.integer("max_payload_bytes", 1024 * 1024, 1, 256 * 1024 * 1024),
            max_pending=t.integer("max_pending", 20_000, 1, 10_000_000),
        )
    except InvalidInputError as exc:
        raise ConnectorConfigError(where, exc.message) from None
    t.finish()
    return settings


def _mqtt(t: _Table, name: str) -> MqttConfig:
    password = _password(t)
    tls = None
    tls_table = t.get("tls", dict)
    if tls_table is not None:
        tt = _Table(tls_table, f"{t.where}: key 'tls'")
        files = {k: tt.get(k, str) for k in ("ca_file", "cert_file", "key_file")}
        tt.finish()
        for key, file in files.items():
            if file is not None and not Path(file).is_file():
                raise tt.fail(key, f"file {file} does not exist")
        if (files["cert_file"] is None) != (files["key_file"] is None):
            raise tt.fail("cert_file", "give cert_file and key_file together")
        tls = TlsConfig(**files)
    desired = tuple(_desired(d, f"{t.where}: desired #{i + 1}")
                    for i, d in enumerate(t.get("desired", list, [])))
    subs = t.get("subscription", list, [] if desired else None, required=not desired)
    if not subs and not desired:
        raise t.fail("subscription", "needs at least one [[connector.subscription]]")
    mappings = tuple(_subscription(s, f"{t.where}: subscription #{i + 1}")
                     for i, s in enumerate(subs))
    low = t.integer("reconnect_min_delay", 1, 1, 3600)
    high = t.integer("reconnect_max_delay", 60, 1, 3600)
    if high < low:
        raise t.fail("reconnect_max_delay", f"must be at least reconnect_min_delay ({low})")
    try:
        config = MqttConfig(
            name=name,
            client_id=t.get("client_id", str, f"holotwin-{name}"),
            subscriptions=mappings,
            host=t.get("host", str, "127.0.0.1"),
            port=t.integer("port", 1883, 1, 65535),
            username=t.get("username", str),
            password=password,
            tls=tls,
            keepalive=t.integer("keepalive", 30, 5, 65535),
            session_expiry=t.integer("session_expiry", 3600, 0, 0xFFFFFFFF),
            reconnect_min_delay=low,
            reconnect_max_delay=high,
            desired=desired,
            shared_group=t.get("shared_group", str),
        )
    except InvalidInputError as exc:
        raise ConnectorConfigError(t.where, exc.message) from None
    t.finish()
    return config


def _subscription(raw: object, where: str) -> TopicMapping:
    if not isinstance(raw, dict):
        raise ConnectorConfigError(where, "must be a table ([[connector.subscription]])")
    t = _Table(raw, where)
    topic = t.get("topic", str, required=True)
    t.where = f"{where} ({topic})"
    try:
        mapping = TopicMapping.create(
            topic,
            t.get("twin", str, required=True),
            qos=t.integer("qos", 1, 0, 1),
            records=t.get("records", str),
            target=t.get("target", str, "telemetry"),
            signals=t.strings("signals"),
            time=t.get("time", str),
            time_format=t.get("time_format", str, "auto"),
            units=t.strings("units"),
        )
    except MappingError as exc:
        raise ConnectorConfigError(t.where, exc.message) from None
    t.finish()
    return mapping


def _desired(raw: object, where: str) -> DesiredMapping:
    """``[[connector.desired]]``: twin, report_topic, command_topic, qos (see
    :mod:`holotwin.ingest.commands`)."""
    if not isinstance(raw, dict):
        raise ConnectorConfigError(where, "must be a table ([[connector.desired]])")
    t = _Table(raw, where)
    report = t.get("report_topic", str, required=True)
    t.where = f"{where} ({report})"
    try:
        mapping = DesiredMapping.create(
            t.get("twin", str, required=True), report,
            t.get("command_topic", str, required=True), t.integer("qos", 1, 0, 1))
    except MappingError as exc:
        raise ConnectorConfigError(t.where, exc.message) from None
    t.finish()
    return mapping


def _seconds(t: _Table, key: str, default: float, low: float, high: float) -> float:
    value = float(t.get(key, (int, float), default))
    if not low <= value <= high:
        raise t.fail(key, f"must be from {low:g} to {high:g}, got {value:g}")
    return value


def _password(t: _Table) -> str | None:
    password: str | None = t.get("password", str)
    password_env = t.get("password_env", str)
    if password is not None and password_env is not None:
        raise t.fail("password_env", "give either password or password_env, not both")
    if password_env is not None:
        password = os.environ.get(password_env)
        if password is None:
            raise t.fail("password_env", f"environment variable {password_env} is not set")
    return password


def _opcua(t: _Table, name: str) -> OpcUaConfig:
    """``type = "opcua"``: endpoint, [[connector.node]] tables (see docs/ingestion.md)."""
    raw_nodes = t.get("node", list, required=True)
    if not raw_nodes:
        raise t.fail("node", "needs at least one [[connector.node]]")
    nodes = []
    for i, raw in enumerate(raw_nodes):
        where = f"{t.where}: node #{i + 1}"
        if not isinstance(raw, dict):
            raise ConnectorConfigError(where, "must be a table ([[connector.node]])")
        nt = _Table(raw, where)
        try:
            node = OpcUaNode(nt.get("twin", str, required=True), nt.get("signal", str),
                             node_id=nt.get("node_id", str), browse_path=nt.get("browse_path", str),
                             unit=nt.get("unit", str), property_name=nt.get("property", str))
            node.mapping()
        except InvalidInputError as exc:
            raise ConnectorConfigError(where, exc.message) from None
        nt.finish()
        nodes.append(node)
    low = _seconds(t, "reconnect_min_delay", 1, 0.01, 3600)
    high = _seconds(t, "reconnect_max_delay", 60, 0.01, 3600)
    try:
        config = OpcUaConfig(
            name=name,
            endpoint=t.get("endpoint", str, required=True),
            nodes=tuple(nodes),
            username=t.get("username", str),
            password=_password(t),
            security=t.get("security", str),
            publishing_interval=t.integer("publishing_interval_ms", 500, 1, 3_600_000) / 1000,
            sampling_interval=t.integer("sampling_interval_ms", 50, 0, 3_600_000) / 1000,
            queue_size=t.integer("queue_size", 100, 1, 100_000),
            timeout=_seconds(t, "timeout", 4, 0.1, 600),
            reconnect_min_delay=low,
            reconnect_max_delay=high,
        )
    except InvalidInputError as exc:
        raise ConnectorConfigError(t.where, exc.message) from None
    t.finish()
    return config


def _replay(t: _Table, name: str) -> ReplayConfig:
    """``type = "replay"``: a CSV or Parquet file replayed once at start."""
    signals = t.get("signals", list)
    if signals is not None and not all(isinstance(s, str) for s in signals):
        raise t.fail("signals", "must be an array of column names")
    speed = t.get("speed", (int, float, str), 0)
    if speed == "max":
        speed = 0
    if isinstance(speed, str):
        raise t.fail("speed", f"must be a number or \"max\", got {speed!r}")
    path = t.get("path", str, required=True)
    if not Path(path).is_file():
        raise t.fail("path", f"file {path} does not exist")
    try:
        config = ReplayConfig(
            name=name,
            path=path,
            layout=t.get("layout", str, "wide"),
            format=t.get("format", str),
            time_column=t.get("time_column", str, "time"),
            time_format=t.get("time_format", str, "auto"),
            twin=t.get("twin", str),
            twin_column=t.get("twin_column", str),
            signals=tuple(signals) if signals is not None else None,
            signal_column=t.get("signal_column", str, "signal"),
            value_column=t.get("value_column", str, "value"),
            units=t.strings("units") or {},
            speed=float(speed),
        )
    except InvalidInputError as exc:
        raise ConnectorConfigError(t.where, exc.message) from None
    t.finish()
    return config
