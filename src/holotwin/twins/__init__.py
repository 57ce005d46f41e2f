"""Twins and relationships: documents, patches and change events (pure core)."""

from holotwin.twins.document import (
    TwinChange,
    ack_desired,
    create_twin_document,
    merge_patch_twin_document,
    patch_twin_document,
    report_properties,
    set_desired,
)
from holotwin.twins.events import EVENT_KINDS, ChangeEvent, NewEvent
from holotwin.twins.patch import apply_json_patch, apply_merge_patch
from holotwin.twins.relationships import build_relationship, patch_relationship, relationship_of

__all__ = [
    "EVENT_KINDS",
    "ChangeEvent",
    "NewEvent",
    "TwinChange",
    "ack_desired",
    "apply_json_patch",
    "apply_merge_patch",
    "build_relationship",
    "create_twin_document",
    "merge_patch_twin_document",
    "patch_relationship",
    "patch_twin_document",
    "relationship_of",
    "report_properties",
    "set_desired",
]
