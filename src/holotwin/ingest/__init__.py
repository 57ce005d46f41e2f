"""Live ingestion: sources (MQTT, OPC UA, HTTP batch, file replay) feed one pipeline
that decodes, maps, validates and writes telemetry in batches, acknowledging only what is
committed; what cannot be used goes to dead letters. See ``docs/ingestion.md``.

paho-mqtt, asyncua and pyarrow are imported only when a source that needs them starts.
"""

from holotwin.ingest.config import (
    ConnectorConfigError,
    ConnectorsConfig,
    load_connectors,
    parse_connectors,
)
from holotwin.ingest.http import HttpBatchSource
from holotwin.ingest.mapping import (
    UNIT_CONVERSIONS,
    JsonPointer,
    MappingError,
    Reading,
    TopicMapping,
    TopicPattern,
    map_payload,
)
from holotwin.ingest.mqtt import MqttConfig, MqttSource, TlsConfig
from holotwin.ingest.opcua import OpcUaConfig, OpcUaNode, OpcUaSource
from holotwin.ingest.pipeline import BatchReport, IngestPipeline, PipelineSettings
from holotwin.ingest.replay import ReplayConfig, ReplayProgress, ReplaySource, replay_file
from holotwin.ingest.runtime import Ingestion
from holotwin.ingest.source import InProcessSource, RawMessage, Source, SourceError, SourceStats

__all__ = [
    "UNIT_CONVERSIONS",
    "BatchReport",
    "ConnectorConfigError",
    "ConnectorsConfig",
    "HttpBatchSource",
    "InProcessSource",
    "IngestPipeline",
    "Ingestion",
    "JsonPointer",
    "MappingError",
    "MqttConfig",
    "MqttSource",
    "OpcUaConfig",
    "OpcUaNode",
    "OpcUaSource",
    "PipelineSettings",
    "RawMessage",
    "Reading",
    "ReplayConfig",
    "ReplayProgress",
    "ReplaySource",
    "Source",
    "SourceError",
    "SourceStats",
    "TlsConfig",
    "TopicMapping",
    "TopicPattern",
    "load_connectors",
    "map_payload",
    "parse_connectors",
    "replay_file",
]
