"""Mapping: topic patterns, payload shapes, pointers, source times and units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holotwin.ingest import JsonPointer, MappingError, TopicMapping, TopicPattern, map_payload


def test_topic_patterns_match_and_derive_subscriptions() -> None:
    p = TopicPattern.parse("plant/{line}/{machine}/telemetry")
    assert p.subscription == "plant/+/+/telemetry"
    assert p.match("plant/l1/m2/telemetry") == {"line": "l1", "machine": "m2"}
    assert p.match("plant/l1/m2/status") is None
    assert p.match("plant/l1/m2/telemetry/x") is None
    assert p.match("plant/l1//telemetry") is None
    assert TopicPattern.parse("a/#").match("a/b/c") == {}
    assert TopicPattern.parse("a/+/c").match("a/x/c") == {}
    for bad in ("", "a/#/b", "a/b+c", "{x}/{x}", "a/{x"):
        with pytest.raises(MappingError):
            TopicPattern.parse(bad)


def _reference_match(levels: list[str], topic: str) -> dict[str, str] | None:
    """MQTT matching level by level, the plain way (``{name}`` needs a non-empty level)."""
    parts = topic.split("/")
    found: dict[str, str] = {}
    for i, level in enumerate(levels):
        if level == "#":
            return found
        if i >= len(parts):
            return None
        if level.startswith("{"):
            if not parts[i]:
                return None
            found[level[1:-1]] = parts[i]
        elif level != "+" and level != parts[i]:
            return None
    return found if len(parts) == len(levels) else None


@given(st.lists(st.sampled_from(["a", "x.y", "{v}", "+"]), max_size=4), st.booleans(),
       st.lists(st.sampled_from(["a", "x.y", "xzy", "", "b\nc"]), min_size=1, max_size=6))
def test_topic_matching_agrees_with_mqtt_rules(levels: list[str], hash_: bool,
                                               topic: list[str]) -> None:
    levels = [f"{{v{i}}}" if lv == "{v}" else lv for i, lv in enumerate(levels)]
    if hash_ or not levels:
        levels.append("#")
    text = "/".join(topic)
    assert TopicPattern.parse("/".join(levels)).match(text) == _reference_match(levels, text)


def test_twin_templates_and_literal_ids() -> None:
    assert TopicMapping.create("p/{line}/{m}", "{line}-{m}").twin_id("p/a/b") == "a-b"
    assert TopicMapping.create("p/boiler", "boiler-7").twin_id("p/boiler") == "boiler-7"
    with pytest.raises(MappingError, match=r"uses \{machine\}"):
        TopicMapping.create("p/{m}", "{machine}")


def test_single_reading_uses_every_member_and_receive_time() -> None:
    m = TopicMapping.create("t/{id}", "{id}")
    [r] = map_payload(m, "t/m1", {"temperature": 20.5, "state": "ok"}, 123.0)
    assert (r.twin_id, r.values, r.time) == ("m1", {"temperature": 20.5, "state": "ok"}, 123.0)


def test_batches_pointers_times_and_units() -> None:
    m = TopicMapping.create(
        "t/{id}", "{id}", records="/readings", time="/t",
        signals={"temperature": "/s/temp", "power": "/p", "load": "/l"},
        units={"temperature": "degreeFahrenheit", "power": "kilowatt", "load": "percent"})
    doc = {"readings": [
        {"t": "2024-05-01T00:00:00Z", "s": {"temp": 32}, "p": 1.5, "l": 50},
        {"t": 1714521601000, "s": {"temp": 212}},
        {"t": 1714521602},
    ][:2]}
    a, b = map_payload(m, "t/m1", doc, 0.0)
    assert a.time == 1714521600.0 and b.time == 1714521601.0
    assert a.values == {"temperature": 0.0, "power": 1500.0, "load": 0.5}
    assert b.values == {"temperature": pytest.approx(100.0)}
    # a top-level array is a batch too; the time member is not a signal
    plain = TopicMapping.create("t/{id}", "{id}", time="/ts", time_format="s")
    rs = map_payload(plain, "t/m1", [{"ts": 10, "x": 1}, {"ts": 11, "x": 2}], 0.0)
    assert [(r.time, r.values) for r in rs] == [(10.0, {"x": 1}), (11.0, {"x": 2})]


@pytest.mark.parametrize(
    ("kwargs", "doc", "message"),
    [
        ({"records": "/rows"}, {"rows": 5}, "expected an array of records at /rows"),
        ({}, [], "holds no records"),
        ({}, [{"x": 1}, 7], "record 1: expected a JSON object"),
        ({"signals": {"t": "/a/b"}}, {"c": 1}, r"none of /a/b is present"),
        ({"time": "/ts"}, {"x": 1}, "no source time at /ts"),
        ({"time": "/ts"}, {"x": 1, "ts": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"time": "/ts", "time_format": "iso"}, {"x": 1, "ts": 5}, "expected an ISO 8601"),
        ({"time": "/ts"}, {"x": 1, "ts": True}, "expected an ISO 8601 string or epoch"),
        ({"units": {"x": "kilowatt"}}, {"x": "high"}, "'x' in kilowatt must be a number"),
    ],
)
def test_errors_name_the_message_and_the_pointer(kwargs: dict[str, object], doc: object,
                                                 message: str) -> None:
    m = TopicMapping.create("t/{id}", "{id}", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(MappingError, match=message) as info:
        map_payload(m, "t/m1", doc, 0.0)
    assert "Message on 't/m1'" in info.value.message


def test_configuration_errors() -> None:
    with pytest.raises(MappingError, match="Unknown unit 'furlong'"):
        TopicMapping.create("t", "x", units={"d": "furlong"})
    with pytest.raises(MappingError, match="QoS must be 0 or 1"):
        TopicMapping.create("t", "x", qos=2)
    with pytest.raises(MappingError, match="must be empty or start with /"):
        JsonPointer.parse("a/b")
    with pytest.raises(MappingError, match="time_format"):
        TopicMapping.create("t", "x", time_format="days")


def test_json_pointer_escapes_and_arrays() -> None:
    doc = {"a/b": {"m~n": [10, 20]}}
    assert JsonPointer.parse("/a~1b/m~0n/1").resolve(doc) == 20
    assert JsonPointer.parse("").resolve(doc) is doc
    assert JsonPointer.parse("/a~1b/m~0n/01").resolve(doc, None) is None
