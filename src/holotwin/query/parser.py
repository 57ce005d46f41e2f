"""Parse query text into a :class:`~holotwin.query.ast.Query`, with errors people can act on.

The grammar is ``grammar.lark`` next to this module (LALR). Parsing happens in two steps: lark
builds a tree, then :class:`_Builder` turns it into the typed AST, resolving every property
path against the collections the FROM clause declares. Every problem is a
:class:`~holotwin.errors.QueryError` with the 0-based position where it was found.

>>> q = parse_query("SELECT TOP(2) T.serial AS s FROM DIGITALTWINS T WHERE T.speed > 1")
>>> q.select.top, q.select.items[0].name, q.where.op
(2, 's', '>')
>>> parse_query("SELECT * FORM DIGITALTWINS")
Traceback (most recent call last):
...
holotwin.errors.QueryError: Expected FROM after the SELECT list at position 9, found 'FORM'
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, cast

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from holotwin.errors import QueryError
from holotwin.query import ast

__all__ = ["parse_query"]

#: longest query text accepted, in characters
MAX_QUERY_LENGTH = 8000

_TYPE_CHECKS = {"IS_DEFINED", "IS_NULL", "IS_BOOL", "IS_NUMBER", "IS_STRING", "IS_PRIMITIVE",
                "IS_OBJECT"}
_STRING_MATCHES = {"STARTSWITH", "ENDSWITH", "CONTAINS"}
_KNOWN_UNSUPPORTED = {"ORDER", "GROUP", "DISTINCT", "UNION", "LIMIT", "OFFSET"}

_WORDS = {
    "SELECT": "SELECT", "TOP": "TOP", "COUNT": "COUNT()", "AS": "AS", "FROM": "FROM",
    "DIGITALTWINS": "DIGITALTWINS", "RELATIONSHIPS": "RELATIONSHIPS", "JOIN": "JOIN",
    "RELATED": "RELATED", "MATCH": "MATCH", "WHERE": "WHERE", "AND": "AND", "OR": "OR",
    "NOT": "NOT", "IN": "IN", "NIN": "NIN", "TRUE": "true", "FALSE": "false", "NULL": "null",
    "STAR": "'*'", "RANGE": "'..'", "DASH": "'-'", "ARROW_RIGHT": "'->'", "ARROW_LEFT": "'<-'",
    "COMP": "a comparison (= != < <= > >=)", "IDENT": "a name", "INT": "a whole number",
    "NUMBER": "a number", "STRING": "a string", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['",
    "RSQB": "']'", "COMMA": "','", "DOT": "'.'", "COLON": "':'", "VBAR": "'|'",
    "$END": "the end of the query",
}
# words listed first when several are expected (keywords before punctuation)
_ORDER = list(_WORDS)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files("holotwin.query").joinpath("grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def parse_query(text: object) -> ast.Query:
    """Parse and resolve ``text``; raise :class:`QueryError` if it is not a valid query."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The query is empty", 0)
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"The query is longer than {MAX_QUERY_LENGTH} characters",
                         MAX_QUERY_LENGTH)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    builder = _Builder(text)
    select_tree, from_tree = cast(list[Tree[Token]], tree.children[:2])
    where_tree = cast(Tree[Token], tree.children[2]) if len(tree.children) > 2 else None
    try:
        collections, edges = builder.transform(from_tree)
        builder.scope = {c.alias: c for c in collections}
        builder.root = collections[0]
        builder.explicit = any(c.named for c in collections)
        select = builder.transform(select_tree)
        where = (builder.transform(cast(Tree[Token], where_tree.children[1]))
                 if where_tree is not None else None)
    except VisitError as exc:  # lark wraps what a transformer method raised
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise
    query = ast.Query(text, select, tuple(collections), tuple(edges), where)
    _check_edges(query)
    return query


# errors ------------------------------------------------------------------------------------
def _describe(expected: set[str]) -> str:
    terminals = sorted(expected, key=lambda t: (_ORDER.index(t) if t in _ORDER else 999, t))
    names = list(dict.fromkeys(_WORDS.get(t, t) for t in terminals))
    if not names:
        return "something else"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


_CLAUSES = re.compile(r"\b(SELECT|FROM|JOIN|MATCH|WHERE)\b", re.IGNORECASE)


