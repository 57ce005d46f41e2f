"""Twin documents: the Azure Digital Twins JSON shape and the rules that keep it valid.

A twin document is plain JSON::

    {"$dtId": "pump-1", "$etag": "W/\\"...\\"",
     "$metadata": {"$model": "dtmi:example:Pump;1", "$lastUpdateTime": "...",
                   "speed": {"lastUpdateTime": "...", "sourceTime": "...",
                             "desiredValue": 1500, "desiredVersion": 2,
                             "ackVersion": 1, "ackCode": 200, "ackDescription": "..."}},
     "speed": 1450,
     "motor": {"$metadata": {"rpm": {"lastUpdateTime": "..."}}, "rpm": 1450}}

Top-level values are the *reported* state (the asset as last seen). Desired state of writable
properties lives in ``$metadata.<name>.desiredValue`` with a ``desiredVersion``; when the
reported value catches up, the ack fields record it. This is the IoT Plug and Play convention that
Azure Digital Twins uses for ``$metadata``, so both states are visible in one document.

All functions here are pure: they take the current document, return a new one, and raise
:class:`~holotwin.errors.InvalidInputError` subclasses for bad input.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from holotwin.clock import from_iso, to_iso
from holotwin.errors import InvalidInputError, PatchError, PropertyValueError
from holotwin.models import Interface, ModelRegistry
from holotwin.twins.patch import apply_json_patch, apply_merge_patch, parse_pointer

__all__ = [
    "TwinChange",
    "ack_desired",
    "create_twin_document",
    "merge_patch_twin_document",
    "patch_twin_document",
    "report_properties",
    "set_desired",
]

SYSTEM_KEYS = frozenset({"$dtId", "$etag", "$metadata"})
_DESIRED_KEYS = (
    "desiredValue", "desiredVersion", "desiredUpdateTime", "ackVersion", "ackCode", "ackDescription"
)


@dataclass
class TwinChange:
    """A new twin document and the property paths that changed (``/speed``, ``/motor/rpm``)."""

    document: dict[str, Any]
    changed: list[str] = field(default_factory=list)


def _model_of(doc: Mapping[str, Any], registry: ModelRegistry, *, new: bool) -> Interface:
    meta = doc.get("$metadata")
    if not isinstance(meta, dict):
        raise InvalidInputError("A twin needs '$metadata' with '$model' (the DTMI of its model)")
    model_id = meta.get("$model")
    if not isinstance(model_id, str) or not model_id:
        raise InvalidInputError("A twin needs '$metadata.$model' set to the DTMI of its model")
    iface = registry.get(model_id)
    if iface is None:
        raise InvalidInputError(
            f"Model '{model_id}' is not defined; upload it to /models before creating twins of it"
        )
    if new and registry.is_decommissioned(model_id):
        raise InvalidInputError(f"Model '{model_id}' is decommissioned; new twins cannot use it")
    return iface


def _validate_contents(
    doc: dict[str, Any], iface: Interface, registry: ModelRegistry, prefix: str, *, fill: bool
) -> None:
    """Check every value of ``doc`` against ``iface``; add empty missing components if ``fill``."""
    for key, value in doc.items():
        path = f"{prefix}/{key}"
        if key.startswith("$"):
            if key not in SYSTEM_KEYS or (prefix and key != "$metadata"):
                raise InvalidInputError(f"'{path}' is not a system property holotwin knows")
            continue
        prop = iface.properties.get(key)
        if prop is not None:
            if value is None:
                raise PropertyValueError(path, prop.schema.describe(), value, "remove it instead")
            prop.schema.validate(value, path)
            continue
        comp = iface.components.get(key)
        if comp is not None:
            if not isinstance(value, dict):
                raise PropertyValueError(path, f"component of model {comp.schema}", value)
            value.setdefault("$metadata", {})
            if not isinstance(value["$metadata"], dict):
                raise InvalidInputError(f"'{path}/$metadata' must be an object")
            _validate_contents(value, registry.require(comp.schema), registry, path, fill=fill)
            continue
        what = (
            "a relationship" if key in iface.relationships
            else "telemetry" if key in iface.telemetry
            else "a command" if key in iface.commands
            else None
        )
        if what:
            raise InvalidInputError(
                f"'{path}' is {what} of model {iface.id}, not a property; it cannot be set on the twin"
            )
        raise InvalidInputError(f"Property '{path}' is not defined in model {iface.id}")
    if fill:
        for name in iface.components:
            doc.setdefault(name, {"$metadata": {}})


def _check_source_time(meta: Mapping[str, Any], path: str) -> None:
    for key, entry in meta.items():
        if key.startswith("$") or not isinstance(entry, dict):
            continue
        if "sourceTime" in entry and entry["sourceTime"] is not None:
            try:
                from_iso(entry["sourceTime"])
            except InvalidInputError:
                raise PropertyValueError(
                    f"{path}/$metadata/{key}/sourceTime", "an ISO 8601 dateTime", entry["sourceTime"]
                ) from None


def _stamp(
    before: Mapping[str, Any] | None,
    after: dict[str, Any],
    iface: Interface,
    registry: ModelRegistry,
    now: str,
    prefix: str,
    changed: list[str],
) -> None:
    """Update per-property metadata in ``after`` for what differs from ``before``."""
    before = before or {}
    old_meta: Mapping[str, Any] = before.get("$metadata") or {}
    meta: dict[str, Any] = after.setdefault("$metadata", {})
    _check_source_time(meta, prefix)
    for key in list(meta):
        if not key.startswith("$") and key not in after:
            entry = meta[key]
            kept = {k: entry[k] for k in _DESIRED_KEYS if isinstance(entry, dict) and k in entry}
            if kept:
                meta[key] = kept
            else:
                del meta[key]
            if key in before:
                changed.append(f"{prefix}/{key}")
    for key, value in after.items():
        if key.startswith("$"):
            continue
        if key in iface.components:
            _stamp(before.get(key) if isinstance(before.get(key), dict) else None, value,
                   registry.require(iface.components[key].schema), registry, now,
                   f"{prefix}/{key}", changed)
            continue
        entry = meta.get(key)
        entry = dict(entry) if isinstance(entry, dict) else {}
        found = old_meta.get(key)
        old_entry: dict[str, Any] = found if isinstance(found, dict) else {}
        if key not in before or before[key] != value:
            changed.append(f"{prefix}/{key}")
            entry["lastUpdateTime"] = now
            if entry.get("sourceTime") == old_entry.get("sourceTime"):
                entry.pop("sourceTime", None)  # a new value with the old source time would lie
            if "desiredVersion" in entry and entry.get("desiredValue") == value:
                entry["ackVersion"] = entry["desiredVersion"]
                entry["ackCode"] = 200
                entry["ackDescription"] = "Reported value matches the desired value"
        elif entry.get("sourceTime") != old_entry.get("sourceTime"):
            entry["lastUpdateTime"] = now
        entry.setdefault("lastUpdateTime", old_entry.get("lastUpdateTime", now))
        meta[key] = entry


def _finish(
    before: Mapping[str, Any] | None,
    after: dict[str, Any],
    registry: ModelRegistry,
    now: str,
    *,
    new: bool,
) -> TwinChange:
    iface = _model_of(after, registry, new=new)
    _validate_contents(after, iface, registry, "", fill=True)
    changed: list[str] = []
    _stamp(before, after, iface, registry, now, "", changed)
    if before is not None and before["$metadata"].get("$model") != iface.id:
        changed.append("/$metadata/$model")
    after["$metadata"]["$model"] = iface.id
    after["$metadata"]["$lastUpdateTime"] = now
    return TwinChange(after, changed)


def create_twin_document(
    twin_id: str, body: object, registry: ModelRegistry, now: str
) -> TwinChange:
    """Build a new twin document from a PUT body (validates it against its model)."""
    if not isinstance(body, dict):
        raise InvalidInputError("A twin must be a JSON object")
    if "$dtId" in body and body["$dtId"] != twin_id:
        raise InvalidInputError(f"'$dtId' in the body ({body['$dtId']!r}) differs from '{twin_id}'")
    doc = copy.deepcopy(body)
    doc.pop("$etag", None)
    doc["$dtId"] = twin_id
    meta = doc.get("$metadata")
    if isinstance(meta, dict):
        # Only $model and sourceTime are the caller's to set; the rest is ours.
        doc["$metadata"] = {
            k: ({"sourceTime": v["sourceTime"]} if isinstance(v, dict) and "sourceTime" in v else {})
            for k, v in meta.items()
            if not k.startswith("$")
        } | {"$model": meta.get("$model")}
        for key, entry in list(doc["$metadata"].items()):
            if entry == {}:
                del doc["$metadata"][key]
    return _finish(None, doc, registry, now, new=True)


def _patchable(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("$dtId", "$etag")}


def _check_metadata_patch(ops: list[dict[str, Any]]) -> None:
    """Only ``$model`` and a property's ``sourceTime`` may be patched inside ``$metadata``."""
    for op in ops:
        for key in ("path", "from"):
            if key not in op:
                continue
            tokens = parse_pointer(op[key])
            if not tokens:
                raise PatchError("A patch cannot replace the whole twin; use PUT", op[key])
            if tokens[0] in ("$dtId", "$etag"):
                raise PatchError(f"'{op[key]}' is read-only", op[key])
            meta_at = 0 if tokens[0] == "$metadata" else 1 if len(tokens) > 1 and tokens[1] == "$metadata" else -1
            if meta_at < 0:
                continue
            rest = tokens[meta_at + 1:]
            ok = (rest == ["$model"] and meta_at == 0) or (len(rest) == 2 and rest[1] == "sourceTime")
            if not ok:
                raise PatchError(
                    f"'{op[key]}' is read-only; only '/$metadata/$model' and "
                    "'/$metadata/<property>/sourceTime' can be patched",
                    op[key],
                )


