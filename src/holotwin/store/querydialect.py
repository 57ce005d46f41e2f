"""SQL dialects for the query compiler: how SQLite and PostgreSQL read JSON documents.

SQLite reads JSON with ``json_extract``/``json_type``/``->`` on TEXT documents; PostgreSQL with
``#>``, ``#>>`` and ``jsonb_typeof`` on JSONB. A :class:`Frag` is SQL text with its bound
parameters; every value from a query is a parameter, never part of the text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from holotwin.query import ast

__all__ = ["KINDS", "Dialect", "Frag", "PostgresDialect", "SqliteDialect", "value_kind"]

KINDS = ("string", "number", "boolean", "null", "object", "array")


@dataclass
class Frag:
    """A piece of SQL and its parameters, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)

    @staticmethod
    def join(sep: str, parts: Sequence[Frag]) -> Frag:
        return Frag(sep.join(p.sql for p in parts), [x for p in parts for x in p.params])

    def wrap(self, template: str) -> Frag:
        return Frag(template.format(self.sql), list(self.params))


def value_kind(value: ast.Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


# dialects ----------------------------------------------------------------------------------
class Dialect:
    """SQL that differs between SQLite and PostgreSQL (JSON access, strings, recursion)."""

    SEP = ""  #: SQL for the separator character in a MATCH path's ``visited`` string

    def type_in(self, doc: str, path: tuple[str, ...], kinds: Sequence[str]) -> Frag:
        """True when the JSON value at ``path`` has one of ``kinds`` (NULL when undefined)."""
        raise NotImplementedError

    def defined(self, doc: str, path: tuple[str, ...]) -> Frag:
        raise NotImplementedError

    def value(self, doc: str, path: tuple[str, ...], kind: str) -> Frag:
        """The value at ``path`` in a form comparable with a ``param(kind)``."""
        raise NotImplementedError

    def param(self, value: ast.Value) -> Frag:
        raise NotImplementedError

    def generic(self, doc: str, path: tuple[str, ...]) -> tuple[Frag, Frag]:
        """(type name, value) of a path, for comparing two paths."""
        raise NotImplementedError

    def column_generic(self, column: str) -> tuple[Frag, Frag]:
        raise NotImplementedError

    def projection(self, doc: str, path: tuple[str, ...]) -> Frag:
        """The JSON text of the value at ``path`` (NULL when undefined)."""
        raise NotImplementedError

    def text(self, doc: str, path: tuple[str, ...]) -> Frag:
        """The string value at ``path`` (callers check it is a string)."""
        raise NotImplementedError

    def starts_with(self, value: Frag, text: str) -> Frag:
        raise NotImplementedError

    def ends_with(self, value: Frag, text: str) -> Frag:
        raise NotImplementedError

    def contains(self, value: Frag, text: str) -> Frag:
        raise NotImplementedError

    def position_of(self, haystack: str, needle: str) -> str:
        raise NotImplementedError

    def text_param(self) -> str:
        return "?"


class SqliteDialect(Dialect):
    SEP = "char(31)"
    _TYPES: ClassVar[dict[str, tuple[str, ...]]] = {
        "string": ("text",), "number": ("integer", "real"), "boolean": ("true", "false"),
        "null": ("null",), "object": ("object",), "array": ("array",)}

    @staticmethod
    def _path(path: tuple[str, ...]) -> str:
        return "$" + "".join(f'."{p}"' for p in path)

    def type_in(self, doc: str, path: tuple[str, ...], kinds: Sequence[str]) -> Frag:
        names = [n for k in kinds for n in self._TYPES[k]]
        listed = ", ".join(f"'{n}'" for n in names)
        return Frag(f"json_type({doc}, ?) IN ({listed})", [self._path(path)])

    def defined(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"json_type({doc}, ?) IS NOT NULL", [self._path(path)])

    def value(self, doc: str, path: tuple[str, ...], kind: str) -> Frag:
        return Frag(f"json_extract({doc}, ?)", [self._path(path)])

    def param(self, value: ast.Value) -> Frag:
        if isinstance(value, bool):
            return Frag("?", [int(value)])
        return Frag("?", [value])

    def generic(self, doc: str, path: tuple[str, ...]) -> tuple[Frag, Frag]:
        p = self._path(path)
        kind = Frag(
            f"CASE json_type({doc}, ?) WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number' "
            "WHEN 'real' THEN 'number' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
            f"ELSE json_type({doc}, ?) END", [p, p])
        return kind, Frag(f"json_extract({doc}, ?)", [p])

    def column_generic(self, column: str) -> tuple[Frag, Frag]:
        return Frag("'string'"), Frag(column)

    def projection(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"({doc} -> ?)", [self._path(path)])

    def text(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"json_extract({doc}, ?)", [self._path(path)])

    def starts_with(self, value: Frag, text: str) -> Frag:
        return Frag(f"substr({value.sql}, 1, ?) = ?", [*value.params, len(text), text])

    def ends_with(self, value: Frag, text: str) -> Frag:
        return Frag(f"substr({value.sql}, ?) = ?", [*value.params, -len(text), text])

    def contains(self, value: Frag, text: str) -> Frag:
        return Frag(f"instr({value.sql}, ?) > 0", [*value.params, text])

    def position_of(self, haystack: str, needle: str) -> str:
        return f"instr({haystack}, {needle})"


class PostgresDialect(Dialect):
    SEP = "chr(31)"
    def type_in(self, doc: str, path: tuple[str, ...], kinds: Sequence[str]) -> Frag:
        listed = ", ".join(f"'{k}'" for k in kinds)  # jsonb_typeof uses the same names
        return Frag(f"jsonb_typeof({doc} #> ?::text[]) IN ({listed})", [list(path)])

    def defined(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"({doc} #> ?::text[]) IS NOT NULL", [list(path)])

    def value(self, doc: str, path: tuple[str, ...], kind: str) -> Frag:
        if kind == "string":
            return Frag(f"({doc} #>> ?::text[])", [list(path)])
        return Frag(f"({doc} #> ?::text[])", [list(path)])

    def param(self, value: ast.Value) -> Frag:
        if isinstance(value, str):
            return Frag("?::text", [value])
        return Frag("?::jsonb", [json.dumps(value)])

    def generic(self, doc: str, path: tuple[str, ...]) -> tuple[Frag, Frag]:
        return (Frag(f"jsonb_typeof({doc} #> ?::text[])", [list(path)]),
                Frag(f"({doc} #> ?::text[])", [list(path)]))

    def column_generic(self, column: str) -> tuple[Frag, Frag]:
        return Frag("'string'"), Frag(f"to_jsonb({column})")

    def projection(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"({doc} #> ?::text[])::text", [list(path)])

    def text(self, doc: str, path: tuple[str, ...]) -> Frag:
        return Frag(f"({doc} #>> ?::text[])", [list(path)])

    def starts_with(self, value: Frag, text: str) -> Frag:
        return Frag(f"left({value.sql}, ?) = ?::text", [*value.params, len(text), text])

    def ends_with(self, value: Frag, text: str) -> Frag:
        return Frag(f"right({value.sql}, ?) = ?::text", [*value.params, len(text), text])

    def contains(self, value: Frag, text: str) -> Frag:
        return Frag(f"strpos({value.sql}, ?::text) > 0", [*value.params, text])

    def position_of(self, haystack: str, needle: str) -> str:
        return f"strpos({haystack}, {needle})"

    def text_param(self) -> str:
        return "?::text"