def _context(text: str, position: int) -> str:
    clauses = _CLAUSES.findall(text[:position])
    last = clauses[-1].upper() if clauses else ""
    return {
        "SELECT": "after the SELECT list",
        "FROM": "in the FROM clause",
        "JOIN": "in the JOIN",
        "MATCH": "in the MATCH pattern",
        "WHERE": "in the WHERE condition",
    }.get(last, "at the start of the query")


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryError:
    position = int(exc.pos_in_stream or 0) if exc.pos_in_stream is not None else len(text)
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            position = len(text.rstrip())
            found = "the end of the query"
        else:
            found = f"'{token.value}'"
            word = str(token.value).upper()
            if word in ("JOIN", "MATCH") and "RELATIONSHIPS" in text[:position].upper():
                return QueryError(f"{word} needs FROM DIGITALTWINS, not FROM RELATIONSHIPS "
                                  f"(at position {position})", position)
            if word in _KNOWN_UNSUPPORTED:
                return QueryError(
                    f"{word} is not supported by the query language (at position {position})",
                    position)
        expected = set(exc.expected)
    elif isinstance(exc, UnexpectedCharacters):
        found = f"'{text[position]}'" if position < len(text) else "the end of the query"
        expected = set(exc.allowed or ())
    elif isinstance(exc, UnexpectedEOF):
        position = len(text.rstrip())
        found = "the end of the query"
        expected = set(exc.expected)
    else:  # pragma: no cover - lark raises only the three above
        return QueryError(f"Invalid query: {exc}", position)
    return QueryError(
        f"Expected {_describe(expected)} {_context(text, position)} at position {position}, "
        f"found {found}",
        position,
    )


def _at(token: Token) -> int:
    return int(token.start_pos or 0)


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


# tree -> AST -------------------------------------------------------------------------------
_Part = tuple[tuple[str, ...], int]  # an unresolved path and its position


