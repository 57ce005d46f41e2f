"""Running a twin-graph query for the service: model families and continuation tokens.

The language itself lives in :mod:`holotwin.query` (parser and AST) and the stores compile it
to SQL (:mod:`holotwin.store.querysql`). Here the service resolves ``IS_OF_MODEL`` to the
model and every model extending it (or the model alone with ``exact``) and pages the
results. A continuation token is opaque to clients: URL-safe base64 of JSON holding the
keyset cursor of the last row sent, how many rows were sent (for ``TOP``) and a hash of the
query text, so a token presented with another query is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from holotwin.errors import InvalidInputError, NotFoundError, QueryError
from holotwin.query import ast, parse_query
from holotwin.store.base import Store

__all__ = ["resolve_models", "run_query"]

_TOKEN_VERSION = 1
#: the largest page a caller may ask for
MAX_PAGE_SIZE = 1000


def resolve_models(query: ast.Query, family: Callable[[str], set[str]]) -> ast.Query:
    """Fill in ``model_ids`` of every ``IS_OF_MODEL`` (``family`` raises NotFoundError for an
    unknown model, which becomes a :class:`QueryError` at the call's position)."""

    def visit(c: ast.Condition) -> ast.Condition:
        if isinstance(c, ast.IsOfModel):
            try:
                ids = family(c.model)
            except NotFoundError:
                raise QueryError(f"Unknown model '{c.model}' in IS_OF_MODEL at position "
                                 f"{c.position}", c.position) from None
            return dataclasses.replace(
                c, model_ids=frozenset({c.model} if c.exact else ids))
        if isinstance(c, ast.And):
            return ast.And(tuple(visit(i) for i in c.items))
        if isinstance(c, ast.Or):
            return ast.Or(tuple(visit(i) for i in c.items))
        if isinstance(c, ast.Not):
            return ast.Not(visit(c.item))
        return c

    if query.where is None:
        return query
    return dataclasses.replace(query, where=visit(query.where))


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _encode(query: ast.Query, cursor: list[Any], sent: int) -> str:
    state = {"v": _TOKEN_VERSION, "q": _fingerprint(query.text), "k": cursor, "n": sent}
    raw = json.dumps(state, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(query: ast.Query, token: str) -> tuple[list[Any], int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
        version, fingerprint, cursor, sent = state["v"], state["q"], state["k"], state["n"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError("Invalid continuation token") from None
    if version != _TOKEN_VERSION or not isinstance(cursor, list) or not isinstance(sent, int) \
            or not all(isinstance(k, str) for k in cursor):
        raise InvalidInputError("Invalid continuation token")
    if fingerprint != _fingerprint(query.text):
        raise InvalidInputError(
            "The continuation token belongs to a different query; send it with the query "
            "text that returned it")
    return cursor, sent


def run_query(
    store: Store,
    family: Callable[[str], set[str]],
    text: object,
    continuation: str | None = None,
    page_size: int = 100,
) -> tuple[list[dict[str, Any]], str | None]:
    """Parse, resolve and run a query; return one page and the next page's token (or None)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"The page size must be between 1 and {MAX_PAGE_SIZE}, "
                                f"not {page_size}")
    query = resolve_models(parse_query(text), family)
    if query.select.kind == "count":
        if continuation:
            raise InvalidInputError("A COUNT() query has no further pages")
        return store.query(query).rows, None
    after: list[Any] | None = None
    sent = 0
    if continuation:
        after, sent = _decode(query, continuation)
    top = query.select.top
    limit = page_size if top is None else min(page_size, top - sent)
    if limit <= 0:
        return [], None
    page = store.query(query, after, limit)
    sent += len(page.rows)
    if page.cursor is None or (top is not None and sent >= top):
        return page.rows, None
    return page.rows, _encode(query, page.cursor, sent)
