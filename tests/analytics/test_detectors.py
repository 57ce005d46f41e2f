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
from holotwin.analytics.detectors import (
    DETECTORS,
    Detector,
    base,
    half_space_trees,
    make_detector,
    probability_from_score,
    relative_entropy,
    score_from_probability,
    statistical,
)
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
    # few bins and hypotheses: windows often match none, a hypothesis turns normal only after
    # two matches, and the store is full (evictions) within a short stream
    "relative-entropy": {"window": 5, "bins": 3, "min_matches": 2, "max_hypotheses": 3},
}
KINDS = sorted(DETECTORS)
STATISTICAL = [k for k in KINDS if k != "half-space-trees"]
# the kinds whose score is the surprise score of a tail probability of the reading's deviation
# (relative-entropy's is of a binned window's G statistic: a reading beyond every reading
# before it falls in a bin no stored histogram fills, p = 0, and scores 1.0)
PROBABILITY = [k for k in STATISTICAL if k not in ("cusum", "relative-entropy")]


def surprise(log_p: Any) -> Any:
    """The documented scale, from ln p: L / (L + 1) with L = -log10(p)."""
    decades = -np.asarray(log_p) / np.log(10.0)
    return decades / (decades + 1.0)


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


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("jump", [4.0, -4.0, 1e4])
def test_a_jump_off_a_constant_stream_is_flagged_with_a_finite_score(
        kind: str, jump: float) -> None:
    # its z is infinite: CUSUM's sums held inf - inf (a NaN score), found by the test above
    with np.errstate(all="raise"):
        scores = small(kind).update(np.array([0.0] * 20 + [jump]))
    assert np.isfinite(scores).all() and 0 <= scores.min() and scores.max() <= 1
    if kind in ("cusum", *PROBABILITY) and kind != "residual":  # residuals are z already
        assert small(kind).flags(scores)[-1], scores[-1]


@pytest.mark.parametrize("kind", ["windowed-gaussian", "cusum", "relative-entropy"])
def test_split_invariance_over_long_streams(kind: str) -> None:
    # step 1 for the windowed Gaussian; many alarms and restarts for CUSUM; for relative
    # entropy, new extremes (recounts), new hypotheses, hypotheses turning normal, evictions
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


def _bad_values(param: base._Param) -> list[object]:
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
    assert scores[11] < 0.5  # float noise on a constant level is not an anomaly
    assert scores[12] > 0.999  # p far below 1e-999


def test_the_score_scale_is_decades_of_surprise() -> None:
    # score = L / (L + 1) with L = -log10(p): 0.5 is p = 0.1, 0.8 is 1e-4, 0.9 is 1e-9
    p = np.array([1.0, 0.1, 1e-3, 1e-4, 1e-9, 1e-99, 1e-300, 0.0])
    scores = score_from_probability(p)
    assert scores == pytest.approx([0.0, 0.5, 0.75, 0.8, 0.9, 0.99, 300 / 301, 1.0], abs=1e-14)
    assert probability_from_score(scores[:-2]) == pytest.approx(p[:-2], rel=1e-12)
    assert probability_from_score([0.83])[0] == pytest.approx(10 ** (-0.83 / 0.17))


@pytest.mark.parametrize(("spec", "before", "z"), [
    # median 0, MAD 1 of [-1, 1, -1, 1]: z = x / 1.4826
    ({"kind": "robust-z", "window": 4}, [-1.0, 1.0, -1.0, 1.0], 1 / 1.4826),
    # mean 0, standard deviation 1 of [-1, 1, -1, 1]: z = x
    ({"kind": "windowed-gaussian", "window": 4, "warmup": 4}, [-1.0, 1.0, -1.0, 1.0], 1.0),
    # running mean 0 and variance 1 after [-1, 1]; the mean's noise: sqrt(1 + 0.5 / 1.5)
    ({"kind": "ewma", "alpha": 0.5, "warmup": 2}, [-1.0, 1.0], 1 / np.sqrt(4 / 3)),
])
def test_normal_scores_are_the_two_sided_tail_on_the_surprise_scale(
        spec: dict[str, Any], before: list[float], z: float) -> None:
    from scipy.stats import norm

    for x in (0.5, 3.0, -12.0, 40.0):
        score = make_detector(spec).update([*before, x])[-1]
        expected = surprise(np.log(2.0) + norm.logsf(abs(x) * z))
        assert score == pytest.approx(expected, rel=1e-12), x


