from __future__ import annotations

import pytest

from holotwin.errors import PatchError
from holotwin.twins.patch import apply_json_patch, apply_merge_patch, parse_pointer


def test_rfc6902_operations() -> None:
    doc = {"a": 1, "b": {"c": [1, 2]}, "d": "x"}
    out = apply_json_patch(doc, [
        {"op": "add", "path": "/b/c/1", "value": 9},
        {"op": "add", "path": "/b/c/-", "value": 3},
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "remove", "path": "/d"},
        {"op": "copy", "from": "/a", "path": "/e"},
        {"op": "move", "from": "/e", "path": "/f"},
        {"op": "test", "path": "/f", "value": 2},
    ])
    assert out == {"a": 2, "b": {"c": [1, 9, 2, 3]}, "f": 2}
    assert doc == {"a": 1, "b": {"c": [1, 2]}, "d": "x"}  # input untouched


@pytest.mark.parametrize(
    ("ops", "fragment"),
    [
        ({"op": "add"}, "array of operations"),
        ([{"op": "frob", "path": "/a"}], "has op 'frob'"),
        ([{"op": "add", "value": 1}], "has no 'path'"),
        ([{"op": "add", "path": "a", "value": 1}], "must start with '/'"),
        ([{"op": "replace", "path": "/missing", "value": 1}], "does not exist"),
        ([{"op": "remove", "path": "/x/y"}], "does not exist"),
        ([{"op": "add", "path": "/a"}], "has no 'value'"),
        ([{"op": "test", "path": "/a", "value": 5}], "Test failed"),
        ([{"op": "add", "path": "/l/7", "value": 1}], "out of range"),
        ([{"op": "add", "path": "/l/01", "value": 1}], "not an array index"),
        ([{"op": "move", "from": "/o", "path": "/o/x"}], "own child"),
    ],
)
def test_bad_patches_raise_with_reason(ops: object, fragment: str) -> None:
    with pytest.raises(PatchError, match=fragment):
        apply_json_patch({"a": 1, "l": [0], "o": {}}, ops)


def test_pointer_escapes() -> None:
    assert parse_pointer("/a~1b/~0") == ["a/b", "~"]
    assert apply_json_patch({"a/b": 1}, [{"op": "remove", "path": "/a~1b"}]) == {}


def test_merge_patch() -> None:
    assert apply_merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None}, "e": [1]}) == {
        "a": {"c": 2}, "d": 1, "e": [1]}
    assert apply_merge_patch({"a": 1}, {"a": {"x": 1}}) == {"a": {"x": 1}}
