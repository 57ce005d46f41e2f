"""Every construct of the query language end to end through the service, on SQLite and
PostgreSQL, against a small plant: lines contain machines (one a press, which extends machine),
lines feed each other in a ring."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.errors import InvalidInputError, QueryError
from holotwin.service import TwinService
from tests.conftest import LINE, MACHINE, PRESS, machine


@pytest.fixture
def plant(any_service: TwinService, plant_models: list[dict[str, Any]]) -> TwinService:
    s = any_service
    s.add_models(plant_models)
    for i in range(4):
        s.put_twin(f"m{i}", machine(
            f"S-{i}", speed=float(i), running=i % 2 == 0, mode="auto" if i < 2 else "manual",
            motor={"$metadata": {}, "rpm": 100.0 * i}))
    s.put_twin("p1", {"$metadata": {"$model": PRESS}, "serial": "P-1", "force": 5.0, "speed": 2})
    for name, label in (("l1", "one"), ("l2", "two"), ("l3", "three")):
        s.put_twin(name, {"$metadata": {"$model": LINE}, "name": label})
    for i, m in enumerate(["m0", "m1", "p1"]):
        s.put_relationship("l1", f"c{i}", {"$relationshipName": "contains", "$targetId": m,
                                           "position": i})
    s.put_relationship("l2", "c9", {"$relationshipName": "contains", "$targetId": "m2",
                                    "position": 9})
    s.put_relationship("l1", "f1", {"$relationshipName": "feeds", "$targetId": "l2"})
    s.put_relationship("l2", "f2", {"$relationshipName": "feeds", "$targetId": "l3"})
    s.put_relationship("l3", "f3", {"$relationshipName": "feeds", "$targetId": "l1"})
    return s


def ids(service: TwinService, text: str) -> list[str]:
    rows, token = service.query(text, page_size=1000)
    assert token is None
    return [r["$dtId"] for r in rows]


def rows(service: TwinService, text: str) -> list[dict[str, Any]]:
    out, token = service.query(text, page_size=1000)
    assert token is None
    return out


def test_select_star_returns_twin_documents_with_etags(plant: TwinService) -> None:
    (doc,) = rows(plant, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'm1'")
    assert doc == plant.get_twin("m1")
    assert ids(plant, "SELECT * FROM DIGITALTWINS") == [
        "l1", "l2", "l3", "m0", "m1", "m2", "m3", "p1"]


def test_is_of_model_follows_inheritance_unless_exact(plant: TwinService) -> None:
    assert ids(plant, f"SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('{MACHINE}')") == [
        "m0", "m1", "m2", "m3", "p1"]
    assert ids(plant, f"SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{MACHINE}', exact)"
               ) == ["m0", "m1", "m2", "m3"]
    assert ids(plant, f"SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = '{PRESS}'") == [
        "p1"]
    with pytest.raises(QueryError, match="Unknown model") as info:
        plant.query("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:no:Such;1')")
    assert info.value.position == 33


@pytest.mark.parametrize(("where", "expected"), [
    ("T.speed = 1", ["m1"]),
    ("T.speed != 1", ["m0", "m2", "m3", "p1"]),  # lines have no speed: not compared
    ("T.speed < 1", ["m0"]),
    ("T.speed <= 1", ["m0", "m1"]),
    ("T.speed > 2", ["m3"]),
    ("T.speed >= 2", ["m2", "m3", "p1"]),  # 2.0 and the integer 2 are equal numbers
    ("2 <= T.speed", ["m2", "m3", "p1"]),
    ("T.serial = 'S-2'", ["m2"]),
    ("T.serial > 'S-1'", ["m2", "m3"]),
    ("T.running = true", ["m0", "m2"]),
    ("T.running != true", ["m1", "m3"]),
    ("T.speed = '1'", []),  # mismatched types are false, not errors
    ("T.serial > 3", []),
    ("T.running = 1", []),
    ("NOT T.speed = '1'", ["l1", "l2", "l3", "m0", "m1", "m2", "m3", "p1"]),
    ("T.motor.rpm >= 200", ["m2", "m3"]),
    ("T.speed > 0 AND T.speed < 3", ["m1", "m2", "p1"]),
    ("T.speed = 0 OR T.name = 'two'", ["l2", "m0"]),
    ("NOT (T.speed = 0 OR IS_DEFINED(T.name))", ["m1", "m2", "m3", "p1"]),
    ("T.mode IN ['manual', 'x']", ["m2", "m3"]),
    ("T.speed IN [1, 3, 'x']", ["m1", "m3"]),
    ("T.mode NIN ['manual']", ["m0", "m1"]),
    ("T.$dtId IN ['m1', 'l2', 'zz']", ["l2", "m1"]),
    ("T.$dtId NIN ['m1', 'l2']", ["l1", "l3", "m0", "m2", "m3", "p1"]),
    ("T.$dtId > 'm2'", ["m3", "p1"]),
    ("T.speed = T.motor.rpm", ["m0"]),
    ("T.speed != T.motor.rpm", ["m1", "m2", "m3"]),
    ("IS_DEFINED(T.force)", ["p1"]),
    ("IS_DEFINED(T.motor)", ["m0", "m1", "m2", "m3", "p1"]),
    ("IS_NULL(T.speed)", []),
    ("IS_BOOL(T.running)", ["m0", "m1", "m2", "m3"]),
    ("IS_NUMBER(T.speed)", ["m0", "m1", "m2", "m3", "p1"]),
    ("IS_STRING(T.name)", ["l1", "l2", "l3"]),
    ("IS_STRING(T.$dtId) AND IS_STRING(T.speed)", []),
    ("IS_PRIMITIVE(T.motor)", []),
    ("IS_PRIMITIVE(T.mode)", ["m0", "m1", "m2", "m3"]),
    ("IS_OBJECT(T.motor)", ["m0", "m1", "m2", "m3", "p1"]),
    ("STARTSWITH(T.serial, 'S-')", ["m0", "m1", "m2", "m3"]),
    ("STARTSWITH(T.$dtId, 'l')", ["l1", "l2", "l3"]),
    ("ENDSWITH(T.name, 'e')", ["l1", "l3"]),
    ("CONTAINS(T.name, 'hr')", ["l3"]),
    ("CONTAINS(T.speed, '1')", []),
    ("startswith(T.name, '')", ["l1", "l2", "l3"]),
    ("'a' = 'a' AND T.$dtId = 'm0'", ["m0"]),
    ("1 = '1'", []),
])
def test_where_conditions(plant: TwinService, where: str, expected: list[str]) -> None:
    assert ids(plant, f"SELECT * FROM DIGITALTWINS T WHERE {where}") == expected


def test_projections_aliases_top_and_count(plant: TwinService) -> None:
    out = rows(plant, "SELECT T.serial, T.motor.rpm AS rpm, T.$dtId AS id, T.nothing "
                      "FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Machine;1', exact) "
                      "AND T.speed >= 2")
    assert out == [{"serial": "S-2", "rpm": 200.0, "id": "m2"},
                   {"serial": "S-3", "rpm": 300.0, "id": "m3"}]  # undefined: left out
    (whole,) = rows(plant, "SELECT T, T.$etag FROM DIGITALTWINS T WHERE T.$dtId = 'l1'")
    assert whole == {"T": plant.get_twin("l1"), "$etag": plant.get_twin("l1")["$etag"]}
    assert ids(plant, "SELECT TOP(2) * FROM DIGITALTWINS T WHERE IS_DEFINED(T.serial)") == [
        "m0", "m1"]
    assert rows(plant, "SELECT COUNT() FROM DIGITALTWINS") == [{"COUNT": 8}]
    assert rows(plant, "SELECT COUNT() FROM DIGITALTWINS T WHERE T.speed > 0") == [{"COUNT": 4}]
    assert rows(plant, "SELECT TOP(3) COUNT() FROM DIGITALTWINS") == [{"COUNT": 3}]
    assert rows(plant, "SELECT COUNT() FROM RELATIONSHIPS") == [{"COUNT": 7}]


def test_relationship_collection(plant: TwinService) -> None:
    out = rows(plant, "SELECT * FROM RELATIONSHIPS R WHERE R.$relationshipName = 'contains' "
                      "AND R.position >= 1")
    assert [(r["$sourceId"], r["$relationshipId"], r["$targetId"]) for r in out] == [
        ("l1", "c1", "m1"), ("l1", "c2", "p1"), ("l2", "c9", "m2")]
    assert out[0] == plant.get_relationship("l1", "c1")
    assert rows(plant, "SELECT R.$targetId FROM RELATIONSHIPS R WHERE R.$sourceId = 'l2'") == [
        {"$targetId": "m2"}, {"$targetId": "l3"}]


def test_join_returns_rows_keyed_by_alias(plant: TwinService) -> None:
    out = rows(plant, "SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains "
                      "WHERE T.$dtId = 'l1'")
    assert [(r["T"]["$dtId"], r["CT"]["$dtId"]) for r in out] == [
        ("l1", "m0"), ("l1", "m1"), ("l1", "p1")]
    assert out[0]["CT"] == plant.get_twin("m0")


def test_join_with_relationship_alias_in_where_and_select(plant: TwinService) -> None:
    out = rows(plant, "SELECT L.$dtId AS line, M.serial, R.position, R FROM DIGITALTWINS L "
                      "JOIN M RELATED L.contains R WHERE R.position >= 1 AND "
                      f"IS_OF_MODEL(M, '{MACHINE}')")
    assert [(r["line"], r["serial"], r["position"]) for r in out] == [
        ("l1", "S-1", 1), ("l1", "P-1", 2), ("l2", "S-2", 9)]
    assert out[0]["R"] == plant.get_relationship("l1", "c1")


def test_chained_joins(plant: TwinService) -> None:
    out = rows(plant, "SELECT A.name AS a, B.name AS b, M.serial AS m FROM DIGITALTWINS A "
                      "JOIN B RELATED A.feeds JOIN M RELATED B.contains WHERE A.$dtId = 'l1'")
    assert out == [{"a": "one", "b": "two", "m": "S-2"}]
    three = rows(plant, "SELECT A.$dtId AS a, C.$dtId AS c FROM DIGITALTWINS A JOIN B RELATED "
                        "A.feeds JOIN C RELATED B.feeds JOIN D RELATED C.feeds")
    assert three == [{"a": "l1", "c": "l3"}, {"a": "l2", "c": "l1"}, {"a": "l3", "c": "l2"}]


def pairs(service: TwinService, pattern: str, where: str = "") -> list[tuple[str, str]]:
    text = f"SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS MATCH {pattern} {where}"
    return [(r["a"], r["b"]) for r in rows(service, text)]


def test_match_variable_hops(plant: TwinService) -> None:
    assert pairs(plant, "(a)-[:feeds*1..3]->(b)", "WHERE a.$dtId = 'l1'") == [
        ("l1", "l2"), ("l1", "l3")]  # the ring never comes back to l1: no twin twice
    assert pairs(plant, "(a)-[:feeds*2]->(b)", "WHERE a.$dtId = 'l1'") == [("l1", "l3")]
    assert pairs(plant, "(a)-[:feeds|contains*2]->(b)", "WHERE a.$dtId = 'l1'") == [
        ("l1", "l3"), ("l1", "m2")]
    # anchored at the far end only: walked backwards
    assert pairs(plant, "(a)-[:feeds|contains*1..2]->(b)", "WHERE b.$dtId = 'm2'") == [
        ("l1", "m2"), ("l2", "m2")]
    assert pairs(plant, "(a)<-[:contains]-(b)", "WHERE a.$dtId IN ['m0', 'm2']") == [
        ("m0", "l1"), ("m2", "l2")]


def test_match_without_an_anchor(plant: TwinService) -> None:
    assert pairs(plant, "(a)-[:feeds*2]->(b)") == [("l1", "l3"), ("l2", "l1"), ("l3", "l2")]
    assert pairs(plant, "(a)-[:contains]->(b)",
                 f"WHERE IS_OF_MODEL(b, '{PRESS}')") == [("l1", "p1")]


def test_match_undirected_and_any_name(plant: TwinService) -> None:
    assert pairs(plant, "(a)-[*..2]-(b)", "WHERE a.$dtId = 'm0'") == [
        ("m0", "l1"), ("m0", "l2"), ("m0", "l3"), ("m0", "m1"), ("m0", "p1")]
    assert pairs(plant, "(a)-[]-(b)", "WHERE a.$dtId = 'l2'") == [
        ("l2", "l1"), ("l2", "l3"), ("l2", "m2")]


def test_match_relationship_variable_and_chains(plant: TwinService) -> None:
    out = rows(plant, "SELECT a.$dtId AS a, r.position AS p, m.serial FROM DIGITALTWINS "
                      "MATCH (a)-[r:contains]->(m) WHERE r.position > 0")
    assert out == [{"a": "l1", "p": 1, "serial": "S-1"}, {"a": "l1", "p": 2, "serial": "P-1"},
                   {"a": "l2", "p": 9, "serial": "S-2"}]
    chain = rows(plant, "SELECT a.$dtId AS a, c.$dtId AS c FROM DIGITALTWINS "
                        "MATCH (a)-[:feeds]->()-[:contains]->(c) WHERE a.$dtId = 'l1'")
    assert chain == [{"a": "l1", "c": "m2"}]
    (star,) = rows(plant, "SELECT * FROM DIGITALTWINS MATCH (a)-[r:feeds]->(b) "
                          "WHERE a.$dtId = 'l3'")
    assert set(star) == {"a", "r", "b"} and star["b"]["$dtId"] == "l1"


def test_paging_with_continuation_tokens(plant: TwinService) -> None:
    text = "SELECT * FROM DIGITALTWINS"
    seen: list[str] = []
    page, token = plant.query(text, page_size=3)
    sizes = [len(page)]
    seen += [r["$dtId"] for r in page]
    while token:
        page, token = plant.query(text, token, page_size=3)
        sizes.append(len(page))
        seen += [r["$dtId"] for r in page]
    assert sizes == [3, 3, 2] and seen == ids(plant, text)
    # an exact multiple of the page size ends without an empty extra page
    page, token = plant.query("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'l')",
                              page_size=3)
    assert len(page) == 3 and token is None


def test_paging_joins_and_top(plant: TwinService) -> None:
    text = "SELECT A, B FROM DIGITALTWINS MATCH (a)-[:feeds|contains*1..3]->(b)".replace(
        "A, B", "a.$dtId AS a, b.$dtId AS b")
    everything = rows(plant, text)
    pages: list[dict[str, Any]] = []
    page, token = plant.query(text, page_size=4)
    pages += page
    while token:
        page, token = plant.query(text, token, page_size=4)
        pages += page
    assert pages == everything and len(everything) > 8
    top = "SELECT TOP(5) * FROM DIGITALTWINS"
    first, token = plant.query(top, page_size=3)
    assert token is not None
    second, token = plant.query(top, token, page_size=3)
    assert len(first) == 3 and len(second) == 2 and token is None


def test_foreign_and_garbage_tokens_are_refused(plant: TwinService) -> None:
    _, token = plant.query("SELECT * FROM DIGITALTWINS", page_size=2)
    assert token is not None
    with pytest.raises(InvalidInputError, match="different query"):
        plant.query("SELECT * FROM DIGITALTWINS T", token, page_size=2)
    for garbage in ("%%%", "abc", "eyJ2IjoxfQ", "eyJ2IjoxLCJxIjoiMSIsImsiOlsxXSwibiI6MH0"):
        with pytest.raises(InvalidInputError, match="continuation token"):
            plant.query("SELECT * FROM DIGITALTWINS", garbage)
    with pytest.raises(InvalidInputError, match="page size"):
        plant.query("SELECT * FROM DIGITALTWINS", page_size=0)


def test_values_are_bound_never_interpolated(plant: TwinService) -> None:
    hostile = "x' OR '1'='1"
    assert ids(plant, f"SELECT * FROM DIGITALTWINS T WHERE T.$dtId = \"{hostile}\"") == []
    assert ids(plant, f"SELECT * FROM DIGITALTWINS T WHERE T.name = \"{hostile}\"") == []
    assert ids(plant, "SELECT * FROM DIGITALTWINS T WHERE CONTAINS(T.name, '%')") == []