@pytest.mark.parametrize("kind", PROBABILITY)
def test_scores_keep_ranking_far_into_the_tail(kind: str) -> None:
    # one detector per deviation, the same noise before it: the score keeps growing (no ties
    # at 1.0, which erf(|z| / sqrt(2)) reached at |z| = 8.3) and stays below 1
    noise = np.random.default_rng(7).normal(size=300)
    deviations = [4.0, 8.0, 9.0, 20.0, 40.0, 100.0, 1e3, 1e5, 1e7]
    scores = []
    for k in deviations:
        spec = {"kind": kind, "window": 5} if kind == "residual" else {"kind": kind}
        detector = make_detector(spec)
        scores.append(detector.update(np.append(noise, k))[-1])
    assert all(np.diff(scores) > 0), scores
    assert scores[-1] < 1.0
    assert scores[1] > 0.9  # 8 sigma is far beyond p = 1e-9


def test_residual_score_is_the_chi_square_probability() -> None:
    from scipy.stats import chi2

    r = np.array([0.5, -1.0, 2.0, 0.1, 1.5, 20.0, 25.0])
    scores = make_detector({"kind": "residual", "window": 3}).update(r)
    assert scores[:2].tolist() == [0.0, 0.0]
    expected = surprise([chi2.logsf(np.sum(r[i - 2:i + 1] ** 2), df=3) for i in range(2, 7)])
    assert scores[2:] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("df", [1, 5, 50, 2000, 100_000])
