"""Streaming detectors: one contract for every registered kind, then each kind's statistics."""

from __future__ import annotations

import doctest
import json
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holotwin.analytics import detectors
from holotwin.analytics.detectors import DETECTORS, Detector, make_detector
from holotwin.errors import InvalidInputError

# small parameters so that short streams leave the warm-up and reach every code path (a
# full window, the end of a start-up phase, alarms and restarts); a kind without an entry is
# tested with its defaults
SMALL: dict[str, dict[str, Any]] = {
    "robust-z": {"window": 7},
    "ewma": {"alpha": 0.1, "warmup": 4},
    "cusum": {"alpha": 0.1, "warmup": 4, "h": 2.0},
    "windowed-gaussian": {"window": 9, "step": 4, "warmup": 2},
    "half-space-trees": {"n_trees": 3, "height": 4, "window_size": 8},
    "residual": {"window": 4},
}
KINDS = sorted(DETECTORS)
STATISTICAL = [k for k in KINDS if k != "half-space-trees"]


def small(kind: str, **extra: Any) -> Detector:
    return make_detector({"kind": kind, **SMALL.get(kind, {}), **extra})


readings = st.lists(
    st.one_of(st.floats(-1e4, 1e4, allow_nan=False), st.sampled_from([0.0, 1.0, 2.5])),
    max_size=120)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None)
@given(values=readings, cuts=st.lists(st.integers(0, 120), max_size=6))
def test_scores_do_not_depend_on_how_the_stream_is_split(
        kind: str, values: list[float], cuts: list[int]) -> None:
    x = np.array(values, dtype=np.float64)
    at_once = small(kind).update(x)
    split = small(kind)
    pieces = [split.update(piece) for piece in np.split(x, sorted(c % (x.size + 1) for c in cuts))]
    assert np.array_equal(np.concatenate(pieces), at_once)


@pytest.mark.parametrize("kind", ["windowed-gaussian", "cusum"])
def test_split_invariance_over_long_streams(kind: str) -> None:
    # step 1 for the windowed Gaussian; many alarms and restarts for CUSUM
    extra = {"step": 1} if kind == "windowed-gaussian" else {}
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=5000)) + rng.standard_t(2, size=5000)
    at_once = small(kind, **extra).update(x)
    split = small(kind, **extra)
    cuts = np.sort(rng.choice(x.size, 40, replace=False))
    assert np.array_equal(np.concatenate([split.update(p) for p in np.split(x, cuts)]), at_once)


@pytest.mark.parametrize("kind", KINDS)
def test_scores_have_the_shape_and_range_of_the_input(kind: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300) * 50.0
    x[200] = 1e6
    detector = small(kind)
    scores = detector.update(x)
    assert scores.shape == x.shape and scores.dtype == np.float64
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    assert (scores[: detector.warmup] == 0.0).all()
    assert detector.update(np.zeros(0)).shape == (0,)
    assert detector.update([1.0, 2.0]).shape == (2,)  # a list will do
    flags = detector.flags(scores)
    assert flags.dtype == np.bool_ and np.array_equal(flags, scores >= detector.threshold)


@pytest.mark.parametrize("kind", KINDS)
def test_detectors_are_deterministic_and_rebuilt_from_their_spec(kind: str) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    first = small(kind)
    spec = first.spec()
    assert spec["kind"] == kind and list(spec)[-1] == "threshold"
    assert json.loads(json.dumps(spec)) == spec
    again = make_detector(spec)
    assert again.spec() == spec
    assert np.array_equal(first.update(x), again.update(x))
    assert set(make_detector({"kind": kind}).spec()) == set(spec)  # defaults fill in


@pytest.mark.parametrize("kind", KINDS)
def test_non_finite_readings_are_refused_and_change_nothing(kind: str) -> None:
    x = np.random.default_rng(3).normal(size=100)
    detector = small(kind)
    detector.update(x[:50])
    for bad in ([1.0, float("nan")], [float("inf")], [[1.0, 2.0]], ["a"]):
        with pytest.raises(InvalidInputError):
            detector.update(bad)
    reference = small(kind)
    reference.update(x[:50])
    assert np.array_equal(detector.update(x[50:]), reference.update(x[50:]))


def _bad_values(param: detectors._Param) -> list[object]:
    values: list[object] = ["1", True, None, float("nan"), param.low - 1, param.high + 1]
    if param.low_open:
        values.append(param.low)
    if param.integer:
        values.append(param.low + 0.5)
    return values


