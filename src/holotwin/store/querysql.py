"""Compile a twin-graph :class:`~holotwin.query.ast.Query` to one SQL statement.

Both stores run the same shapes; a :class:`Dialect` supplies what differs: SQLite reads JSON
with ``json_extract``/``json_type``/``->`` on TEXT documents, PostgreSQL with ``#>``, ``#>>``
and ``jsonb_typeof`` on JSONB. Every value from the query text (strings, numbers, property
paths, relationship names, model ids, twin ids) is a bound parameter; only generated aliases
(``c0``, ``w1``) and fixed keywords are written into the SQL text.

Shapes:

- each twin collection is ``twins cN``; each JOIN or one-hop MATCH edge a ``relationships cN``
  joined on ``source_id``/``target_id`` (a UNION ALL of both directions for ``-[]-``);
- a MATCH edge over ``min..max`` hops is a recursive CTE ``wN(start, node, depth, visited)``
  that extends paths one relationship at a time up to ``max`` and never revisits a twin
  (``visited`` holds the path's ids between ``char(31)`` separators); it starts from the twins
  a top-level ``alias.$dtId = '...'``/``IN [...]`` condition names, walking backwards when
  only the far end is anchored, and from every twin otherwise;
- rows come back ordered by the ids of every collection (relationships by (source, id)): that
  tuple is the keyset cursor of the next page, compared as a row value.

Comparisons are typed: ``T.x = 'a'`` holds only when ``T.x`` is a string equal to ``'a'``; a
property of another type, or no property, makes every comparison false (``NOT`` of it true).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from holotwin.errors import QueryError
from holotwin.query import ast
from holotwin.store.querydialect import KINDS as _KINDS
from holotwin.store.querydialect import Dialect, Frag, PostgresDialect, SqliteDialect
from holotwin.store.querydialect import value_kind as _kind

__all__ = ["CompiledQuery", "Dialect", "PostgresDialect", "SqliteDialect", "compile_count",
           "compile_page"]

FALSE = "(1=0)"
TRUE = "(1=1)"

_TWIN_COLUMNS: dict[tuple[str, ...], str] = {("$dtId",): "id", ("$metadata", "$model"): "model_id", ("$etag",): "etag"}
_REL_COLUMNS: dict[tuple[str, ...], str] = {
    ("$sourceId",): "source_id",
    ("$targetId",): "target_id",
    ("$relationshipId",): "id",
    ("$relationshipName",): "name",
    ("$etag",): "etag",
}
_OPS = {"=", "!=", "<", "<=", ">", ">="}
_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


# compiled result ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CompiledQuery:
    """SQL, its parameters, and how to turn a result row into a result dict and a cursor."""

    sql: str
    params: list[Any]
    decode: Callable[[Sequence[Any]], dict[str, Any]]
    key_width: int


def _loads(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return json.loads(value)


class _Compiler:
    def __init__(self, query: ast.Query, dialect: Dialect) -> None:
        self.q = query
        self.d = dialect
        self.sa = {c.alias: f"c{i}" for i, c in enumerate(query.collections)}
        self.kinds = {c.alias: c.kind for c in query.collections}
        self.anchors = _anchors(query.where)

    # FROM ------------------------------------------------------------------------------------
    def _names(self, column: str, names: tuple[str, ...]) -> Frag:
        if not names:
            return Frag(TRUE)
        return Frag(f"{column} IN ({', '.join(self.d.text_param() for _ in names)})",
                    list(names))

    def _edge_rows(self, direction: str, names: tuple[str, ...]) -> Frag:
        """(src, dst) pairs of relationships seen in ``direction`` (for walks)."""
        out = Frag.join(" ", [Frag("SELECT source_id AS src, target_id AS dst FROM relationships"
                                   " WHERE"), self._names("name", names)])
        back = Frag.join(" ", [Frag("SELECT target_id AS src, source_id AS dst FROM relationships"
                                    " WHERE"), self._names("name", names)])
        if direction == "out":
            return out
        if direction == "in":
            return back
        return Frag.join(" UNION ALL ", [out, back])

    def _walk(self, index: int, edge: ast.Edge, direction: str,
              anchor: tuple[str, ...] | None) -> Frag:
        name = f"w{index}"
        sep = self.d.SEP
        start = Frag(TRUE)
        if anchor is not None:
            start = Frag(f"e.src IN ({', '.join(self.d.text_param() for _ in anchor)})",
                         list(anchor))
        base = Frag.join(" ", [
            Frag(f"SELECT e.src, e.dst, 1, {sep} || e.src || {sep} || e.dst || {sep} FROM ("),
            self._edge_rows(direction, edge.names),
            Frag(") e WHERE e.src <> e.dst AND"), start])
        step = Frag.join(" ", [
            Frag(f"SELECT w.start, e.dst, w.depth + 1, w.visited || e.dst || {sep} FROM {name} w "
                 "JOIN ("),
            self._edge_rows(direction, edge.names),
            Frag(f") e ON e.src = w.node WHERE w.depth < ? AND "
                 f"{self.d.position_of('w.visited', f'{sep} || e.dst || {sep}')} = 0",
                 [edge.max_hops])])
        return Frag.join("", [Frag(f"{name}(start, node, depth, visited) AS ("), base,
                              Frag(" UNION ALL "), step, Frag(")")])

    def from_clause(self) -> tuple[Frag, list[Frag]]:
        """(the FROM ... JOIN ... text, the CTEs it needs)."""
        root = self.q.collections[0]
        table = "twins" if root.kind == "twin" else "relationships"
        parts = [Frag(f"{table} {self.sa[root.alias]}")]
        placed = {root.alias}
        ctes: list[Frag] = []
        for i, e in enumerate(self.q.edges):
            src = self.sa[e.source]
            if e.source not in placed:  # pragma: no cover - edges come in pattern order
                raise QueryError("Internal error: MATCH edge out of order", e.position)
            dst_placed = e.target in placed
            dst = self.sa[e.target]
            if e.single:
                r = self.sa[e.alias]
                if e.direction == "both":
                    rel_table = (
                        "(SELECT source_id AS src, target_id AS dst, source_id, id, target_id, "
                        "name, etag, document FROM relationships UNION ALL SELECT target_id, "
                        "source_id, source_id, id, target_id, name, etag, document FROM "
                        "relationships WHERE source_id <> target_id)")
                    s_col, d_col = "src", "dst"
                elif e.direction == "out":
                    rel_table, s_col, d_col = "relationships", "source_id", "target_id"
                else:
                    rel_table, s_col, d_col = "relationships", "target_id", "source_id"
                cond = [Frag(f"{r}.{s_col} = {src}.id"), self._names(f"{r}.name", e.names)]
                if dst_placed:
                    cond.append(Frag(f"{r}.{d_col} = {dst}.id"))
                parts.append(Frag.join(" ", [Frag(f"JOIN {rel_table} {r} ON"),
                                             Frag.join(" AND ", cond)]))
                if not dst_placed:
                    parts.append(Frag(f"JOIN twins {dst} ON {dst}.id = {r}.{d_col}"))
            else:
                forward = self.anchors.get(e.source)
                backward = self.anchors.get(e.target)
                reverse = forward is None and backward is not None
                direction = {"out": "in", "in": "out", "both": "both"}[e.direction] \
                    if reverse else e.direction
                ctes.append(self._walk(i, e, direction, backward if reverse else forward))
                w = f"p{i}"
                near, far = ("node", "start") if reverse else ("start", "node")
                parts.append(Frag(
                    f"JOIN (SELECT DISTINCT start, node FROM w{i} WHERE depth >= ?) {w} "
                    f"ON {w}.{near} = {src}.id", [e.min_hops]))
                if dst_placed:
                    parts[-1] = Frag.join(" AND ", [parts[-1], Frag(f"{w}.{far} = {dst}.id")])
                else:
                    parts.append(Frag(f"JOIN twins {dst} ON {dst}.id = {w}.{far}"))
            placed.add(e.target)
        return Frag.join(" ", parts), ctes

    def keys(self) -> list[str]:
        out: list[str] = []
        for c in self.q.collections:
            s = self.sa[c.alias]
            out.extend([f"{s}.id"] if c.kind == "twin" else [f"{s}.source_id", f"{s}.id"])
        return out

    # WHERE -----------------------------------------------------------------------------------
    def _column(self, ref: ast.Ref) -> str | None:
        table = _TWIN_COLUMNS if self.kinds[ref.alias] == "twin" else _REL_COLUMNS
        column = table.get(ref.path)
        return f"{self.sa[ref.alias]}.{column}" if column else None

    def _doc(self, ref: ast.Ref) -> str:
        return f"{self.sa[ref.alias]}.document"

    def condition(self, c: ast.Condition) -> Frag:
        if isinstance(c, ast.And):
            return Frag.join(" AND ", [self.condition(i) for i in c.items]).wrap("({})")
        if isinstance(c, ast.Or):
            return Frag.join(" OR ", [self.condition(i) for i in c.items]).wrap("({})")
        if isinstance(c, ast.Not):
            return self.condition(c.item).wrap("(NOT {})")
        if isinstance(c, ast.IsOfModel):
            ids = sorted(c.model_ids if c.model_ids is not None else {c.model})
            if not ids:
                return Frag(FALSE)
            return Frag(f"{self.sa[c.alias]}.model_id IN "
                        f"({', '.join(self.d.text_param() for _ in ids)})", ids)
        if isinstance(c, ast.Comparison):
            return self.comparison(c)
        if isinstance(c, ast.InList):
            return self.in_list(c)
        if isinstance(c, ast.TypeCheck):
            return self.type_check(c)
        return self.string_match(c)

    @staticmethod
    def _guard(frag: Frag) -> Frag:
        """JSON tests are NULL where a property is missing; make them false instead."""
        return frag.wrap("COALESCE(({}), " + FALSE + ")")

    def comparison(self, c: ast.Comparison) -> Frag:
        left, op, right = c.left, c.op, c.right
        if isinstance(left, ast.Literal) and isinstance(right, ast.Ref):
            left, right, op = right, left, _FLIP[op]
        if isinstance(left, ast.Literal):
            assert isinstance(right, ast.Literal)
            return Frag(TRUE if _static_compare(left.value, op, right.value) else FALSE)
        assert isinstance(left, ast.Ref)
        if isinstance(right, ast.Literal):
            return self._ref_vs_literal(left, op, right.value)
        return self._ref_vs_ref(left, op, right)

    def _ref_vs_literal(self, ref: ast.Ref, op: str, value: ast.Value) -> Frag:
        kind = _kind(value)
        column = self._column(ref)
        if column is not None:
            if kind != "string":
                return Frag(FALSE)
            return Frag(f"{column} {op} {self.d.text_param()}", [value])
        doc = self._doc(ref)
        if kind == "null":
            return self._guard(self.d.type_in(doc, ref.path, ["null"])) if op == "=" \
                else Frag(FALSE)
        test = Frag.join(" ", [self.d.value(doc, ref.path, kind), Frag(op), self.d.param(value)])
        return self._guard(Frag.join(" AND ", [self.d.type_in(doc, ref.path, [kind]), test]))

    def _ref_vs_ref(self, a: ast.Ref, op: str, b: ast.Ref) -> Frag:
        ca, cb = self._column(a), self._column(b)
        if ca is not None and cb is not None:
            return Frag(f"{ca} {op} {cb}")
        ta, va = self.d.column_generic(ca) if ca else self.d.generic(self._doc(a), a.path)
        tb, vb = self.d.column_generic(cb) if cb else self.d.generic(self._doc(b), b.path)
        return self._guard(Frag.join(" ", [
            ta, Frag("="), tb, Frag("AND"), ta,
            Frag("IN ('string', 'number', 'boolean') AND"), va, Frag(op), vb]))

    def in_list(self, c: ast.InList) -> Frag:
        operand = c.operand
        values = [v.value for v in c.values]
        if isinstance(operand, ast.Literal):
            hit = any(_static_compare(operand.value, "=", v) for v in values)
            return Frag(TRUE if hit != c.negated else FALSE)
        column = self._column(operand)
        if column is not None:
            strings = [v for v in values if isinstance(v, str)]
            if not strings:
                return Frag(TRUE if c.negated else FALSE)
            word = "NOT IN" if c.negated else "IN"
            return Frag(f"{column} {word} ({', '.join(self.d.text_param() for _ in strings)})",
                        strings)
        doc = self._doc(operand)
        groups: list[Frag] = []
        for kind in ("string", "number", "boolean"):
            same = [v for v in values if _kind(v) == kind]
            if same:
                listed = Frag.join(", ", [self.d.param(v) for v in same])
                groups.append(Frag.join(" AND ", [
                    self.d.type_in(doc, operand.path, [kind]),
                    Frag.join(" ", [self.d.value(doc, operand.path, kind), Frag("IN ("), listed,
                                    Frag(")")])]).wrap("({})"))
        if any(v is None for v in values):
            groups.append(self.d.type_in(doc, operand.path, ["null"]))
        found = self._guard(Frag.join(" OR ", groups)) if groups else Frag(FALSE)
        if not c.negated:
            return found
        return Frag.join(" AND ", [self._guard(self.d.defined(doc, operand.path)),
                                   found.wrap("NOT {}")]).wrap("({})")

    def type_check(self, c: ast.TypeCheck) -> Frag:
        fn = c.function
        operand = c.operand
        if isinstance(operand, ast.Literal):
            kind = _kind(operand.value)
            return Frag(TRUE if _static_type(fn, kind) else FALSE)
        if not operand.path:  # the collection itself: an object
            return Frag(TRUE if _static_type(fn, "object") else FALSE)
        if self._column(operand) is not None:
            return Frag(TRUE if _static_type(fn, "string") else FALSE)
        doc = self._doc(operand)
        if fn == "IS_DEFINED":
            return self._guard(self.d.defined(doc, operand.path))
        kinds = [k for k in _KINDS if _static_type(fn, k)]
        return self._guard(self.d.type_in(doc, operand.path, kinds))

    def string_match(self, c: ast.StringMatch) -> Frag:
        operand = c.operand
        if isinstance(operand, ast.Literal):
            v = operand.value
            ok = isinstance(v, str) and {
                "STARTSWITH": v.startswith, "ENDSWITH": v.endswith,
                "CONTAINS": v.__contains__}[c.function](c.text)
            return Frag(TRUE if ok else FALSE)
        column = self._column(operand)
        guard: Frag | None = None
        if column is not None:
            value = Frag(column)
        elif not operand.path:
            return Frag(FALSE)
        else:
            doc = self._doc(operand)
            guard = self.d.type_in(doc, operand.path, ["string"])
            value = self.d.text(doc, operand.path)
        if not c.text:
            test = Frag(TRUE)
        elif c.function == "STARTSWITH":
            test = self.d.starts_with(value, c.text)
        elif c.function == "ENDSWITH":
            test = self.d.ends_with(value, c.text)
        else:
            test = self.d.contains(value, c.text)
        if guard is None:
            return test.wrap("({})")
        return self._guard(Frag.join(" AND ", [guard, test]))

    # SELECT ----------------------------------------------------------------------------------
    def select(self) -> tuple[list[Frag], Callable[[Sequence[Any]], dict[str, Any]]]:
        """Output columns and a function turning a row (output columns first) into a result."""
        cols: list[Frag] = []
        q = self.q
        readers: list[Callable[[Sequence[Any], dict[str, Any]], None]] = []

        def collection(alias: str, name: str | None) -> None:
            s = self.sa[alias]
            at = len(cols)
            if self.kinds[alias] == "twin":
                cols.extend([Frag(f"{s}.document"), Frag(f"{s}.etag")])

                def read_twin(row: Sequence[Any], out: dict[str, Any]) -> None:
                    doc = dict(_loads(row[at]))
                    doc["$etag"] = row[at + 1]
                    if name is None:
                        out.update(doc)
                    else:
                        out[name] = doc
                readers.append(read_twin)
            else:
                cols.append(Frag(f"{s}.document"))

                def read_rel(row: Sequence[Any], out: dict[str, Any]) -> None:
                    doc = _loads(row[at])
                    if name is None:
                        out.update(doc)
                    else:
                        out[name] = doc
                readers.append(read_rel)

        def value(ref: ast.Ref, name: str) -> None:
            at = len(cols)
            if self.kinds[ref.alias] == "twin" and ref.path == ("$etag",):
                cols.append(Frag(f"{self.sa[ref.alias]}.etag"))

                def read_etag(row: Sequence[Any], out: dict[str, Any]) -> None:
                    out[name] = row[at]
                readers.append(read_etag)
                return
            cols.append(self.d.projection(self._doc(ref), ref.path))

            def read_value(row: Sequence[Any], out: dict[str, Any]) -> None:
                if row[at] is not None:  # an undefined property is left out of the row
                    out[name] = _loads(row[at])
            readers.append(read_value)

        if q.select.kind == "star":
            if len(q.collections) == 1:
                collection(q.collections[0].alias, None)
            else:
                for c in q.collections:
                    if c.named:
                        collection(c.alias, c.alias)
        else:
            for item in q.select.items:
                if item.ref.path:
                    value(item.ref, item.name)
                else:
                    collection(item.ref.alias, item.name)

        def decode(row: Sequence[Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for read in readers:
                read(row, out)
            return out

        return cols, decode

    def body(self) -> tuple[Frag, Frag]:
        """(WITH prefix, FROM ... WHERE ... text)."""
        source, ctes = self.from_clause()
        where = [self.condition(self.q.where)] if self.q.where is not None else []
        prefix = Frag.join(", ", ctes).wrap("WITH RECURSIVE {} ") if ctes else Frag("")
        return prefix, Frag.join(" ", [Frag("FROM"), source, *(
            [Frag("WHERE"), Frag.join(" AND ", where)] if where else [])])


def _static_compare(a: ast.Value, op: str, b: ast.Value) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka != kb or op not in _OPS:
        return False
    if ka == "null":
        return op == "="
    x: Any = a
    y: Any = b
    return bool({"=": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y,
                 ">=": x >= y}[op])


def _static_type(function: str, kind: str) -> bool:
    return {
        "IS_DEFINED": True,
        "IS_NULL": kind == "null",
        "IS_BOOL": kind == "boolean",
        "IS_NUMBER": kind == "number",
        "IS_STRING": kind == "string",
        "IS_PRIMITIVE": kind in ("string", "number", "boolean", "null"),
        "IS_OBJECT": kind == "object",
    }[function]


def _anchors(where: ast.Condition | None) -> dict[str, tuple[str, ...]]:
    """Twin ids a top-level ``alias.$dtId = '..'`` or ``IN [..]`` condition pins an alias to."""
    if where is None:
        return {}
    items = where.items if isinstance(where, ast.And) else (where,)
    out: dict[str, tuple[str, ...]] = {}
    for c in items:
        if isinstance(c, ast.Comparison) and c.op == "=":
            ref, lit = (c.left, c.right) if isinstance(c.left, ast.Ref) else (c.right, c.left)
            if (isinstance(ref, ast.Ref) and isinstance(lit, ast.Literal)
                    and ref.path == ("$dtId",) and isinstance(lit.value, str)):
                out[ref.alias] = (lit.value,)
        elif (isinstance(c, ast.InList) and not c.negated and isinstance(c.operand, ast.Ref)
              and c.operand.path == ("$dtId",)):
            out[c.operand.alias] = tuple(v.value for v in c.values if isinstance(v.value, str))
    return out


def _check_numbers(params: list[Any]) -> None:
    for p in params:
        if isinstance(p, float) and not math.isfinite(p):  # pragma: no cover - parser refuses
            raise QueryError("Numbers in a query must be finite")


def compile_page(query: ast.Query, dialect: Dialect, after: Sequence[Any] | None,
                 limit: int) -> CompiledQuery:
    """One page of rows after the keyset cursor ``after`` (None for the first page)."""
    c = _Compiler(query, dialect)
    cols, decode = c.select()
    keys = c.keys()
    prefix, body = c.body()
    if after is not None:
        if len(after) != len(keys):
            raise QueryError("The continuation token does not fit this query")
        cmp = Frag(f"({', '.join(keys)}) > ({', '.join(dialect.text_param() for _ in keys)})"
                   if len(keys) > 1 else f"{keys[0]} > {dialect.text_param()}", list(after))
        connector = " AND " if query.where is not None else " WHERE "
        body = Frag.join(connector, [body, cmp])
    select = Frag.join(", ", [*cols, *(Frag(k) for k in keys)])
    sql = Frag.join(" ", [prefix, Frag("SELECT"), select, body,
                          Frag(f"ORDER BY {', '.join(keys)} LIMIT ?", [limit])])
    _check_numbers(sql.params)
    width = len(cols)

    def decode_row(row: Sequence[Any]) -> dict[str, Any]:
        return decode(row[:width])

    return CompiledQuery(sql.sql, sql.params, decode_row, len(keys))


def compile_count(query: ast.Query, dialect: Dialect) -> CompiledQuery:
    """``SELECT count(*)`` of the query's rows (at most ``TOP`` when it has one)."""
    c = _Compiler(query, dialect)
    prefix, body = c.body()
    limit = Frag(" LIMIT ?", [query.select.top]) if query.select.top is not None else Frag("")
    sql = Frag.join("", [prefix, Frag("SELECT count(*) FROM (SELECT 1 AS one "), body, limit,
                         Frag(") q")])
    _check_numbers(sql.params)
    return CompiledQuery(sql.sql, sql.params, lambda row: {"COUNT": int(row[0])}, 0)
