"""Running the configured connectors: one pipeline, its sources, start and stop together."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from holotwin.ingest.config import ConnectorsConfig
from holotwin.ingest.mqtt import MqttSource
from holotwin.ingest.opcua import OpcUaSource
from holotwin.ingest.pipeline import IngestPipeline
from holotwin.ingest.replay import ReplaySource
from holotwin.ingest.source import Source
from holotwin.service import TwinService

__all__ = ["Ingestion"]

log = logging.getLogger("holotwin.ingest")


class Ingestion:
    """The pipeline and the sources of one deployment."""

    def __init__(self, pipeline: IngestPipeline, sources: Sequence[Source]) -> None:
        self.pipeline = pipeline
        self.sources = list(sources)
        self.running = False

    @classmethod
    def from_config(cls, service: TwinService, config: ConnectorsConfig) -> Ingestion:
        pipeline = IngestPipeline(service, config.pipeline)
        sources: list[Source] = [MqttSource(c) for c in config.mqtt]
        sources += [OpcUaSource(c) for c in config.opcua]
        sources += [ReplaySource(c) for c in config.replay]
        return cls(pipeline, sources)

    def start(self) -> None:
        """Start the pipeline, then every source (a source that fails stops the others)."""
        if self.running:
            return
        self.pipeline.start()
        started: list[Source] = []
        try:
            for source in self.sources:
                source.start(self.pipeline)
                started.append(source)
        except BaseException:
            for source in reversed(started):
                source.stop()
            self.pipeline.stop()
            raise
        self.running = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the sources first (no new messages), then write what is pending."""
        if not self.running:
            return
        for source in self.sources:
            try:
                source.stop(timeout)
            except Exception as exc:  # noqa: BLE001 - stop the others regardless
                log.warning("Could not stop source '%s' cleanly: %s", source.name, exc)
        self.pipeline.stop(timeout)
        self.running = False

    def status(self) -> list[dict[str, Any]]:
        return [s.status() for s in self.sources]

    def __enter__(self) -> Ingestion:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