def test_chi_square_tail_continues_beyond_underflow(df: int) -> None:
    from scipy.special import gammaln, logsumexp
    from scipy.stats import chi2

    # the continued fraction used where chi2.sf underflows agrees with it where it does not
    x = np.linspace(df + 30.0 * np.sqrt(df) + 200.0, df + 1100.0 + 40.0 * np.sqrt(df), 200)
    reference = chi2.logsf(x, df)
    assert (reference > -700).any() and np.isfinite(reference).all()
    assert base._log_upper_gamma_cf(df / 2, x / 2) == pytest.approx(reference, rel=1e-11)
    # and goes on far beyond: finite, decreasing, exact for even df
    far = np.linspace(df + 2000.0, df + 1e5, 101)
    got = base._log_chi2_sf(far, df)
    assert np.isfinite(got).all() and (np.diff(got) < 0).all()
    if df % 2 == 0 and df <= 2000:
        k = np.arange(df // 2)
        exact = [-xi / 2 + logsumexp(k * np.log(xi / 2) - gammaln(k + 1)) for xi in far]
        assert got == pytest.approx(exact, rel=1e-10)
    assert base._log_chi2_sf(np.array([1e12]), df)[0] < -4e11


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
    # the value and its first difference: a spike is out of range in both, so it ranks among
    # the top 1 % of normal readings (it cannot be far above them all: the scores are coarse)
    for seed in range(5):
        x = np.random.default_rng(seed).normal(size=1000)
        x[800] = 30.0
        scores = make_detector({"kind": "half-space-trees"}).update(x)
        assert scores[800] >= np.quantile(scores[250:800], 0.99)


def test_half_space_trees_default_alarm_rate_on_gaussian_noise_is_about_1e3() -> None:
    detector = make_detector({"kind": "half-space-trees"})
    scores = detector.update(np.random.default_rng(20261201).normal(size=30_000))
    rate = detector.flags(scores)[1000:].mean()
    assert 3e-4 <= rate <= 3e-3, rate


def test_half_space_trees_survives_differences_that_overflow() -> None:
    detector = make_detector({"kind": "half-space-trees", "window_size": 2})
    scores = detector.update([1e308, -1e308, 1e308, 0.0, -1e308])
    assert np.isfinite(scores).all() and ((scores >= 0.0) & (scores <= 1.0)).all()


def test_half_space_trees_without_river_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(InvalidInputError, match=r"pip install 'holotwin\[analytics\]'"):
        make_detector({"kind": "half-space-trees"})


@pytest.mark.parametrize("module", [detectors, base, statistical, half_space_trees,
                                    relative_entropy], ids=lambda m: m.__name__)
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= (1 if module is not base else 0)

def test_relative_entropy_scores_are_the_g_test_against_the_stored_histograms() -> None:
    from scipy.stats import chi2

    # window 4, 2 bins over the running range [0, 1]: the first window [0, 0, 0, 1] is the
    # first hypothesis, counts (3, 1)
    detector = make_detector({"kind": "relative-entropy", "window": 4, "bins": 2})
    scores = detector.update([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    assert scores[:4].tolist() == [0.0] * 4
    # G = 2 sum n ln(n / m): (2, 2) and (1, 3) against (3, 1) are accepted (G below 6.63,
    # chi-square with 1 degree of freedom at 0.99); (0, 4) is not and is stored
    g = [4 * np.log(4 / 3), 4 * np.log(3), 8 * np.log(4)]
    assert scores[4:] == pytest.approx(surprise(chi2.logsf(g, df=1)), rel=1e-12)
    assert detector.flags(scores).tolist() == [False] * 6 + [True]  # threshold: p = 0.01
    assert detector._matches[:detector._size].tolist() == [3, 1]
    # a new minimum widens the range to [-1, 1]: both stored windows are counted again over
    # the new bins, (0, 4), and neither fills the bin of -1 (p = 0)
    assert detector.update([-1.0]).tolist() == [1.0]
    assert detector._counts[:2].tolist() == [[0, 4], [0, 4]]


def test_relative_entropy_detects_a_change_of_level_or_spread() -> None:
    # defaults, one seed: a step of 3 sigma, then (a fresh stream) the spread shrinking to
    # 0.3: no reading beyond the range, so it is the histogram's shape that is flagged
    for change, within in (("step", 15), ("spread", 52)):
        x = np.random.default_rng(5).normal(size=6000)
        if change == "step":
            x[5000:] += 3.0
        else:
            x[5000:] *= 0.3
        detector = make_detector({"kind": "relative-entropy"})
        scores = detector.update(x)
        flagged = np.flatnonzero(detector.flags(scores))
        after = flagged[flagged >= 5000]
        assert after.size and after[0] < 5000 + within, (change, after[:3])
        assert flagged[(flagged >= 1000) & (flagged < 5000)].size <= 1  # after learning
        if change == "spread":
            assert scores[after[0]] < 1.0 and x[5000:after[0] + 1].max() < x[:5000].max()


def test_relative_entropy_learns_what_is_normal_from_matches() -> None:
    # min_matches 3: a stored histogram is normal once three windows (its own included) have
    # matched it; every window here has the counts (2, 2), G = 0
    detector = make_detector({"kind": "relative-entropy", "window": 4, "bins": 2,
                              "min_matches": 3})
    scores = detector.update([0.0, 1.0, 0.0, 1.0] * 3)
    assert scores[4:6].tolist() == [1.0, 1.0]  # one match, then two: not normal yet
    assert (scores[6:] == 0.0).all()  # three matches: normal
    assert detector._size == 1 and detector._matches[0] == 9


def test_relative_entropy_store_is_bounded_and_forgets_the_least_matched() -> None:
    detector = make_detector({"kind": "relative-entropy", "window": 3, "bins": 3,
                              "max_hypotheses": 2})
    rng = np.random.default_rng(9)
    detector.update(np.repeat(rng.normal(size=200), rng.integers(1, 5, size=200)))
    assert detector._size == 2 and detector._raw.shape[0] == 2
    # a flat stream, then another level: the first hypothesis has all the matches, the new
    # level's window is stored beside it
    flat = make_detector({"kind": "relative-entropy", "window": 3, "bins": 2,
                          "max_hypotheses": 2})
    scores = flat.update([5.0] * 50 + [6.0] * 10 + [7.0] * 10)
    assert (scores[:50] == 0.0).all()  # one value: one bin, G = 0
    assert scores[50] == 1.0  # a new maximum
    assert flat._size == 2 and flat._matches[0] >= 40
    assert flat._raw[1].tolist() != [5.0] * 3


def test_relative_entropy_parameters() -> None:
    spec = make_detector({"kind": "relative-entropy"}).spec()
    assert spec == {"kind": "relative-entropy", "window": 52, "bins": 5, "confidence": 0.99,
                    "min_matches": 1, "max_hypotheses": 1000, "threshold": 2 / 3}
    with pytest.raises(InvalidInputError, match=r"'confidence' must be a number in \(0, 1\)"):
        make_detector({"kind": "relative-entropy", "confidence": 1.0})
    with pytest.raises(InvalidInputError, match=r"'bins' must be an integer in \[2, 1000\]"):
        make_detector({"kind": "relative-entropy", "bins": 1})
    with pytest.raises(InvalidInputError, match=r"'window' must be an integer in \[2, 100000\]"):
        make_detector({"kind": "relative-entropy", "window": 1})
    # readings near the float limits: no overflow in the bins
    detector = make_detector({"kind": "relative-entropy", "window": 2, "bins": 2})
    scores = detector.update([1e308, -1e308, 1e308, 0.0, -1e308, 5e-324, 0.0])
    assert np.isfinite(scores).all() and ((scores >= 0.0) & (scores <= 1.0)).all()