def patch_twin_document(
    doc: Mapping[str, Any], ops: object, registry: ModelRegistry, now: str, *, prefix: str = ""
) -> TwinChange:
    """Apply a JSON Patch; ``prefix`` (``/motor``) scopes it to a component."""
    if not isinstance(ops, list):
        raise PatchError("A JSON Patch document must be a JSON array of operations")
    if prefix:
        scoped = []
        for op in ops:
            if not isinstance(op, dict):
                raise PatchError(f"Patch operation must be an object, got {op!r}")
            op = dict(op)
            for key in ("path", "from"):
                if key in op:
                    parse_pointer(op[key])
                    op[key] = prefix + op[key]
            scoped.append(op)
        ops = scoped
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(f"Patch operation must be an object, got {op!r}")
    _check_metadata_patch(ops)
    after = apply_json_patch(_patchable(doc), ops)
    after["$dtId"] = doc["$dtId"]
    return _finish(doc, after, registry, now, new=False)


def merge_patch_twin_document(
    doc: Mapping[str, Any], patch: object, registry: ModelRegistry, now: str
) -> TwinChange:
    """Apply an RFC 7386 merge patch to the twin's properties and components."""
    if not isinstance(patch, dict):
        raise PatchError("A merge patch for a twin must be a JSON object")
    for key in patch:
        if key.startswith("$"):
            raise PatchError(f"'{key}' cannot be changed with a merge patch", f"/{key}")
    after = apply_merge_patch(_patchable(doc), patch)
    after["$dtId"] = doc["$dtId"]
    return _finish(doc, after, registry, now, new=False)


