"""JSON Patch (RFC 6902) and JSON merge patch (RFC 7386) on plain JSON values.

Written here rather than taken from a library because twins need precise errors (the failing
operation's index and path) and must never be half-patched: :func:`apply_json_patch` works on a
deep copy and returns it, leaving the input untouched.

>>> apply_json_patch({"a": 1}, [{"op": "replace", "path": "/a", "value": 2}])
{'a': 2}
>>> apply_merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}})
{'a': 1, 'b': {'d': 3}}
"""

from __future__ import annotations

import copy
from typing import Any

from holotwin.errors import PatchError

__all__ = ["apply_json_patch", "apply_merge_patch", "parse_pointer", "validate_json_patch"]

_OPS = {"add", "remove", "replace", "move", "copy", "test"}


def parse_pointer(pointer: object) -> list[str]:
    """Split a JSON pointer (RFC 6901) into unescaped tokens.

    >>> parse_pointer("/a~1b/c~0d")
    ['a/b', 'c~d']
    """
    if not isinstance(pointer, str):
        raise PatchError(f"A JSON pointer must be a string, got {pointer!r}", None)
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer '{pointer}' must start with '/'", pointer)
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def validate_json_patch(ops: object) -> list[dict[str, Any]]:
    """Check the shape of a JSON Patch document and return it as a list of operations."""
    if not isinstance(ops, list):
        raise PatchError("A JSON Patch document must be a JSON array of operations")
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError(f"Patch operation {i} must be an object, got {op!r}")
        name = op.get("op")
        if name not in _OPS:
            raise PatchError(
                f"Patch operation {i} has op {name!r}; expected one of {', '.join(sorted(_OPS))}",
                op.get("path") if isinstance(op.get("path"), str) else None,
            )
        if "path" not in op:
            raise PatchError(f"Patch operation {i} ({name}) has no 'path'")
        parse_pointer(op["path"])
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"Patch operation {i} ({name} {op['path']}) has no 'value'", op["path"])
        if name in ("move", "copy"):
            if "from" not in op:
                raise PatchError(f"Patch operation {i} ({name}) has no 'from'", op["path"])
            parse_pointer(op["from"])
    return ops


def _container(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for tok in tokens:
        if isinstance(node, dict):
            if tok not in node:
                raise PatchError(f"Path '{path}' does not exist (no '{tok}')", path)
            node = node[tok]
        elif isinstance(node, list):
            node = node[_index(node, tok, path, allow_end=False)]
        else:
            raise PatchError(f"Path '{path}' goes through a value that is not an object or array", path)
    return node


def _index(arr: list[Any], tok: str, path: str, *, allow_end: bool) -> int:
    if tok == "-" and allow_end:
        return len(arr)
    if not tok.isdigit() or (tok != "0" and tok.startswith("0")):
        raise PatchError(f"Path '{path}': '{tok}' is not an array index", path)
    i = int(tok)
    if i > len(arr) or (i == len(arr) and not allow_end):
        raise PatchError(f"Path '{path}': index {i} is out of range", path)
    return i


def _get(doc: Any, path: str) -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return doc
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Path '{path}' does not exist", path)
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, allow_end=False)]
    raise PatchError(f"Path '{path}' goes through a value that is not an object or array", path)


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise PatchError(f"Cannot add at '{path}': its parent is not an object or array", path)
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = parse_pointer(path)
    if not tokens:
        raise PatchError("Cannot remove the whole document", path)
    parent = _container(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"Cannot remove '{path}': it does not exist", path)
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(f"Cannot remove '{path}': its parent is not an object or array", path)


def apply_json_patch(doc: Any, ops: object) -> Any:
    """Apply an RFC 6902 patch to a deep copy of ``doc`` and return the result."""
    result = copy.deepcopy(doc)
    for i, op in enumerate(validate_json_patch(ops)):
        name, path = op["op"], op["path"]
        try:
            if name == "add":
                result = _add(result, path, copy.deepcopy(op["value"]))
            elif name == "remove":
                result, _ = _remove(result, path)
            elif name == "replace":
                _get(result, path)  # must exist
                if parse_pointer(path):
                    result, _ = _remove(result, path)
                result = _add(result, path, copy.deepcopy(op["value"]))
            elif name == "move":
                src = op["from"]
                if path.startswith(src + "/"):
                    raise PatchError(f"Cannot move '{src}' into its own child '{path}'", path)
                result, value = _remove(result, src)
                result = _add(result, path, value)
            elif name == "copy":
                result = _add(result, path, copy.deepcopy(_get(result, op["from"])))
            elif name == "test":
                if _get(result, path) != op["value"]:
                    raise PatchError(f"Test failed: '{path}' is not {op['value']!r}", path)
        except PatchError as exc:
            raise PatchError(f"Patch operation {i} ({name} {path}): {exc.message}", path) from None
    return result


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch and return a new value (``null`` removes a member)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
