"""A first, small subset of the Azure Digital Twins query language.

Supported for now: ``SELECT * | TOP(n) * | COUNT() FROM DIGITALTWINS [alias]`` with an optional
``WHERE`` of one condition: ``[alias.]$dtId = 'id'`` or ``IS_OF_MODEL([alias,] 'dtmi'[, exact])``.
The full language (joins, MATCH, compiled to SQL) replaces this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from holotwin.errors import QueryError

__all__ = ["SimpleQuery", "parse_query"]

_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<proj>\*|TOP\s*\(\s*(?P<top>\d+)\s*\)\s*\*|COUNT\s*\(\s*\))\s+"
    r"FROM\s+DIGITALTWINS(?:\s+(?!WHERE\b)(?P<alias>[A-Za-z_]\w*))?\s*"
    r"(?:WHERE\s+(?P<where>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ID = re.compile(r"^(?:(?P<alias>[A-Za-z_]\w*)\.)?\$dtId\s*=\s*'(?P<id>(?:[^'\\]|\\.)*)'$", re.IGNORECASE)
_MODEL = re.compile(
    r"^IS_OF_MODEL\s*\(\s*(?:(?P<alias>[A-Za-z_]\w*)\s*,\s*)?'(?P<model>[^']+)'"
    r"\s*(?:,\s*(?P<exact>exact)\s*)?\)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SimpleQuery:
    count: bool = False
    top: int | None = None
    twin_id: str | None = None
    model_id: str | None = None
    exact: bool = False


def parse_query(text: object) -> SimpleQuery:
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The query is empty", 0)
    m = _SELECT.match(text)
    if m is None:
        raise QueryError(
            "holotwin supports only SELECT * | TOP(n) * | COUNT() FROM DIGITALTWINS [alias] "
            "[WHERE $dtId = '...' | IS_OF_MODEL('...')] for now",
            0,
        )
    alias = m.group("alias")
    q = SimpleQuery(count=m.group("proj").upper().startswith("COUNT"),
                    top=int(m.group("top")) if m.group("top") else None)
    where = m.group("where")
    if not where:
        return q
    position = m.start("where")
    for pattern in (_ID, _MODEL):
        w = pattern.match(where.strip())
        if w is None:
            continue
        if w.group("alias") and w.group("alias") != alias:
            raise QueryError(f"Unknown collection alias '{w.group('alias')}'", position)
        if pattern is _ID:
            return SimpleQuery(q.count, q.top, twin_id=w.group("id").replace("\\'", "'"))
        return SimpleQuery(q.count, q.top, model_id=w.group("model"), exact=bool(w.group("exact")))
    raise QueryError(
        "Unsupported WHERE clause; for now use $dtId = '...' or IS_OF_MODEL('...')", position
    )