def set_desired(
    doc: Mapping[str, Any], values: object, registry: ModelRegistry, now: str
) -> TwinChange:
    """Record desired values for writable properties (nested dicts address components).

    The reported values are left as they are; each desired value gets a new ``desiredVersion``.
    """
    if not isinstance(values, dict) or not values:
        raise InvalidInputError("Desired values must be a non-empty JSON object of property: value")
    after = copy.deepcopy(dict(doc))
    iface = _model_of(after, registry, new=False)
    changed: list[str] = []
    _desire(after, values, iface, registry, now, "", changed)
    after["$metadata"]["$lastUpdateTime"] = now
    return TwinChange(after, changed)


def _desire(
    node: dict[str, Any],
    values: Mapping[str, Any],
    iface: Interface,
    registry: ModelRegistry,
    now: str,
    prefix: str,
    changed: list[str],
) -> None:
    meta = node.setdefault("$metadata", {})
    for key, value in values.items():
        path = f"{prefix}/{key}"
        if key in iface.components and isinstance(value, dict):
            sub = node.setdefault(key, {"$metadata": {}})
            _desire(sub, value, registry.require(iface.components[key].schema), registry, now,
                    path, changed)
            continue
        prop = iface.properties.get(key)
        if prop is None:
            raise InvalidInputError(f"Property '{path}' is not defined in model {iface.id}")
        if not prop.writable:
            raise InvalidInputError(
                f"Property '{path}' is not writable in model {iface.id}; only writable properties "
                "have a desired state"
            )
        prop.schema.validate(value, path)
        entry = dict(meta.get(key) or {})
        entry["desiredValue"] = copy.deepcopy(value)
        entry["desiredVersion"] = int(entry.get("desiredVersion", 0)) + 1
        entry["desiredUpdateTime"] = now
        if node.get(key) == value:
            entry["ackVersion"] = entry["desiredVersion"]
            entry["ackCode"] = 200
            entry["ackDescription"] = "Reported value matches the desired value"
        else:
            entry["ackCode"] = 202
            entry["ackDescription"] = "Waiting for the device to report the desired value"
        meta[key] = entry
        changed.append(path)


