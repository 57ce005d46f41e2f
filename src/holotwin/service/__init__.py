"""The application service that wires the core to the adapters (no HTTP in it)."""

from holotwin.service.ingestion import TelemetryMessage
from holotwin.service.keys import SCOPES, ApiKeys
from holotwin.service.service import TwinService, WriteResult

__all__ = ["SCOPES", "ApiKeys", "TelemetryMessage", "TwinService", "WriteResult"]
