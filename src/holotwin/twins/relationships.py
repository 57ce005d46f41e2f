"""Relationships: the edges of the twin graph, in the Azure Digital Twins JSON shape.

A relationship document::

    {"$relationshipId": "line1-has-m1", "$sourceId": "line1", "$targetId": "m1",
     "$relationshipName": "contains", "$etag": "W/\\"...\\"", "since": "2024-01-01"}

The source twin's model must declare the relationship name; the target twin must be of the
declared target model (or a model extending it); properties are validated against the
relationship's declared properties.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from holotwin.errors import InvalidInputError, PatchError
from holotwin.models import ModelRegistry, Relationship
from holotwin.twins.patch import apply_json_patch, parse_pointer

__all__ = ["build_relationship", "patch_relationship", "relationship_of"]

REL_SYSTEM_KEYS = frozenset(
    {"$relationshipId", "$sourceId", "$targetId", "$relationshipName", "$etag"}
)


def relationship_of(source: Mapping[str, Any], name: str, registry: ModelRegistry) -> Relationship:
    """The declared relationship ``name`` of the source twin's model."""
    model_id = source["$metadata"]["$model"]
    rel = registry.require(model_id).relationships.get(name)
    if rel is None:
        raise InvalidInputError(
            f"Model {model_id} of twin '{source['$dtId']}' declares no relationship '{name}'"
        )
    return rel


def _validate_properties(doc: Mapping[str, Any], rel: Relationship) -> None:
    for key, value in doc.items():
        if key in REL_SYSTEM_KEYS:
            continue
        if key.startswith("$"):
            raise InvalidInputError(f"'{key}' is not a relationship system property holotwin knows")
        prop = rel.properties.get(key)
        if prop is None:
            raise InvalidInputError(f"Relationship '{rel.name}' has no property '{key}'")
        prop.schema.validate(value, f"/{key}")


def build_relationship(
    source: Mapping[str, Any],
    relationship_id: str,
    body: object,
    target: Mapping[str, Any] | None,
    registry: ModelRegistry,
) -> dict[str, Any]:
    """Validate a PUT body and return the relationship document (without ``$etag``)."""
    if not isinstance(body, dict):
        raise InvalidInputError("A relationship must be a JSON object")
    name = body.get("$relationshipName")
    target_id = body.get("$targetId")
    if not isinstance(name, str) or not name:
        raise InvalidInputError("A relationship needs '$relationshipName'")
    if not isinstance(target_id, str) or not target_id:
        raise InvalidInputError("A relationship needs '$targetId'")
    for key, expected in (("$sourceId", source["$dtId"]), ("$relationshipId", relationship_id)):
        if key in body and body[key] != expected:
            raise InvalidInputError(f"'{key}' in the body ({body[key]!r}) differs from '{expected}'")
    if target is None:
        raise InvalidInputError(f"Target twin '{target_id}' does not exist")
    rel = relationship_of(source, name, registry)
    target_model = target["$metadata"]["$model"]
    if rel.target and not registry.is_a(target_model, rel.target):
        raise InvalidInputError(
            f"Relationship '{name}' must target twins of model {rel.target}; "
            f"twin '{target_id}' is of model {target_model}"
        )
    doc = {k: copy.deepcopy(v) for k, v in body.items() if k != "$etag"}
    doc.update(
        {
            "$relationshipId": relationship_id,
            "$sourceId": source["$dtId"],
            "$targetId": target_id,
            "$relationshipName": name,
        }
    )
    _validate_properties(doc, rel)
    return doc


def patch_relationship(
    doc: Mapping[str, Any], ops: object, source: Mapping[str, Any], registry: ModelRegistry
) -> dict[str, Any]:
    """Apply a JSON Patch to a relationship's properties (its system properties are read-only)."""
    if not isinstance(ops, list):
        raise PatchError("A JSON Patch document must be a JSON array of operations")
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(f"Patch operation must be an object, got {op!r}")
        for key in ("path", "from"):
            if key in op:
                tokens = parse_pointer(op[key])
                if not tokens or tokens[0].startswith("$"):
                    raise PatchError(f"'{op[key]}' is read-only in a relationship", op[key])
    after: dict[str, Any] = apply_json_patch({k: v for k, v in doc.items() if k != "$etag"}, ops)
    _validate_properties(after, relationship_of(source, doc["$relationshipName"], registry))
    return after