def ack_desired(
    doc: Mapping[str, Any],
    prop: str,
    version: int,
    code: int,
    description: str,
    registry: ModelRegistry,
    now: str,
) -> TwinChange:
    """Record a device's answer to desired version ``version`` of top-level property ``prop``
    (``code`` is HTTP-like: 200 done, 202 working on it, 4xx/5xx refused), without touching
    the reported value. An answer to an older version than the current desired one is stale
    and changes nothing (an empty ``changed``).
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"A desired version must be a positive integer, got {version!r}")
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        raise InvalidInputError(f"An ack code must be an integer from 100 to 599, got {code!r}")
    if not isinstance(description, str):
        raise InvalidInputError(f"An ack description must be a string, got {description!r}")
    iface = _model_of(doc, registry, new=False)
    prop_def = iface.properties.get(prop)
    if prop_def is None or not prop_def.writable:
        raise InvalidInputError(f"Property '/{prop}' is not a writable property of model {iface.id}")
    entry = doc["$metadata"].get(prop)
    current = entry.get("desiredVersion") if isinstance(entry, dict) else None
    if not isinstance(current, int):
        raise InvalidInputError(f"Property '/{prop}' has no desired value to acknowledge")
    if version > current:
        raise InvalidInputError(
            f"Property '/{prop}' has desired version {current}; version {version} does not exist")
    after = copy.deepcopy(dict(doc))
    if version < current:
        return TwinChange(after, [])
    new_entry = dict(after["$metadata"][prop])
    new_entry.update(ackVersion=version, ackCode=code, ackDescription=description)
    if new_entry == after["$metadata"][prop]:
        return TwinChange(after, [])
    after["$metadata"][prop] = new_entry
    after["$metadata"]["$lastUpdateTime"] = now
    return TwinChange(after, [f"/{prop}"])


def report_properties(
    doc: Mapping[str, Any],
    reports: Mapping[str, tuple[object, float]],
    registry: ModelRegistry,
    now: str,
) -> TwinChange:
    """Set reported values of top-level properties as a device reported them: ``reports``
    maps a property to (value, source time in epoch s), and the time becomes the property's
    ``sourceTime``. A report no newer than the property's current ``sourceTime`` is stale (a
    redelivery, or overtaken by a newer report) and skipped, so replaying reports is harmless
    and they may arrive out of order. Nothing applied: an empty ``changed``."""
    after = copy.deepcopy(_patchable(doc))
    meta = after.setdefault("$metadata", {})
    applied = False
    for prop, (value, t) in reports.items():
        entry = meta.get(prop)
        entry = dict(entry) if isinstance(entry, dict) else {}
        current = entry.get("sourceTime")
        if isinstance(current, str) and from_iso(current) >= t:
            continue
        after[prop] = value
        entry["sourceTime"] = to_iso(t)
        meta[prop] = entry
        applied = True
    if not applied:
        return TwinChange(copy.deepcopy(dict(doc)), [])
    after["$dtId"] = doc["$dtId"]
    return _finish(doc, after, registry, now, new=False)