@pytest.mark.parametrize("kind", KINDS)
def test_bad_specs_say_what_is_wrong(kind: str) -> None:
    cls = DETECTORS[kind]
    for param in cls._params:
        for value in _bad_values(param):
            with pytest.raises(InvalidInputError, match=f"'{param.name}' must be") as error:
                make_detector({"kind": kind, param.name: value})
            assert f"{param.low:g}" in str(error.value)
    with pytest.raises(InvalidInputError, match="has no parameter 'colour'; its parameters"):
        make_detector({"kind": kind, "colour": 1})


def test_specs_need_a_known_kind() -> None:
    with pytest.raises(InvalidInputError, match="needs 'kind', one of: cusum, ewma"):
        make_detector({"alpha": 0.1})
    with pytest.raises(InvalidInputError, match="Unknown detector kind 'lof'"):
        make_detector({"kind": "lof"})
    with pytest.raises(InvalidInputError, match="must be an object"):
        make_detector(["ewma"])  # type: ignore[arg-type]
    assert make_detector({"kind": "robust-z", "window": 50.0}).spec()["window"] == 50


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        DETECTORS["x"] = Detector  # type: ignore[index]


@pytest.mark.parametrize("kind", STATISTICAL)
def test_default_false_alarm_rate_on_gaussian_noise_is_about_1e4(kind: str) -> None:
    detector = make_detector({"kind": kind})
    x = np.random.default_rng(20261201).normal(size=100_000)
    scores = detector.update(x)
    rate = detector.flags(scores)[1000:].mean()
    assert 2e-5 <= rate <= 3e-4, rate


@pytest.mark.parametrize(("kind", "change", "within"), [
    ("robust-z", "spike", 1),
    ("ewma", "spike", 1),
    ("windowed-gaussian", "spike", 1),
    ("cusum", "step", 15),
    ("residual", "step", 5),
])
def test_defaults_detect_an_injected_change(kind: str, change: str, within: int) -> None:
    x = np.random.default_rng(5).normal(size=6000)
    if change == "spike":
        x[5000] += 8.0
    else:
        x[5000:] += 2.0 if kind == "cusum" else 3.0
    detector = make_detector({"kind": kind})
    flagged = np.flatnonzero(detector.flags(detector.update(x)))
    after = flagged[flagged >= 5000]
    assert after.size and after[0] < 5000 + within, after[:3]
    assert flagged[flagged < 5000].size <= 1


def test_robust_z_survives_a_constant_window() -> None:
    detector = make_detector({"kind": "robust-z", "window": 10})
    scores = detector.update([3.0] * 10 + [3.0, 3.0 + 1e-12, 4.0])
    assert scores[10] == 0.0
    assert scores[11] < 0.9  # float noise on a constant level is not an anomaly
    assert scores[12] == 1.0


def test_residual_score_is_the_chi_square_probability() -> None:
    from scipy.stats import chi2

    r = np.array([0.5, -1.0, 2.0, 0.1, 1.5])
    scores = make_detector({"kind": "residual", "window": 3}).update(r)
    assert scores[:2].tolist() == [0.0, 0.0]
    expected = [chi2.cdf(np.sum(r[i - 2:i + 1] ** 2), df=3) for i in range(2, 5)]
    assert scores[2:] == pytest.approx(expected, rel=1e-12)


def test_cusum_restarts_after_an_alarm() -> None:
    detector = make_detector({"kind": "cusum", "alpha": 0.01, "warmup": 100})
    x = np.random.default_rng(6).normal(size=600)
    x[300:] += 4.0
    scores = detector.update(x)
    alarms = np.flatnonzero(detector.flags(scores))
    alarms = alarms[alarms >= 300]
    assert alarms[0] < 305
    assert scores[alarms[0] + 1] < 0.5  # the sums start again from zero
    assert alarms.size >= 2  # a lasting shift alarms again


def test_half_space_trees_ranks_a_spike_among_the_highest() -> None:
    # on one signal the trees mostly see whether a reading is outside the recent range, so a
    # spike scores about as high as the most extreme normal readings, not above them all
    for seed in range(3):
        x = np.random.default_rng(seed).normal(size=1000)
        x[800] = 30.0
        scores = make_detector({"kind": "half-space-trees"}).update(x)
        assert scores[800] >= np.quantile(scores[250:800], 0.98)


def test_half_space_trees_without_river_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(InvalidInputError, match=r"pip install 'holotwin\[analytics\]'"):
        make_detector({"kind": "half-space-trees"})


def test_doctests() -> None:
    result = doctest.testmod(detectors, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 7 and result.failed == 0

