"""Change events: every change to a twin, relationship or telemetry is one event.

Events are numbered by the store with a global, gap-free, increasing ``seq``; that number is the
change feed's event id, so a reader that resumes after ``seq`` misses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EVENT_KINDS", "ChangeEvent", "NewEvent"]

EVENT_KINDS = (
    "twin.created",
    "twin.updated",
    "twin.deleted",
    "relationship.created",
    "relationship.updated",
    "relationship.deleted",
    "telemetry",
    "alert.raised",
    "alert.acknowledged",
    "alert.cleared",
)


@dataclass(frozen=True)
class NewEvent:
    """An event about to be stored (it gets its ``seq`` from the store).

    ``time`` is epoch seconds. For twin events ``data`` is the twin document after the change
    (``None`` after a delete) plus ``changed`` paths; for relationships the relationship document;
    for telemetry the readings.
    """

    kind: str
    time: float
    twin_id: str
    model_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None
    relationship_id: str | None = None


@dataclass(frozen=True)
class ChangeEvent(NewEvent):
    """A stored event."""

    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON shape sent on the change feed."""
        out: dict[str, Any] = {
            "id": self.seq,
            "type": self.kind,
            "time": self.time,
            "twinId": self.twin_id,
            "modelId": self.model_id,
            "data": self.data,
        }
        if self.revision is not None:
            out["revision"] = self.revision
        if self.relationship_id is not None:
            out["relationshipId"] = self.relationship_id
        return out
