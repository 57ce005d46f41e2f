"""Live ingestion: sources (MQTT; OPC UA, HTTP batch and file replay to come) feed one pipeline
that decodes, maps, validates and writes telemetry in batches, acknowledging only what is
committed; what cannot be used goes to dead letters. See ``docs/ingestion.md``.

paho-mqtt is imported only when an MQTT source starts.
"""

from holotwin.ingest.config import (
    ConnectorConfigError,
    ConnectorsConfig,
    load_connectors,
    parse_connectors,
)
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
from holotwin.ingest.pipeline import IngestPipeline, PipelineSettings
from holotwin.ingest.runtime import Ingestion
from holotwin.ingest.source import InProcessSource, RawMessage, Source, SourceError, SourceStats

__all__ = [
    "UNIT_CONVERSIONS",
    "ConnectorConfigError",
    "ConnectorsConfig",
    "InProcessSource",
    "IngestPipeline",
    "Ingestion",
    "JsonPointer",
    "MappingError",
    "MqttConfig",
    "MqttSource",
    "PipelineSettings",
    "RawMessage",
    "Reading",
    "Source",
    "SourceError",
    "SourceStats",
    "TlsConfig",
    "TopicMapping",
    "TopicPattern",
    "load_connectors",
    "map_payload",
    "parse_connectors",
]
