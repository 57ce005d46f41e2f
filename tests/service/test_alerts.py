"""Rules, anomaly detectors and alerts on live readings (the analytics engine), both stores."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from holotwin.clock import ManualClock, from_iso
from holotwin.errors import ConflictError, InvalidInputError, NotFoundError
from holotwin.service import TwinService
from holotwin.service.alerts import ALERT
from holotwin.service.analytics import AnalyticsEngine
from tests.conftest import reopen

OVEN = "dtmi:test:Oven;1"
T0 = 1_700_000_000.0
MODELS: list[dict[str, Any]] = [
    {"@id": OVEN, "@type": "Interface", "@context": "dtmi:dtdl:context;3", "contents": [
        {"@type": "Property", "name": "status", "schema": "string"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"},
        {"@type": "Telemetry", "name": "pressure", "schema": "double"}]},
]


@pytest.fixture
def ovens(any_service: TwinService) -> TwinService:
    any_service.add_models(MODELS)
    for name in ("oven-1", "oven-2"):
        any_service.put_twin(name, {"$metadata": {"$model": OVEN}, "status": "on"})
    return any_service


def feed(service: TwinService, twin: str, values: list[float], t0: float,
         signal: str = "temperature", dt: float = 1.0) -> None:
    for k, v in enumerate(values):
        service.publish_telemetry(twin, {signal: v}, source_time=t0 + k * dt)


def alerts(service: TwinService, **query: Any) -> list[dict[str, Any]]:
    return service.list_alerts(**query)


def test_hysteresis_durations_and_de_duplication(ovens: TwinService) -> None:
    ovens.put_rule("hot", {"condition": "temperature > 80", "clear": "temperature < 75",
                           "for": 5, "clearFor": 3, "model": OVEN, "severity": "critical",
                           "message": "{temperature:.1f} C"})
    engine = AnalyticsEngine(ovens)
    engine.run_once()  # nothing stored yet
    # 81 for 4 s is not yet 5 s: no alert
    feed(ovens, "oven-1", [70, 81, 82, 83, 84, 85], T0)
    engine.run_once()
    assert alerts(ovens) == []
    # a dip below 80 resets the duration; then 6 s above raises at t = 12 (since t = 7)
    feed(ovens, "oven-1", [79, 81, 81, 81, 81, 81, 90], T0 + 6)
    engine.run_once()
    [alert] = alerts(ovens)
    assert alert["state"] == "raised" and alert["severity"] == "critical"
    assert from_iso(alert["raisedAt"]) == T0 + 12 and from_iso(alert["since"]) == T0 + 7
    assert alert["message"] == "90.0 C" and alert["values"] == {"temperature": 90.0}
    # inside the hysteresis band (75..80): still open; back above 80 counts an occurrence,
    # no second alert (de-duplication)
    feed(ovens, "oven-1", [78, 77, 85, 76], T0 + 13)
    engine.run_once()
    [alert] = alerts(ovens)
    assert alert["state"] == "raised" and alert["occurrences"] == 2
    # below 75 for less than clearFor (3 s) does not clear; 3 s does
    feed(ovens, "oven-1", [74, 74, 76, 74, 74, 74, 74], T0 + 17)
    engine.run_once()
    [alert] = alerts(ovens)
    assert alert["state"] == "cleared" and from_iso(alert["clearedAt"]) == T0 + 23
    kinds = [e.kind for e in ovens.read_events(kinds=["alert.raised", "alert.cleared"])]
    assert kinds == ["alert.raised", "alert.cleared"]
    # the other oven was never hot; a new excursion raises a new alert
    feed(ovens, "oven-1", [95] * 6, T0 + 30)
    engine.run_once()
    assert [a["state"] for a in alerts(ovens)] == ["raised", "cleared"]
    assert alerts(ovens, twin_id="oven-2") == []


def test_acknowledge_manual_clear_and_lifecycle_errors(ovens: TwinService) -> None:
    ovens.put_rule("hot", {"condition": "temperature > 80", "twins": ["oven-2"]})
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-2", [70, 90], T0)
    engine.run_once()
    [alert] = alerts(ovens, state="open")
    acked = ovens.acknowledge_alert(alert["id"], "ann", "on it")
    assert acked["state"] == "acknowledged" and acked["acknowledgedBy"] == "ann"
    assert acked["note"] == "on it"
    # the engine keeps the acknowledgement while the condition stays true
    feed(ovens, "oven-2", [91, 92], T0 + 2)
    engine.run_once()
    assert ovens.get_alert(alert["id"])["state"] == "acknowledged"
    feed(ovens, "oven-2", [60], T0 + 4)
    engine.run_once()
    assert ovens.get_alert(alert["id"])["state"] == "cleared"
    with pytest.raises(ConflictError):
        ovens.acknowledge_alert(alert["id"])
    with pytest.raises(NotFoundError):
        ovens.acknowledge_alert("nope")
    # cleared by hand while still hot: the rule raises a fresh alert at the next reading
    feed(ovens, "oven-2", [95], T0 + 5)
    engine.run_once()
    [fresh] = alerts(ovens, state="open")
    ovens.clear_alert(fresh["id"], "bob")
    assert ovens.get_alert(fresh["id"])["clearedBy"] == "bob"
    feed(ovens, "oven-2", [96], T0 + 6)
    engine.run_once()
    assert len(alerts(ovens, state="open")) == 1 and len(alerts(ovens)) == 3
    kinds = [e.kind for e in ovens.read_events(kinds=["alert.raised", "alert.acknowledged",
                                                      "alert.cleared"])]
    assert kinds == ["alert.raised", "alert.acknowledged", "alert.cleared", "alert.raised",
                     "alert.cleared", "alert.raised"]
    # deleting the rule clears what it left open
    ovens.delete_rule("hot")
    assert alerts(ovens, state="open") == []


def racing_read(service: TwinService, other: Any, when: Any, change: dict[str, Any]) -> Any:
    """The service's get_document, where reading an alert for which ``when(doc)`` holds lets
    another server (``other``, a second store object) change it first: a race made certain."""
    read = service.store.get_document

    def get_document(kind: str, key: str) -> Any:
        doc = read(kind, key)
        if kind == ALERT and doc is not None and when(doc):
            with other.transaction() as tx:
                tx.put_document(ALERT, key, {**doc, **change}, T0)
        return doc

    return get_document


def test_an_acknowledge_elsewhere_while_the_engine_updates_the_alert_is_kept(
    ovens: TwinService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = reopen(ovens.store)
    try:
        ovens.put_rule("hot", {"condition": "temperature > 80", "clear": "temperature < 75",
                               "twins": ["oven-1"]})
        engine = AnalyticsEngine(ovens)
        feed(ovens, "oven-1", [70, 90], T0)
        engine.run_once()
        [alert] = alerts(ovens, state="open")
        feed(ovens, "oven-1", [78, 85], T0 + 2)  # back over 80: a second occurrence
        # another server acknowledges it between the engine's read and its write
        monkeypatch.setattr(ovens.store, "get_document", racing_read(
            ovens, other, lambda doc: doc["state"] == "raised",
            {"state": "acknowledged", "acknowledgedBy": "ann"}))
        with pytest.raises(ConflictError):
            engine.run_once()  # nothing written
        monkeypatch.undo()
        engine.failed()  # as the engine's thread does before it retries
        engine.run_once()
        got = ovens.get_alert(alert["id"])
        assert (got["state"], got.get("acknowledgedBy"), got["occurrences"]) == (
            "acknowledged", "ann", 2)
    finally:
        other.close()


def test_an_acknowledge_while_the_engine_elsewhere_updates_the_alert_keeps_both(
    ovens: TwinService, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = reopen(ovens.store)
    try:
        ovens.put_rule("hot", {"condition": "temperature > 80", "twins": ["oven-1"]})
        feed(ovens, "oven-1", [70, 90], T0)
        AnalyticsEngine(ovens).run_once()
        [alert] = alerts(ovens, state="open")
        # the engine of another server counts an occurrence between the read and the write
        monkeypatch.setattr(ovens.store, "get_document", racing_read(
            ovens, other, lambda doc: doc["occurrences"] == 1, {"occurrences": 2}))
        acked = ovens.acknowledge_alert(alert["id"], "ann")
        monkeypatch.undo()
        got = ovens.get_alert(alert["id"])
        assert got == acked
        assert (got["state"], got["acknowledgedBy"], got["occurrences"]) == (
            "acknowledged", "ann", 2)
        assert [e.kind for e in ovens.read_events(kinds=["alert.acknowledged"])] == [
            "alert.acknowledged"]
    finally:
        other.close()


def test_a_duration_on_a_property_moves_on_with_other_readings(ovens: TwinService) -> None:
    ovens.put_rule("stopped", {"condition": "status == 'fault'", "for": 30, "model": OVEN})
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-1", [20.0], T0)
    engine.run_once()
    ovens.report_properties("oven-1", {"status": ("fault", T0 + 1)})
    feed(ovens, "oven-1", [20.0] * 10, T0 + 2, signal="pressure", dt=3.0)  # to T0 + 29
    engine.run_once()
    assert alerts(ovens) == []
    feed(ovens, "oven-1", [20.0], T0 + 31, signal="pressure")
    engine.run_once()
    [alert] = alerts(ovens)
    assert from_iso(alert["since"]) == T0 + 1 and from_iso(alert["raisedAt"]) == T0 + 31


def test_rate_of_change_and_properties(ovens: TwinService) -> None:
    ovens.put_rule("heating-fast", {"condition": "rate(temperature, 10) > 2 and status == 'on'",
                                    "model": OVEN})
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-1", [20, 21, 22, 23, 24, 25], T0)  # 1 K/s
    engine.run_once()
    assert alerts(ovens) == []
    feed(ovens, "oven-2", [20, 23, 26, 29], T0)  # 3 K/s
    engine.run_once()
    assert [a["twinId"] for a in alerts(ovens)] == ["oven-2"]
    # a property in the condition: once the oven reports off, the condition is false
    ovens.report_properties("oven-2", {"status": ("off", T0 + 4)})
    feed(ovens, "oven-2", [32], T0 + 4)
    engine.run_once()
    assert alerts(ovens)[0]["state"] == "cleared"


def test_detectors_score_every_reading_once_across_restarts(ovens: TwinService) -> None:
    rng = np.random.default_rng(3)
    readings = (20 + rng.standard_normal(400)).tolist()
    readings[300] = 40.0  # a spike
    ovens.put_detector("temp", {"signal": "temperature", "model": OVEN,
                                "detector": {"kind": "robust-z", "window": 50}})
    ovens.put_rule("temp-anomaly", {"condition": "anomaly.temp.flag == 1", "model": OVEN,
                                    "clear": "anomaly.temp < 0.5"})
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-1", readings[:200], T0)
    engine.run_once()
    # a new engine (a restart) relearns from the stored history and goes on
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-1", readings[200:], T0 + 200)
    engine.run_once()
    scores = ovens.telemetry_history("oven-1", "anomaly.temp", T0, T0 + 1000)
    flags = ovens.telemetry_history("oven-1", "anomaly.temp.flag", T0, T0 + 1000)
    assert [p.time for p in scores] == [T0 + k for k in range(400)]
    assert [p.time for p in flags] == [T0 + k for k in range(400)]
    flagged = [p.time - T0 for p in flags if p.value == 1.0]
    assert 300 in flagged and len(flagged) <= 3
    # the scores equal those of one detector fed everything at once
    from holotwin.analytics.detectors import make_detector
    once = make_detector({"kind": "robust-z", "window": 50}).update(np.array(readings))
    np.testing.assert_allclose([p.value for p in scores], once)
    [alert] = alerts(ovens)
    assert alert["rule"] == "temp-anomaly" and from_iso(alert["raisedAt"]) == T0 + 300
    assert alert["state"] == "cleared"
    # scores are derived readings: no score of a score
    assert all(not p.signal.startswith("anomaly.anomaly") for p in
               ovens.latest_telemetry("oven-1"))


def test_bad_rules_detectors_and_sinks_are_refused(ovens: TwinService) -> None:
    bad_rules = [
        ({"condition": "__import__('os').system('x')", "model": OVEN}, "calls"),
        ({"condition": "temperature.__class__ > 1", "model": OVEN}, "attribute"),
        ({"condition": "temperature >", "model": OVEN}, "not valid"),
        ({"condition": "[x for x in y]", "model": OVEN}, "ListComp"),
        ({"condition": "temperature > 1"}, "'model'"),
        ({"condition": "temperature > 1", "model": OVEN, "for": -1}, "'for'"),
        ({"condition": "temperature > 1", "model": OVEN, "severity": "huge"}, "severity"),
        ({"condition": "temperature > 1", "model": OVEN, "colour": 1}, "colour"),
        ({"condition": "rate(1 + 2) > 0", "model": OVEN}, "first argument"),
    ]
    for doc, words in bad_rules:
        with pytest.raises(InvalidInputError, match=words):
            ovens.put_rule("r", doc)
    with pytest.raises(NotFoundError):
        ovens.put_rule("r", {"condition": "x > 1", "model": "dtmi:test:Nope;1"})
    with pytest.raises(InvalidInputError, match="id"):
        ovens.put_rule("a/b", {"condition": "x > 1", "model": OVEN})
    with pytest.raises(InvalidInputError, match="signal"):
        ovens.put_detector("d", {"signal": "anomaly.x", "model": OVEN})
    with pytest.raises(InvalidInputError, match="kind"):
        ovens.put_detector("d", {"signal": "temperature", "model": OVEN,
                                 "detector": {"kind": "magic"}})
    with pytest.raises(InvalidInputError, match="url"):
        ovens.put_alert_sink("s", {"type": "webhook", "url": "ftp://x"})
    with pytest.raises(InvalidInputError, match="attempts"):
        ovens.put_alert_sink("s", {"type": "webhook", "url": "http://x", "attempts": 0})
    assert ovens.list_rules() == [] and ovens.list_detectors() == []
    assert ovens.list_alert_sinks() == []


def test_an_expression_never_runs_away() -> None:
    from holotwin.analytics.expressions import UNKNOWN, Expression, Values

    values = Values({"x": [(0.0, 10.0)], "s": [(0.0, "text")]})
    assert Expression("x ** 1000 > 1").evaluate(values) is UNKNOWN
    assert Expression("(x * 1e200) * 1e200 > 1").evaluate(values) is UNKNOWN
    assert Expression("'%999999999d' % 1 == s").evaluate(values) is UNKNOWN
    assert Expression("s * 1000000000 == s").evaluate(values) is UNKNOWN
    assert Expression("x / 0 > 1").evaluate(values) is UNKNOWN
    assert Expression("s > 1").evaluate(values) is UNKNOWN
    assert Expression("missing > 1 or x > 5").evaluate(values) is UNKNOWN
    assert Expression("x > 5 or missing > 1").evaluate(values) is True
    assert Expression("not exists(missing) and x in [10, 11]").evaluate(values) is True
    assert Expression("max(x, 3) + abs(-2) == 12 and round(3.14159, 2) == 3.14").evaluate(
        values) is True
    assert Expression("value('x') if true else 0").evaluate(values) == 10.0
    with pytest.raises(InvalidInputError, match="too large"):
        Expression(" + ".join(["x"] * 200))
    assert math.isclose(Expression("avg(x, 5)").evaluate(
        Values({"x": [(0.0, 1.0), (4.0, 3.0), (6.0, 5.0)]})), 4.0)


def test_the_clock_is_not_read_for_durations(ovens: TwinService, clock: ManualClock) -> None:
    """Durations are source time: a long wall-clock wait without readings raises nothing."""
    ovens.put_rule("hot", {"condition": "temperature > 80", "for": 60, "model": OVEN})
    engine = AnalyticsEngine(ovens)
    feed(ovens, "oven-1", [90, 90], T0)
    engine.run_once()
    clock.advance(3600)
    engine.run_once()
    assert alerts(ovens) == []
    # hot since T0: 59 s later is not yet 60 s, 60 s is
    feed(ovens, "oven-1", [90], T0 + 59)
    engine.run_once()
    assert alerts(ovens) == []
    feed(ovens, "oven-1", [90], T0 + 60)
    engine.run_once()
    [alert] = alerts(ovens)
    assert from_iso(alert["since"]) == T0 and from_iso(alert["raisedAt"]) == T0 + 60


def test_a_new_rule_raises_at_once_when_its_condition_has_held_long_enough(
        ovens: TwinService) -> None:
    feed(ovens, "oven-1", [90.0] * 60, T0)  # hot from T0 to T0 + 59
    feed(ovens, "oven-2", [90.0] * 20, T0 + 40)  # hot from T0 + 40 only
    ovens.put_rule("hot", {"condition": "temperature > 80", "for": 30, "model": OVEN})
    AnalyticsEngine(ovens).run_once()
    [alert] = alerts(ovens)
    assert alert["twinId"] == "oven-1" and from_iso(alert["since"]) == T0 + 29
