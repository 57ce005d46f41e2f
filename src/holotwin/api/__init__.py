"""The REST API (FastAPI): Azure Digital Twins data plane plus holotwin's own endpoints."""

from holotwin.api.app import create_app
from holotwin.api.deps import ApiSettings

__all__ = ["ApiSettings", "create_app"]