class _Builder(Transformer[Token, Any]):
    """Builds AST nodes; ``scope`` (set after the FROM clause) resolves property paths."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.scope: dict[str, ast.Collection] = {}
        self.root: ast.Collection | None = None
        self.explicit = False
        self._anonymous = 0

    def _internal(self, prefix: str) -> str:
        self._anonymous += 1
        return f" {prefix}{self._anonymous}"  # a space: no user alias can collide

    # FROM ------------------------------------------------------------------------------------
    def _alias(self, token: Token) -> str:
        name = str(token)
        if name.startswith("$"):
            raise QueryError(f"'{name}' cannot be a collection alias (at position "
                             f"{_at(token)})", _at(token))
        return name

    def _declare(self, seen: dict[str, ast.Collection], c: ast.Collection) -> None:
        if c.alias in seen:
            raise QueryError(f"The alias '{c.alias}' is declared twice (at position "
                             f"{c.position})", c.position)
        seen[c.alias] = c

    def from_twins(self, children: list[Any]) -> tuple[list[ast.Collection], list[ast.Edge]]:
        keyword = children[1]
        rest = children[2:]
        alias_token = rest[0] if rest and isinstance(rest[0], Token) else None
        joins = rest[1:] if alias_token is not None else rest
        root = ast.Collection(
            self._alias(alias_token) if alias_token else "", "twin", alias_token is not None,
            _at(alias_token) if alias_token else _at(keyword))
        seen: dict[str, ast.Collection] = {}
        self._declare(seen, root)
        edges: list[ast.Edge] = []
        for target, source_path, rel_token, position in joins:
            parts, path_pos = source_path
            if len(parts) != 2:
                raise QueryError(
                    f"JOIN ... RELATED expects alias.relationshipName, got '{'.'.join(parts)}' "
                    f"(at position {path_pos})", path_pos)
            source, name = parts
            if source not in seen or seen[source].kind != "twin":
                known = ", ".join(a for a in seen if a) or "none"
                raise QueryError(
                    f"Unknown twin alias '{source}' in JOIN at position {path_pos}; "
                    f"declared: {known}", path_pos)
            rel = ast.Collection(
                self._alias(rel_token) if rel_token else self._internal("r"), "relationship",
                rel_token is not None, _at(rel_token) if rel_token else position)
            twin = ast.Collection(self._alias(target), "twin", True, _at(target))
            self._declare(seen, twin)
            self._declare(seen, rel)
            edges.append(ast.Edge(source, twin.alias, rel.alias, (name,), 1, 1, "out", position))
        return list(seen.values()), edges

    @v_args(meta=True)
    def join(self, meta: Any, children: list[Any]) -> tuple[Token, _Part, Token | None, int]:
        return children[1], children[3], children[4] if len(children) > 4 else None, \
            meta.start_pos

    def from_relationships(self, children: list[Any]) -> tuple[list[ast.Collection], list[Any]]:
        token = children[2] if len(children) > 2 else None
        c = ast.Collection(self._alias(token) if token else "", "relationship",
                           token is not None, _at(token) if token else _at(children[1]))
        return [c], []

    def from_match(self, children: list[Any]) -> tuple[list[ast.Collection], list[ast.Edge]]:
        return cast(tuple[list[ast.Collection], list[ast.Edge]], children[2])

    def match(self, children: list[Any]) -> tuple[list[ast.Collection], list[ast.Edge]]:
        items = children[1:]
        nodes: list[ast.Collection] = items[0::2]
        specs = items[1::2]
        seen: dict[str, ast.Collection] = {}
        by_alias: dict[str, ast.Collection] = {}
        for n in nodes:  # a node alias may repeat in a pattern: it is the same twin
            if n.alias in by_alias:
                continue
            by_alias[n.alias] = n
            self._declare(seen, n)
        edges: list[ast.Edge] = []
        for i, (direction, spec, position) in enumerate(specs):
            rel_token, names, lo, hi = spec
            alias = self._alias(rel_token) if rel_token else self._internal("r")
            edge = ast.Edge(nodes[i].alias, nodes[i + 1].alias, alias, names, lo, hi, direction,
                            position)
            if rel_token is not None:
                if not edge.single:
                    raise QueryError(
                        f"The relationship variable '{alias}' cannot be used with a variable "
                        f"number of hops (at position {_at(rel_token)})",
                        _at(rel_token))
            if edge.single:
                self._declare(seen, ast.Collection(
                    alias, "relationship", rel_token is not None,
                    _at(rel_token) if rel_token else position))
            edges.append(edge)
        return list(seen.values()), edges

    @v_args(meta=True)
    def node(self, meta: Any, children: list[Any]) -> ast.Collection:
        if children and children[0] is not None:
            return ast.Collection(self._alias(children[0]), "twin", True, _at(children[0]))
        return ast.Collection(self._internal("n"), "twin", False, meta.start_pos)

    def _edge(self, direction: str, meta: Any, children: list[Any]) -> tuple[str, Any, int]:
        return direction, children[1], meta.start_pos

    @v_args(meta=True)
    def edge_out(self, meta: Any, children: list[Any]) -> tuple[str, Any, int]:
        return self._edge("out", meta, children)

    @v_args(meta=True)
    def edge_in(self, meta: Any, children: list[Any]) -> tuple[str, Any, int]:
        return self._edge("in", meta, children)

    @v_args(meta=True)
    def edge_both(self, meta: Any, children: list[Any]) -> tuple[str, Any, int]:
        return self._edge("both", meta, children)

    def rel_spec(self, children: list[Any]) -> tuple[Token | None, tuple[str, ...], int, int]:
        alias, names, hops = children
        lo, hi = hops if hops is not None else (1, 1)
        return alias, tuple(names or ()), lo, hi

    def rel_names(self, children: list[Token]) -> tuple[str, ...]:
        return tuple(str(c) for c in children)

    def hops(self, children: list[Any]) -> tuple[int, int]:
        star, first, dots, last = children
        position = _at(star)
        if dots is None:  # *n exactly n hops; * alone: 1..MAX_HOPS
            lo = hi = int(first) if first is not None else None
            if lo is None:
                lo, hi = 1, ast.MAX_HOPS
        else:
            lo = int(first) if first is not None else 1
            hi = int(last) if last is not None else ast.MAX_HOPS
        assert hi is not None
        if lo < 1:
            raise QueryError(f"A MATCH edge needs at least 1 hop (at position {position})",
                             position)
        if hi < lo:
            raise QueryError(f"The hop range {lo}..{hi} is empty (at position {position})",
                             position)
        if hi > ast.MAX_HOPS:
            raise QueryError(f"A MATCH edge may span at most {ast.MAX_HOPS} hops, not {hi} "
                             f"(at position {position})", position)
        return lo, hi

    # SELECT ----------------------------------------------------------------------------------
    def select_clause(self, children: list[Any]) -> ast.Select:
        top = children[1] if len(children) > 2 else None
        select: ast.Select = children[-1]
        if top is not None:
            return ast.Select(select.kind, select.items, top)
        return select

    def top(self, children: list[Token]) -> int:
        n = int(children[1])
        if n < 1:
            raise QueryError(f"TOP needs a positive number (at position {_at(children[1])})",
                             _at(children[1]))
        return n

    def star(self, children: list[Any]) -> ast.Select:
        return ast.Select("star")

    def count(self, children: list[Any]) -> ast.Select:
        return ast.Select("count")

    def items(self, children: list[ast.SelectItem]) -> ast.Select:
        names: set[str] = set()
        for item in children:
            if item.name in names:
                raise QueryError(
                    f"Two projections are named '{item.name}'; give one a name with AS "
                    f"(at position {item.ref.position})", item.ref.position)
            names.add(item.name)
        return ast.Select("items", tuple(children))

    def select_item(self, children: list[Any]) -> ast.SelectItem:
        ref = self._resolve(children[0])
        if len(children) > 1 and children[2] is not None:
            return ast.SelectItem(ref, str(children[2]))
        return ast.SelectItem(ref, ref.path[-1] if ref.path else ref.alias)

    # WHERE -----------------------------------------------------------------------------------
    @v_args(meta=True)
    def path(self, meta: Any, children: list[Token]) -> _Part:
        return tuple(str(c) for c in children), meta.start_pos

    def _resolve(self, raw: _Part) -> ast.Ref:
        parts, position = raw
        if parts[0] in self.scope and parts[0] != "":
            return ast.Ref(parts[0], parts[1:], position)
        if not self.explicit and self.root is not None:
            return ast.Ref(self.root.alias, parts, position)
        known = ", ".join(a for a, c in self.scope.items() if c.named)
        raise QueryError(f"Unknown alias '{parts[0]}' at position {position}; the query "
                         f"declares {known}", position)

    def _operand(self, value: Any) -> ast.Operand:
        if isinstance(value, ast.Literal):
            return value
        return self._resolve(value)

    def literal(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        value: ast.Value
        if token.type == "STRING":
            value = _unquote(str(token))
        elif token.type == "NUMBER":
            text = str(token)
            value = float(text) if any(c in text for c in ".eE") else int(text)
            if isinstance(value, int) and abs(value) > 2**63 - 1:
                value = float(value)
            if not math.isfinite(value):
                raise QueryError(f"The number {text} is too large (at position "
                                 f"{_at(token)})", _at(token))
        else:
            value = {"TRUE": True, "FALSE": False, "NULL": None}[token.type]
        return ast.Literal(value, _at(token))

    def value_list(self, children: list[Any]) -> tuple[ast.Literal, ...]:
        return tuple(c for c in children if c is not None)

    def or_expr(self, children: list[Any]) -> ast.Or:
        return ast.Or(tuple(c for c in children if not isinstance(c, Token)))

    def and_expr(self, children: list[Any]) -> ast.And:
        return ast.And(tuple(c for c in children if not isinstance(c, Token)))

    def negation(self, children: list[Any]) -> ast.Not:
        return ast.Not(children[1])

    @v_args(meta=True)
    def comparison(self, meta: Any, children: list[Any]) -> ast.Comparison:
        left, op, right = self._operand(children[0]), str(children[1]), self._operand(children[2])
        for side in (left, right):
            if isinstance(side, ast.Ref) and not side.path:
                raise QueryError(f"Cannot compare the collection '{side.alias}'; compare one of "
                                 f"its properties (at position {side.position})", side.position)
        return ast.Comparison("!=" if op == "<>" else op, left, right, meta.start_pos)

    @v_args(meta=True)
    def in_list(self, meta: Any, children: list[Any]) -> ast.InList:
        return ast.InList(self._operand(children[0]), children[2], False, meta.start_pos)

    @v_args(meta=True)
    def nin_list(self, meta: Any, children: list[Any]) -> ast.InList:
        return ast.InList(self._operand(children[0]), children[2], True, meta.start_pos)

    @v_args(meta=True)
    def call(self, meta: Any, children: list[Any]) -> ast.Condition:
        name_token: Token = children[0]
        name = str(name_token).upper()
        args = [a for a in children[1:] if a is not None]
        position = meta.start_pos
        if name == "IS_OF_MODEL":
            return self._is_of_model(args, position)
        if name in _TYPE_CHECKS:
            if len(args) != 1:
                raise QueryError(f"{name} takes one argument, got {len(args)} (at position "
                                 f"{position})", position)
            return ast.TypeCheck(name, self._operand(args[0]), position)
        if name in _STRING_MATCHES:
            if len(args) != 2:
                raise QueryError(f"{name} takes two arguments, got {len(args)} (at position "
                                 f"{position})", position)
            text = args[1]
            if not isinstance(text, ast.Literal) or not isinstance(text.value, str):
                raise QueryError(f"The second argument of {name} must be a string constant "
                                 f"(at position {position})", position)
            return ast.StringMatch(name, self._operand(args[0]), text.value, position)
        raise QueryError(f"Unknown function '{name_token}' at position {position}; supported: "
                         "IS_OF_MODEL, IS_DEFINED, IS_NULL, IS_BOOL, IS_NUMBER, IS_STRING, "
                         "IS_PRIMITIVE, IS_OBJECT, STARTSWITH, ENDSWITH, CONTAINS", position)

    def _is_of_model(self, args: list[Any], position: int) -> ast.IsOfModel:
        exact = False
        if args and not isinstance(args[-1], ast.Literal):
            parts, _ = args[-1]
            if len(parts) == 1 and parts[0].lower() == "exact":
                exact = True
                args = args[:-1]
        if len(args) == 2:
            alias_arg, model = args
        elif len(args) == 1:
            alias_arg, model = None, args[0]
        else:
            raise QueryError("IS_OF_MODEL takes ([alias,] 'dtmi'[, exact]) (at position "
                             f"{position})", position)
        if not isinstance(model, ast.Literal) or not isinstance(model.value, str):
            raise QueryError(f"IS_OF_MODEL expects the model id as a string (at position "
                             f"{position})", position)
        if alias_arg is None:
            twins = [c for c in self.scope.values() if c.kind == "twin"]
            if not twins:
                raise QueryError(f"IS_OF_MODEL applies to twins, not relationships (at position "
                                 f"{position})", position)
            if len(twins) != 1:
                raise QueryError("IS_OF_MODEL needs a collection alias when the query has "
                                 f"several twin collections (at position {position})", position)
            alias = twins[0].alias
        else:
            if isinstance(alias_arg, ast.Literal) or len(alias_arg[0]) != 1:
                raise QueryError(f"The first argument of IS_OF_MODEL must be an alias (at "
                                 f"position {position})", position)
            ref = self._resolve(alias_arg)
            if ref.path:
                raise QueryError(f"Unknown alias '{alias_arg[0][0]}' in IS_OF_MODEL at position "
                                 f"{ref.position}", ref.position)
            if self.scope[ref.alias].kind != "twin":
                raise QueryError(f"IS_OF_MODEL applies to twins; '{ref.alias}' is a "
                                 f"relationship (at position {ref.position})", ref.position)
            alias = ref.alias
        return ast.IsOfModel(alias, model.value, exact, position)


def _check_edges(query: ast.Query) -> None:
    kinds: dict[str, Literal["twin", "relationship"]] = {c.alias: c.kind for c in query.collections}
    for e in query.edges:
        for alias in (e.source, e.target):
            if kinds.get(alias) != "twin":  # pragma: no cover - the builder guarantees it
                raise QueryError(f"'{alias}' is not a twin collection", e.position)


def iter_conditions(condition: ast.Condition | None) -> list[ast.Condition]:
    """Every condition in a tree, depth first (used to collect IS_OF_MODEL calls)."""
    if condition is None:
        return []
    out: list[ast.Condition] = [condition]
    if isinstance(condition, ast.And | ast.Or):
        for item in condition.items:
            out.extend(iter_conditions(item))
    elif isinstance(condition, ast.Not):
        out.extend(iter_conditions(condition.item))
    return out

