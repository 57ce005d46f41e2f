"""The application service that wires the core to the adapters (no HTTP in it)."""

from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.ingestion import TelemetryMessage
from holotwin.service.keys import SCOPES, ApiKeys
from holotwin.service.service import TwinService, WriteResult
from holotwin.service.tracker import BehaviorTracker

__all__ = ["SCOPES", "AnalyticsEngine", "ApiKeys", "BehaviorTracker", "TelemetryMessage",
           "TwinService", "WriteResult"]
