"""The parser: the AST it builds and the errors it reports (no store needed)."""

from __future__ import annotations

import pytest

from holotwin.errors import QueryError
from holotwin.query import ast, parse_query


def test_select_star_with_alias_and_conditions() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'm1' AND NOT T.motor.rpm >= -2.5"
                    " OR IS_OF_MODEL(T, 'dtmi:x;1', exact)")
    assert q.select == ast.Select("star")
    assert q.collections == (ast.Collection("T", "twin", True, 27),)
    assert isinstance(q.where, ast.Or)
    first, model = q.where.items
    assert isinstance(first, ast.And) and isinstance(model, ast.IsOfModel)
    assert first.items[0] == ast.Comparison("=", ast.Ref("T", ("$dtId",), 35),
                                            ast.Literal("m1", 45), 35)
    negated = first.items[1]
    assert isinstance(negated, ast.Not) and isinstance(negated.item, ast.Comparison)
    assert negated.item.left == ast.Ref("T", ("motor", "rpm"), 58)
    assert negated.item.right == ast.Literal(-2.5, 73)
    assert (model.alias, model.model, model.exact) == ("T", "dtmi:x;1", True)


def test_keywords_are_case_insensitive_and_bare_paths_need_no_alias() -> None:
    q = parse_query("select top(3) $dtId, motor.rpm as r from digitaltwins where name in ['a', 1]")
    assert q.select.top == 3
    assert [(i.ref.path, i.name) for i in q.select.items] == [(("$dtId",), "$dtId"),
                                                             (("motor", "rpm"), "r")]
    assert isinstance(q.where, ast.InList) and [v.value for v in q.where.values] == ["a", 1]


def test_joins_become_edges_with_relationship_collections() -> None:
    q = parse_query("SELECT T, CT, R FROM DIGITALTWINS T JOIN CT RELATED T.contains R "
                    "JOIN X RELATED CT.feeds")
    assert [(c.alias, c.kind, c.named) for c in q.collections] == [
        ("T", "twin", True), ("CT", "twin", True), ("R", "relationship", True),
        ("X", "twin", True), (" r1", "relationship", False)]
    assert [(e.source, e.target, e.alias, e.names) for e in q.edges] == [
        ("T", "CT", "R", ("contains",)), ("CT", "X", " r1", ("feeds",))]


@pytest.mark.parametrize(("pattern", "names", "hops", "direction"), [
    ("(a)-[:rel*1..3]->(b)", ("rel",), (1, 3), "out"),
    ("(a)<-[:x|y]-(b)", ("x", "y"), (1, 1), "in"),
    ("(a)-[*..3]-(b)", (), (1, 3), "both"),
    ("(a)-[*2]->(b)", (), (2, 2), "out"),
    ("(a)-[*]->(b)", (), (1, ast.MAX_HOPS), "out"),
    ("(a)-[]-(b)", (), (1, 1), "both"),
])
def test_match_edges(pattern: str, names: tuple[str, ...], hops: tuple[int, int],
                     direction: str) -> None:
    q = parse_query(f"SELECT a, b FROM DIGITALTWINS MATCH {pattern}")
    (edge,) = q.edges
    assert (edge.names, (edge.min_hops, edge.max_hops), edge.direction) == (
        names, hops, direction)


def test_match_relationship_variable_and_anonymous_nodes() -> None:
    q = parse_query("SELECT a, r FROM DIGITALTWINS MATCH (a)-[r:contains]->()-[:x]->(c)")
    named = {c.alias: c.kind for c in q.collections if c.named}
    assert named == {"a": "twin", "r": "relationship", "c": "twin"}
    assert len(q.collections) == 5  # plus the anonymous node and the unnamed relationship


@pytest.mark.parametrize(("text", "position", "words"), [
    ("SELECT * FORM DIGITALTWINS", 9, "Expected FROM after the SELECT list at position 9, "
                                      "found 'FORM'"),
    ("SELEC * FROM DIGITALTWINS", 0, "Expected SELECT"),
    ("SELECT * FROM DIGITALTWINS WHERE", 32, "found the end of the query"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = #", 41, "found '#'"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 1 AND", 46, "in the WHERE condition"),
    ("SELECT * FROM DIGITALTWINS T WHERE X.a = 1", 35, "Unknown alias 'X'"),
    ("SELECT X.a FROM DIGITALTWINS T", 7, "Unknown alias 'X'"),
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED X.contains", 44, "Unknown twin alias 'X'"),
    ("SELECT * FROM DIGITALTWINS T JOIN T RELATED T.contains", 34, "declared twice"),
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T", 44, "alias.relationshipName"),
    ("SELECT * FROM DIGITALTWINS T ORDER BY T.x", 29, "ORDER is not supported"),
    ("SELECT * FROM RELATIONSHIPS R JOIN C RELATED R.x", 30, "JOIN needs FROM DIGITALTWINS"),
    ("SELECT * FROM DIGITALTWINS T WHERE LOWER(T.x)", 35, "Unknown function 'LOWER'"),
    ("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.x, T.y)", 35, "string constant"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_DEFINED(T.x, T.y)", 35, "takes one argument"),
    ("SELECT * FROM DIGITALTWINS T WHERE T = 'x'", 35, "Cannot compare the collection"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T.x, 'dtmi:a;1')", 35, "must be an alias"),
    ("SELECT * FROM DIGITALTWINS A JOIN B RELATED A.r WHERE IS_OF_MODEL('dtmi:a;1')", 54,
     "needs a collection alias"),
    ("SELECT * FROM RELATIONSHIPS WHERE IS_OF_MODEL('dtmi:a;1')", 34, "applies to twins"),
    ("SELECT T.x, T.x FROM DIGITALTWINS T", 12, "Two projections are named 'x'"),
    ("SELECT TOP(0) * FROM DIGITALTWINS", 11, "positive"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[r:x*1..2]->(b)", 38, "variable number of hops"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*3..2]->(b)", 38, "empty"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*0..2]->(b)", 38, "at least 1 hop"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*1..11]->(b)", 38, "at most 10 hops"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[:x]>(b)", 41, "Expected '-' or '->'"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 1e999", 41, "too large"),
    ("   ", 0, "empty"),
])
def test_errors_name_the_position_and_what_was_expected(text: str, position: int,
                                                        words: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(text)
    assert info.value.position == position, str(info.value)
    assert words in str(info.value)


def test_non_string_and_huge_queries_are_refused() -> None:
    with pytest.raises(QueryError):
        parse_query(42)
    with pytest.raises(QueryError, match="longer"):
        parse_query("SELECT * FROM DIGITALTWINS WHERE " + " OR ".join(["x = 1"] * 2000))


def test_string_escapes() -> None:
    q = parse_query(r"SELECT * FROM DIGITALTWINS WHERE name = 'it\'s' OR name = " + '"a\\"b"')
    assert isinstance(q.where, ast.Or)
    values = [c.right.value for c in q.where.items if isinstance(c, ast.Comparison)
              and isinstance(c.right, ast.Literal)]
    assert values == ["it's", 'a"b']
