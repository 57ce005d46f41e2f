"""The store contract: every Store implementation must pass these (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from holotwin.store import (
    ApiKeyRecord,
    DeadLetter,
    ModelRecord,
    Store,
    TelemetryPoint,
    TwinRecord,
)
from holotwin.twins import NewEvent
from tests.conftest import reopen


def twin(id: str, model: str = "dtmi:x:M;1", revision: int = 1) -> TwinRecord:
    return TwinRecord(id, model, f'W/"{id}-{revision}"', revision,
                      {"$dtId": id, "$metadata": {"$model": model}, "n": revision}, 10.0 + revision)


def rel(src: str, id: str, dst: str, name: str = "contains") -> dict[str, object]:
    return {"$relationshipId": id, "$sourceId": src, "$targetId": dst,
            "$relationshipName": name, "$etag": f'W/"{id}"'}


def test_models_round_trip_in_upload_order(store: Store) -> None:
    store.put_models([ModelRecord("dtmi:b;1", {"@id": "dtmi:b;1"}, 1.0)])
    store.put_models([ModelRecord("dtmi:a;1", {"@id": "dtmi:a;1", "x": [1]}, 2.0)])
    assert [m.id for m in store.list_models()] == ["dtmi:b;1", "dtmi:a;1"]
    store.set_model_decommissioned("dtmi:a;1", True)
    assert store.list_models()[1].decommissioned is True
    assert store.list_models()[1].document == {"@id": "dtmi:a;1", "x": [1]}
    store.delete_model("dtmi:b;1")
    assert [m.id for m in store.list_models()] == ["dtmi:a;1"]


def test_twin_put_get_list_delete(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_twin(twin("b"))
        tx.put_twin(twin("a", model="dtmi:x:N;1"))
        tx.put_twin(twin("c"))
    assert store.get_twin("a") == twin("a", model="dtmi:x:N;1")
    assert store.get_twin("zz") is None
    assert [t.id for t in store.list_twins()] == ["a", "b", "c"]
    assert [t.id for t in store.list_twins(model_ids=["dtmi:x:M;1"])] == ["b", "c"]
    assert [t.id for t in store.list_twins(after="a", limit=1)] == ["b"]
    assert store.list_twins(model_ids=[]) == []
    assert store.count_twins() == 3
    with store.transaction() as tx:
        tx.put_twin(twin("b", revision=2))
        tx.delete_twin("c")
    assert store.get_twin("b").revision == 2  # type: ignore[union-attr]
    assert store.count_twins() == 2


def test_twin_models_in_one_call(store: Store) -> None:
    with store.transaction() as tx:
        for i in range(1200):  # more than one chunk of the IN list
            tx.put_twin(twin(f"t{i}", model=f"dtmi:x:M{i % 3};1"))
    wanted = {f"t{i}" for i in range(0, 1200, 2)} | {"ghost", "t99999"}
    found = store.twin_models(wanted)
    assert found == {f"t{i}": f"dtmi:x:M{i % 3};1" for i in range(0, 1200, 2)}
    assert store.twin_models([]) == {}


def test_failed_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_twin(twin("a"))
        tx.append_events([NewEvent("twin.created", 1.0, "a", "dtmi:x:M;1")])
        raise RuntimeError("boom")
    assert store.get_twin("a") is None
    assert store.last_event_seq() == 0


def test_relationships(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_relationship(rel("line", "r2", "m2"))
        tx.put_relationship(rel("line", "r1", "m1"))
        tx.put_relationship(rel("line", "r3", "line2", name="feeds"))
        tx.put_relationship(rel("other", "r1", "m1"))
        assert tx.count_relationships("line", "contains") == 2
        assert tx.has_relationships("m1") and tx.has_relationships("line")
        assert not tx.has_relationships("nobody")
    assert [r["$relationshipId"] for r in store.list_relationships("line")] == ["r1", "r2", "r3"]
    assert [r["$relationshipId"] for r in store.list_relationships("line", "feeds")] == ["r3"]
    assert [(r["$sourceId"], r["$relationshipId"]) for r in store.list_incoming("m1")] == [
        ("line", "r1"), ("other", "r1")]
    assert store.get_relationship("line", "r1") == rel("line", "r1", "m1")
    with store.transaction() as tx:
        tx.delete_relationship("line", "r1")
        assert tx.get_relationship("line", "r1") is None
    assert store.get_relationship("line", "r1") is None


def test_events_are_numbered_in_order_and_filterable(store: Store) -> None:
    with store.transaction() as tx:
        seqs = tx.append_events([
            NewEvent("twin.created", 1.0, "a", "dtmi:x:M;1", {"twin": {"n": 1}}, 1),
            NewEvent("telemetry", 2.0, "b", "dtmi:x:N;1", {"values": {"t": 1}}),
        ])
    with store.transaction() as tx:
        seqs += tx.append_events([NewEvent("twin.updated", 3.0, "a", "dtmi:x:M;1", {}, 2)])
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert store.last_event_seq() == seqs[-1]
    assert [e.seq for e in store.read_events()] == seqs
    assert [e.kind for e in store.read_events(after=seqs[0])] == ["telemetry", "twin.updated"]
    assert [e.seq for e in store.read_events(twin_ids=["a"])] == [seqs[0], seqs[2]]
    assert [e.twin_id for e in store.read_events(model_ids=["dtmi:x:N;1"])] == ["b"]
    assert [e.kind for e in store.read_events(kinds=["telemetry"])] == ["telemetry"]
    assert len(store.read_events(limit=2)) == 2
    first = store.read_events()[0]
    assert first.data == {"twin": {"n": 1}} and first.revision == 1 and first.time == 1.0


def test_twin_history_and_as_of(store: Store) -> None:
    with store.transaction() as tx:
        tx.append_events([
            NewEvent("twin.created", 10.0, "a", "m", {"twin": {"v": 1}}, 1),
            NewEvent("telemetry", 15.0, "a", "m", {}),
            NewEvent("twin.updated", 20.0, "a", "m", {"twin": {"v": 2}}, 2),
            NewEvent("twin.updated", 30.0, "b", "m", {"twin": {"v": 9}}, 1),
        ])
    assert [e.revision for e in store.twin_history("a")] == [1, 2]
    assert [e.revision for e in store.twin_history("a", start=11.0)] == [2]
    assert [e.revision for e in store.twin_history("a", end=20.0)] == [1]
    assert [e.revision for e in store.twin_history("a", limit=1, newest_first=True)] == [2]
    assert [e.revision for e in store.twin_history("a", newest_first=True)] == [2, 1]
    assert store.twin_event_at("a", 5.0) is None
    assert store.twin_event_at("a", 19.9).data == {"twin": {"v": 1}}  # type: ignore[union-attr]
    assert store.twin_event_at("a", 20.0).revision == 2  # type: ignore[union-attr]


def test_telemetry_dedup_range_latest(store: Store) -> None:
    points = [TelemetryPoint("a", "t", float(i), float(i * 2)) for i in range(10)]
    points.append(TelemetryPoint("a", "status", 3.0, None, {"state": "ok"}))
    with store.transaction() as tx:
        assert tx.insert_telemetry(points) == 11
    with store.transaction() as tx:  # a redelivery must not double anything
        assert tx.insert_telemetry([*points[:5], TelemetryPoint("a", "t", 10.0, 20.0)]) == 1
    got = store.telemetry_range("a", "t", 2.0, 5.0)
    assert [(p.time, p.value) for p in got] == [(2.0, 4.0), (3.0, 6.0), (4.0, 8.0)]
    assert len(store.telemetry_range("a", "t", 0.0, 100.0, limit=4)) == 4
    latest = {p.signal: p for p in store.latest_telemetry("a")}
    assert latest["t"].time == 10.0 and latest["t"].value == 20.0
    assert latest["status"].raw == {"state": "ok"} and latest["status"].value is None
    with store.transaction() as tx:  # an older reading arriving late does not move "latest"
        tx.insert_telemetry([TelemetryPoint("a", "t", 0.5, -1.0)])
    assert {p.signal: p for p in store.latest_telemetry("a")}["t"].time == 10.0


def test_telemetry_bulk_path(store: Store) -> None:
    points = [TelemetryPoint(f"tw{i % 7}", "x", float(i), float(i)) for i in range(3000)]
    with store.transaction() as tx:
        assert tx.insert_telemetry(points) == 3000
    with store.transaction() as tx:
        assert tx.insert_telemetry(points) == 0
    assert len(store.telemetry_range("tw0", "x", 0.0, 1e9, limit=100000)) == len(range(0, 3000, 7))


def test_telemetry_buckets(store: Store) -> None:
    values = [5.0, 1.0, 3.0, 10.0, 20.0, 7.0]
    times = [100.0, 101.0, 109.9, 110.0, 115.0, 131.0]
    with store.transaction() as tx:
        tx.insert_telemetry([TelemetryPoint("a", "t", t, v) for t, v in zip(times, values, strict=False)])
        tx.insert_telemetry([TelemetryPoint("a", "s", 105.0, None, "text")])
    buckets = store.telemetry_buckets("a", "t", 100.0, 140.0, 10.0)
    assert [(b.start, b.count, b.min, b.max, b.last) for b in buckets] == [
        (100.0, 3, 1.0, 5.0, 3.0), (110.0, 2, 10.0, 20.0, 20.0), (130.0, 1, 7.0, 7.0, 7.0)]
    assert buckets[0].mean == pytest.approx(3.0)
    assert store.telemetry_buckets("a", "s", 100.0, 140.0, 10.0) == []


def test_api_keys(store: Store) -> None:
    rec = ApiKeyRecord("k1", "ci", "write", "abc", 5.0)
    store.put_api_key(rec)
    assert store.get_api_key("k1") == rec
    assert store.list_api_keys() == [rec]
    assert store.delete_api_key("k1") is True
    assert store.delete_api_key("k1") is False
    assert store.get_api_key("k1") is None


def test_bulk_event_append_numbers_every_event_once(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.append_events([NewEvent("telemetry", 1.0, "a", "m", {"i": -1})])
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append_events([NewEvent("telemetry", 1.0, "a", "m", {"lost": True})] * 5)
        raise RuntimeError("roll back")
    with store.transaction() as tx:
        bulk = tx.append_events([NewEvent("telemetry", 2.0, f"t{i}", "m", {"i": i})
                                 for i in range(1000)])
    assert len(bulk) == 1000 and bulk == sorted(set(bulk)) and bulk[0] > first[0]
    events = store.read_events(after=first[0], limit=2000)
    assert [e.seq for e in events] == bulk
    assert [e.data for e in events] == [{"i": i} for i in range(1000)]
    assert [e.twin_id for e in events[:3]] == ["t0", "t1", "t2"]
    assert store.last_event_seq() == bulk[-1]


def test_concurrent_event_writers_keep_order(store: Store) -> None:
    """Events from concurrent writers are read back complete, in strictly increasing seq."""

    def write(n: int) -> None:
        for i in range(20):
            with store.transaction() as tx:
                tx.append_events([NewEvent("telemetry", float(i), f"w{n}", "m", {"i": i})])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e.seq for e in store.read_events(limit=1000)]
    assert len(seqs) == 80 and seqs == sorted(seqs)


def _letter(n: int, **kw: object) -> DeadLetter:
    fields: dict[str, object] = {"time": 100.0 + n, "source": "broker", "topic": f"t/{n}",
                                 "payload": f'{{"n": {n}}}', "stage": "decode",
                                 "reason": f"reason {n}"}
    fields.update(kw)
    return DeadLetter(**fields)  # type: ignore[arg-type]


def test_dead_letters_round_trip_and_page(store: Store) -> None:
    assert store.count_dead_letters() == 0
    assert store.list_dead_letters() == []
    store.put_dead_letters([_letter(1), _letter(2, payload="/w==", encoding="base64")])
    store.put_dead_letters([])
    with store.transaction() as tx:
        tx.put_dead_letters([_letter(3, stage="validate", reason="unknown twin 'x' ü")])
    assert store.count_dead_letters() == 3
    letters = store.list_dead_letters()
    ids = [d.id for d in letters]
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] > 0
    assert letters[0] == _letter(1, id=ids[0])
    assert (letters[1].payload, letters[1].encoding) == ("/w==", "base64")
    assert letters[2].reason == "unknown twin 'x' ü" and letters[2].stage == "validate"
    assert [d.id for d in store.list_dead_letters(after_id=ids[0], limit=1)] == [ids[1]]
    assert store.list_dead_letters(after_id=ids[2]) == []


def test_dead_letters_roll_back_with_their_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_dead_letters([_letter(1)])
        raise RuntimeError("boom")
    assert store.count_dead_letters() == 0


def test_insert_telemetry_flags_tell_new_from_stored(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.insert_telemetry_flags([TelemetryPoint("a", "t", 1.0, 1.0)]) == [True]
        assert tx.insert_telemetry_flags([]) == []
    batch = [
        TelemetryPoint("a", "t", 1.0, 9.0),   # stored before
        TelemetryPoint("a", "t", 2.0, 2.0),   # new
        TelemetryPoint("a", "t", 2.0, 2.5),   # repeated within the batch
        TelemetryPoint("b", "t", 1.0, 3.0),   # new (other twin, same time)
    ]
    with store.transaction() as tx:
        assert tx.insert_telemetry_flags(batch) == [False, True, False, True]
    got = {(p.twin_id, p.time): p.value for p in store.telemetry_range("a", "t", 0, 10)}
    assert got == {("a", 1.0): 1.0, ("a", 2.0): 2.0}  # the first value of a key wins
    assert [p.value for p in store.telemetry_range("b", "t", 0, 10)] == [3.0]
    latest = {p.signal: p for p in store.latest_telemetry("a")}
    assert latest["t"].time == 2.0 and latest["t"].value == 2.0


def test_insert_telemetry_flags_on_the_bulk_path(store: Store) -> None:
    """Batches big enough for the bulk (COPY) path: new keys, stored keys and keys repeated
    within the batch are told apart, and nothing of a batch is lost when some keys repeat."""
    first = [TelemetryPoint("a", "t", float(i), float(i)) for i in range(0, 2000, 2)]
    with store.transaction() as tx:
        assert tx.insert_telemetry_flags(first) == [True] * 1000
    mixed = [TelemetryPoint("a", "t", float(i), -1.0) for i in range(1000, 2200)]
    mixed.append(TelemetryPoint("a", "t", 2100.0, 5.0))
    with store.transaction() as tx:
        flags = tx.insert_telemetry_flags(mixed)
    expected = [i >= 2000 or i % 2 == 1 for i in range(1000, 2200)] + [False]
    assert flags == expected
    stored = {p.time: p.value for p in store.telemetry_range("a", "t", 0, 1e9, limit=10000)}
    assert len(stored) == 1000 + 500 + 200
    assert stored[1000.0] == 1000.0 and stored[1001.0] == -1.0 and stored[2100.0] == -1.0


def test_documents_round_trip_by_kind_and_key(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_document("binding", "dtmi:x:M;1", {"behavior": "b", "n": [1, 2.5]}, 1.0)
        tx.put_document("binding", "dtmi:x:A;1", {"behavior": "a"}, 1.0)
        tx.put_document("estimate", "dtmi:x:M;1", {"t": 3.0}, 2.0)
    assert store.get_document("binding", "dtmi:x:M;1") == {"behavior": "b", "n": [1, 2.5]}
    assert store.get_document("binding", "nope") is None
    assert list(store.list_documents("binding")) == ["dtmi:x:A;1", "dtmi:x:M;1"]
    assert store.list_documents("binding", ["dtmi:x:M;1", "x"]) == {
        "dtmi:x:M;1": {"behavior": "b", "n": [1, 2.5]}}
    assert store.list_documents("binding", []) == {}
    with store.transaction() as tx:
        tx.put_document("binding", "dtmi:x:M;1", {"behavior": "c"}, 3.0)
        tx.put_document("binding", "dtmi:x:A;1", None, 3.0)
    assert store.list_documents("binding") == {"dtmi:x:M;1": {"behavior": "c"}}
    assert store.get_document("estimate", "dtmi:x:M;1") == {"t": 3.0}
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.put_document("binding", "dtmi:x:Z;1", {"lost": True}, 4.0)
        raise RuntimeError("roll back")
    assert store.get_document("binding", "dtmi:x:Z;1") is None
    with store.transaction() as tx:  # an update replaces, and never creates
        assert tx.update_document("binding", "dtmi:x:M;1", {"behavior": "d"}, 5.0)
        assert not tx.update_document("binding", "dtmi:x:A;1", {"behavior": "e"}, 5.0)
    assert store.list_documents("binding") == {"dtmi:x:M;1": {"behavior": "d"}}


def test_compare_and_set_document(store: Store) -> None:
    lease = {"holder": "a", "expires": 15.5}
    with store.transaction() as tx:
        assert tx.compare_and_set_document("lease", "x", None, None, 1.0)  # none, none wanted
        assert tx.compare_and_set_document("lease", "x", None, lease, 1.0)  # created
        assert not tx.compare_and_set_document("lease", "x", None, {"holder": "b"}, 1.0)
        assert not tx.compare_and_set_document("lease", "x", None, None, 1.0)
    assert store.get_document("lease", "x") == lease
    with store.transaction() as tx:
        assert not tx.compare_and_set_document("lease", "x", {"holder": "b"}, {"n": 1}, 2.0)
        assert not tx.compare_and_set_document("lease", "y", lease, {"n": 1}, 2.0)
        # equal as JSON: key order does not matter
        assert tx.compare_and_set_document("lease", "x", {"expires": 15.5, "holder": "a"},
                                           {"holder": "a", "expires": 30.0}, 2.0)
    assert store.get_document("lease", "x") == {"holder": "a", "expires": 30.0}
    with store.transaction() as tx:
        assert not tx.compare_and_set_document("lease", "x", lease, None, 3.0)
        assert tx.compare_and_set_document("lease", "x", {"holder": "a", "expires": 30.0},
                                           None, 3.0)
    assert store.get_document("lease", "x") is None
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.compare_and_set_document("lease", "x", None, lease, 4.0)
        raise RuntimeError("roll back")
    assert store.get_document("lease", "x") is None


def test_compare_and_set_document_has_one_winner(store: Store) -> None:
    """Four writers (two on another store object: another server) race from the same
    expected document, ten times: one wins each time."""
    other = reopen(store)
    barrier = threading.Barrier(4)
    wins: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def take(n: int) -> None:
        try:
            for round_ in range(10):
                expected = None if round_ == 0 else {"round": round_ - 1}
                barrier.wait(10)
                with (store if n % 2 else other).transaction() as tx:
                    if tx.compare_and_set_document("lease", "x", expected, {"round": round_},
                                                   1.0):
                        wins.append((round_, n))
                barrier.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.close()
    assert not errors
    assert sorted(r for r, _ in wins) == list(range(10))  # exactly one winner a round
    assert store.get_document("lease", "x") == {"round": 9}


def test_a_write_interrupted_inside_its_transaction_does_not_block_the_next(
    tmp_path: Path,
) -> None:
    """Ctrl-C can land between BEGIN and COMMIT; the next write must still work (and the
    interrupted one must not have committed)."""
    from holotwin.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "s.db")
    try:
        with pytest.raises(KeyboardInterrupt), store.transaction() as tx:
            tx.put_twin(twin("lost"))
            raise KeyboardInterrupt
        store._conn.execute("BEGIN IMMEDIATE")  # as if interrupted right after BEGIN
        with store.transaction() as tx:
            tx.put_twin(twin("kept"))
        assert [t.id for t in store.list_twins()] == ["kept"]
    finally:
        store.close()
