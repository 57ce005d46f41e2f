"""The typed syntax tree of a twin-graph query (frozen dataclasses, no parser dependency).

A :class:`Query` is what :func:`holotwin.query.parse_query` returns after names are resolved:
every property reference is a :class:`Ref` to a declared collection alias, JOINs and MATCH
patterns are both expressed as :class:`Edge` values between twin collections, and
``IS_OF_MODEL`` carries the model id (the service fills in ``model_ids`` with the model's
family before the store compiles the query to SQL).

Positions are 0-based character offsets into the query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as Lit

__all__ = [
    "And",
    "Collection",
    "Comparison",
    "Condition",
    "Edge",
    "InList",
    "IsOfModel",
    "Literal",
    "Not",
    "Operand",
    "Or",
    "Query",
    "Ref",
    "Select",
    "SelectItem",
    "StringMatch",
    "TypeCheck",
    "Value",
]

Value = str | int | float | bool | None

#: the highest hop count a MATCH edge may ask for
MAX_HOPS = 10


@dataclass(frozen=True)
class Literal:
    """A constant: string, number, boolean or null."""

    value: Value
    position: int


@dataclass(frozen=True)
class Ref:
    """``alias.path...``: the collection itself when ``path`` is empty, else a property in it."""

    alias: str
    path: tuple[str, ...]
    position: int


Operand = Literal | Ref


@dataclass(frozen=True)
class Comparison:
    """``left op right`` with ``op`` one of ``= != < <= > >=``; false when the types differ."""

    op: str
    left: Operand
    right: Operand
    position: int


@dataclass(frozen=True)
class InList:
    """``operand IN [...]`` (or ``NIN`` when ``negated``)."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool
    position: int


@dataclass(frozen=True)
class IsOfModel:
    """``IS_OF_MODEL([alias,] 'dtmi'[, exact])``; ``model_ids`` is the resolved set."""

    alias: str
    model: str
    exact: bool
    position: int
    model_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class TypeCheck:
    """``IS_DEFINED``, ``IS_NULL``, ``IS_BOOL``, ``IS_NUMBER``, ``IS_STRING``, ``IS_PRIMITIVE``
    or ``IS_OBJECT`` of an operand (``function`` holds the upper-case name)."""

    function: str
    operand: Operand
    position: int


@dataclass(frozen=True)
class StringMatch:
    """``STARTSWITH``, ``ENDSWITH`` or ``CONTAINS`` of a string operand and a string constant."""

    function: str
    operand: Operand
    text: str
    position: int


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InList | IsOfModel | TypeCheck | StringMatch | And | Or | Not


@dataclass(frozen=True)
class SelectItem:
    """One projected collection or property, returned under ``name``."""

    ref: Ref
    name: str


@dataclass(frozen=True)
class Select:
    """``kind`` is ``star`` (``*``), ``count`` (``COUNT()``) or ``items`` (projections)."""

    kind: Lit["star", "count", "items"]
    items: tuple[SelectItem, ...] = ()
    top: int | None = None


@dataclass(frozen=True)
class Collection:
    """A twin or relationship collection in the FROM clause, a JOIN or a MATCH pattern.

    ``named`` is False for collections the query did not name (the relationship of a JOIN
    without an alias, an anonymous MATCH node ``()``); they do not appear in ``SELECT *``.
    """

    alias: str
    kind: Lit["twin", "relationship"]
    named: bool
    position: int


@dataclass(frozen=True)
class Edge:
    """Relationships from twin ``source`` to twin ``target``.

    ``names`` empty means any relationship name. With ``min_hops == max_hops == 1`` the edge
    is one relationship, bound to the collection ``alias``; otherwise it is a path of
    ``min_hops..max_hops`` relationships that visits no twin twice, and ``alias`` is unused.
    ``direction`` is ``out`` (``->``), ``in`` (``<-``) or ``both`` (``-``).
    """

    source: str
    target: str
    alias: str
    names: tuple[str, ...]
    min_hops: int
    max_hops: int
    direction: Lit["out", "in", "both"]
    position: int

    @property
    def single(self) -> bool:
        return self.min_hops == 1 and self.max_hops == 1


@dataclass(frozen=True)
class Query:
    """A whole query. ``collections[0]`` is the FROM collection (or the first MATCH node)."""

    text: str
    select: Select
    collections: tuple[Collection, ...]
    edges: tuple[Edge, ...] = ()
    where: Condition | None = None

    def collection(self, alias: str) -> Collection:
        for c in self.collections:
            if c.alias == alias:
                return c
        raise KeyError(alias)
