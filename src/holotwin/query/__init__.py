"""The twin-graph query language: the common subset of the Azure Digital Twins query language.

:func:`parse_query` turns text into a typed :class:`~holotwin.query.ast.Query`; stores compile
that to SQL (``holotwin.store.querysql``) and the service pages through the results.
"""

from __future__ import annotations

from holotwin.query import ast
from holotwin.query.ast import Query
from holotwin.query.parser import iter_conditions, parse_query

__all__ = ["Query", "ast", "iter_conditions", "parse_query"]
