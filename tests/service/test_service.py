"""The application service end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from holotwin.clock import ManualClock, from_iso
from holotwin.errors import (
    ConflictError,
    InvalidInputError,
    ModelError,
    NotFoundError,
    PreconditionFailedError,
    PropertyValueError,
    QueryError,
)
from holotwin.service import TwinService
from tests.conftest import LINE, MACHINE, MOTOR, PRESS, machine


@pytest.fixture
def plant(any_service: TwinService, plant_models: list[dict[str, Any]]) -> TwinService:
    any_service.add_models(plant_models)
    return any_service


def test_models_lifecycle(any_service: TwinService, plant_models: list[dict[str, Any]]) -> None:
    records = any_service.add_models(plant_models)
    assert [r.id for r in records] == [MOTOR, MACHINE, PRESS, LINE]
    with pytest.raises(ConflictError):
        any_service.add_models([plant_models[0]])
    deps = [m.id for m in any_service.list_models(dependencies_for=[PRESS])]
    assert set(deps) == {MOTOR, MACHINE, PRESS}
    any_service.decommission_model(PRESS)
    assert any_service.get_model(PRESS).decommissioned
    with pytest.raises(InvalidInputError, match="decommissioned"):
        any_service.put_twin("p", {"$metadata": {"$model": PRESS}})
    with pytest.raises(ConflictError):
        any_service.delete_model(MACHINE)  # PRESS extends it
    any_service.delete_model(PRESS)
    with pytest.raises(NotFoundError):
        any_service.get_model(PRESS)
    # models survive a restart of the service on the same store
    again = TwinService(any_service.store, any_service.clock)
    assert [m.id for m in again.list_models()] == [MOTOR, MACHINE, LINE]


def test_bad_model_batch_is_atomic(any_service: TwinService, plant_models: list[dict[str, Any]]) -> None:
    bad = [*plant_models, {"@id": "not a dtmi", "@type": "Interface", "@context": "dtmi:dtdl:context;3"}]
    with pytest.raises(ModelError):
        any_service.add_models(bad)
    assert any_service.list_models() == []
    assert any_service.store.list_models() == []


def test_twin_crud_with_etags_and_revisions(plant: TwinService, clock: ManualClock) -> None:
    created = plant.put_twin("m1", machine(speed=1.0), if_none_match="*")
    assert created.created and created.document["$metadata"]["$revision"] == 1
    etag = created.document["$etag"]
    with pytest.raises(PreconditionFailedError):
        plant.put_twin("m1", machine(), if_none_match="*")
    clock.advance(5)
    doc = plant.patch_twin("m1", [{"op": "replace", "path": "/speed", "value": 2.0}], if_match=etag)
    assert doc["$etag"] != etag and doc["$metadata"]["$revision"] == 2
    with pytest.raises(PreconditionFailedError):
        plant.patch_twin("m1", [{"op": "replace", "path": "/speed", "value": 3.0}], if_match=etag)
    assert plant.get_twin("m1")["speed"] == 2.0
    same = plant.patch_twin("m1", [{"op": "replace", "path": "/speed", "value": 2.0}])
    assert same["$etag"] == doc["$etag"]  # a no-op patch changes nothing
    with pytest.raises(PropertyValueError):
        plant.patch_twin("m1", [{"op": "replace", "path": "/speed", "value": "x"}])
    with pytest.raises(NotFoundError):
        plant.patch_twin("nope", [])
    plant.delete_twin("m1", if_match="*")
    with pytest.raises(NotFoundError):
        plant.get_twin("m1")
    again = plant.put_twin("m1", machine())
    assert again.document["$metadata"]["$revision"] == 4  # revisions never go back


def test_relationships_follow_the_model(plant: TwinService) -> None:
    plant.put_twin("line", {"$metadata": {"$model": LINE}, "name": "L1"})
    plant.put_twin("line2", {"$metadata": {"$model": LINE}})
    plant.put_twin("m1", machine())
    plant.put_twin("p1", {"$metadata": {"$model": PRESS}})
    r = plant.put_relationship("line", "c1", {"$relationshipName": "contains", "$targetId": "m1",
                                              "position": 1})
    assert r.created and r.document["$sourceId"] == "line" and r.document["$etag"]
    plant.put_relationship("line", "c2", {"$relationshipName": "contains", "$targetId": "p1"})
    with pytest.raises(InvalidInputError, match="must target twins of model"):
        plant.put_relationship("line", "x", {"$relationshipName": "contains", "$targetId": "line2"})
    with pytest.raises(InvalidInputError, match="declares no relationship"):
        plant.put_relationship("line", "x", {"$relationshipName": "owns", "$targetId": "m1"})
    with pytest.raises(InvalidInputError, match="does not exist"):
        plant.put_relationship("line", "x", {"$relationshipName": "contains", "$targetId": "zz"})
    with pytest.raises(PropertyValueError):
        plant.put_relationship("line", "x", {"$relationshipName": "contains", "$targetId": "m1",
                                             "position": "first"})
    plant.put_relationship("line", "f1", {"$relationshipName": "feeds", "$targetId": "line2"})
    with pytest.raises(ConflictError, match="maxMultiplicity"):
        plant.put_relationship("line", "f2", {"$relationshipName": "feeds", "$targetId": "line2"})
    assert [d["$relationshipId"] for d in plant.list_relationships("line")] == ["c1", "c2", "f1"]
    assert [d["$sourceId"] for d in plant.list_incoming("m1")] == ["line"]
    patched = plant.patch_relationship("line", "c1", [{"op": "replace", "path": "/position",
                                                        "value": 7}])
    assert plant.get_relationship("line", "c1")["position"] == 7
    with pytest.raises(PreconditionFailedError):
        plant.delete_relationship("line", "c1", if_match='W/"stale"')
    with pytest.raises(ConflictError, match="relationships"):
        plant.delete_twin("m1")
    plant.delete_relationship("line", "c1", if_match=patched["$etag"])
    plant.delete_twin("m1")


def test_components(plant: TwinService) -> None:
    plant.put_twin("m1", machine())
    doc = plant.patch_component("m1", "motor", [{"op": "add", "path": "/rpm", "value": 1450.0}])
    assert doc["motor"]["rpm"] == 1450.0
    assert plant.get_component("m1", "motor")["rpm"] == 1450.0
    with pytest.raises(NotFoundError):
        plant.get_component("m1", "gearbox")


def test_history_and_as_of(plant: TwinService, clock: ManualClock) -> None:
    t0 = clock.now()
    plant.put_twin("m1", machine(speed=1.0))
    clock.advance(10)
    plant.merge_patch_twin("m1", {"speed": 2.0})
    clock.advance(10)
    plant.merge_patch_twin("m1", {"speed": 3.0})
    assert plant.twin_at("m1", t0 + 5)["speed"] == 1.0
    assert plant.twin_at("m1", t0 + 10)["speed"] == 2.0
    assert plant.twin_at("m1", t0 + 100)["speed"] == 3.0
    with pytest.raises(NotFoundError, match="did not exist"):
        plant.twin_at("m1", t0 - 1)
    history = plant.twin_history("m1")
    assert [e.revision for e in history] == [1, 2, 3]
    assert history[1].data["changed"] == ["/speed"]


def test_telemetry_history_and_dedup(plant: TwinService, clock: ManualClock) -> None:
    plant.put_twin("m1", machine())
    t0 = clock.now()
    for i in range(30):
        n = plant.publish_telemetry("m1", {"temperature": 20.0 + i}, message_id=f"m{i}",
                                    source_time=t0 + i)
        assert n == 1
    assert plant.publish_telemetry("m1", {"temperature": 99.0}, source_time=t0) == 0  # redelivery
    points = plant.telemetry_history("m1", "temperature", t0, t0 + 30)
    assert [p.value for p in points][:3] == [20.0, 21.0, 22.0] and len(points) == 30
    buckets = plant.telemetry_aggregate("m1", "temperature", t0, t0 + 30, 10)
    assert [(b.min, b.max, b.last) for b in buckets] == [(20.0, 29.0, 29.0), (30.0, 39.0, 39.0),
                                                         (40.0, 49.0, 49.0)]
    with pytest.raises(PropertyValueError, match="temperature"):
        plant.publish_telemetry("m1", {"temperature": "hot"})
    with pytest.raises(NotFoundError):
        plant.publish_telemetry("zz", {"temperature": 1.0})
    plant.publish_telemetry("m1", {"current": 3.2}, component="motor", source_time=t0)
    latest = {p.signal: p.value for p in plant.latest_telemetry("m1")}
    assert latest == {"temperature": 49.0, "motor/current": 3.2}
    twin = plant.get_twin("m1", with_telemetry=True)
    assert twin["$metadata"]["$telemetry"]["temperature"]["value"] == 49.0
    assert from_iso(twin["$metadata"]["$telemetry"]["temperature"]["sourceTime"]) == t0 + 29


def test_change_feed_events_and_filters(plant: TwinService) -> None:
    seen: list[int] = []
    plant.add_listener(seen.append)
    start = plant.last_event_seq()
    plant.put_twin("m1", machine())
    plant.put_twin("line", {"$metadata": {"$model": LINE}})
    plant.put_twin("p1", {"$metadata": {"$model": PRESS}})
    plant.publish_telemetry("m1", {"temperature": 1.0})
    plant.put_relationship("line", "r", {"$relationshipName": "contains", "$targetId": "m1"})
    events = plant.read_events(after=start)
    assert [e.kind for e in events] == ["twin.created", "twin.created", "twin.created",
                                        "telemetry", "relationship.created"]
    assert seen == [e.seq for e in events]
    assert [e.twin_id for e in plant.read_events(after=start, model_id=MACHINE)] == [
        "m1", "p1", "m1"]  # PRESS extends MACHINE
    assert [e.kind for e in plant.read_events(after=start, twin_ids=["m1"], kinds=["telemetry"])] == [
        "telemetry"]


def test_simple_queries(plant: TwinService) -> None:
    for i in range(5):
        plant.put_twin(f"m{i}", machine())
    plant.put_twin("p1", {"$metadata": {"$model": PRESS}})
    rows, token = plant.query("SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'm3'")
    assert [r["$dtId"] for r in rows] == ["m3"] and token is None
    rows, token = plant.query("SELECT * FROM DIGITALTWINS", page_size=4)
    assert len(rows) == 4 and token
    more, token2 = plant.query("SELECT * FROM DIGITALTWINS", token, page_size=4)
    assert [r["$dtId"] for r in more] == ["m4", "p1"] and token2 is None
    assert plant.query(f"SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('{MACHINE}')")[0] == [
        {"COUNT": 6}]
    assert plant.query(f"SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('{MACHINE}', exact)")[
        0] == [{"COUNT": 5}]
    with pytest.raises(QueryError):
        plant.query("SELECT * FROM RELATIONSHIPS R JOIN x")


def test_concurrent_writers_with_the_same_etag_one_wins(plant: TwinService) -> None:
    """Optimistic concurrency holds under real concurrency: of N patches sent with the same
    If-Match etag exactly one succeeds, and N creates with If-None-Match: * create once."""
    import threading

    etag = plant.put_twin("m1", machine(speed=0.0)).document["$etag"]
    outcomes: list[str] = []
    lock = threading.Lock()

    def patch(i: int) -> None:
        try:
            plant.patch_twin("m1", [{"op": "replace", "path": "/speed", "value": float(i + 1)}],
                             if_match=etag)
            result = "ok"
        except PreconditionFailedError:
            result = "412"
        with lock:
            outcomes.append(result)

    def create(i: int) -> None:
        try:
            plant.put_twin("new", machine(serial=str(i)), if_none_match="*")
            result = "ok"
        except PreconditionFailedError:
            result = "412"
        with lock:
            outcomes.append(result)

    for target in (patch, create):
        outcomes.clear()
        threads = [threading.Thread(target=target, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["412"] * 7 + ["ok"], target.__name__
    assert plant.get_twin("m1")["$metadata"]["$revision"] == 2


def test_redelivered_message_in_a_mixed_batch_gets_no_second_event(plant: TwinService) -> None:
    """A message delivered twice is stored once and counted once in the change feed, even when
    the redelivery arrives in a batch together with new messages."""
    from holotwin.store import TelemetryPoint

    plant.put_twin("m1", machine())
    plant.put_twin("m2", machine())
    models = {"m1": MACHINE, "m2": MACHINE}

    def reading(t: float, twin: str = "m1") -> TelemetryPoint:
        return TelemetryPoint(twin, "temperature", t, t)

    start = plant.last_event_seq()
    assert plant.write_telemetry([reading(1.0)], models) == 1
    assert plant.write_telemetry([reading(1.0), reading(2.0), reading(3.0, "m2")], models) == 2
    assert plant.write_telemetry([reading(1.0), reading(3.0, "m2")], models) == 0
    events = plant.read_events(after=start, kinds=["telemetry"])
    assert [(e.twin_id, e.data["readings"], e.data["values"]) for e in events] == [
        ("m1", 1, {"temperature": 1.0}), ("m1", 1, {"temperature": 2.0}),
        ("m2", 1, {"temperature": 3.0})]
    with pytest.raises(InvalidInputError, match="one twin"):
        plant.write_telemetry([reading(5.0), reading(5.0, "m2")], models, event_data={})
