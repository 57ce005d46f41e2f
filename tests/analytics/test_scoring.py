"""NAB scoring on small cases worked out by hand."""

from __future__ import annotations

import csv
import doctest
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from holotwin.analytics import scoring
from holotwin.analytics.scoring import (
    PROFILES,
    REWARD_LOW_FN,
    REWARD_LOW_FP,
    STANDARD,
    optimize_threshold,
    parse_windows,
    probation_length,
    scaled_sigmoid,
    score_corpus,
    score_file,
)
from holotwin.errors import InvalidInputError

N = 1000  # readings per file: the probationary period is the first 150
WINDOW = (500, 509)  # ten readings
T = np.arange(N)


def sigma(x: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def scores_at(*indices: int, value: float = 1.0) -> np.ndarray:
    s = np.zeros(N)
    s[list(indices)] = value
    return s


def test_profiles_are_nab_cost_matrices() -> None:
    assert set(PROFILES) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert (STANDARD.tp_weight, STANDARD.fp_weight, STANDARD.fn_weight) == (1.0, 0.11, 1.0)
    assert REWARD_LOW_FP.fp_weight == 0.22 and REWARD_LOW_FN.fn_weight == 2.0


def test_scaled_sigmoid_and_probation() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(2.999) > -1.0 and scaled_sigmoid(3.0) == -1.0
    assert probation_length(1000) == 150
    assert probation_length(10_000) == 750


def test_perfect_detector_scores_100_and_null_0() -> None:
    windows = {"a": [WINDOW], "b": [(300, 309), (700, 709)]}
    perfect = {"a": (T, scores_at(500)), "b": (T, scores_at(300, 700))}
    null = {"a": (T, np.zeros(N)), "b": (T, np.zeros(N))}
    for profile in PROFILES.values():
        best = score_corpus(perfect, windows, threshold=0.5, profile=profile)
        assert best.raw == pytest.approx(3.0)
        assert best.normalized == pytest.approx(100.0)
        nothing = score_corpus(null, windows, threshold=0.5, profile=profile)
        assert nothing.raw == pytest.approx(-3.0 * profile.fn_weight)
        assert nothing.normalized == pytest.approx(0.0)


def test_a_false_positive_before_any_window_costs_the_fp_weight() -> None:
    score = score_file(T, scores_at(500, 300), [WINDOW], threshold=0.5)
    assert score.raw == pytest.approx(1.0 - 0.11)
    assert (score.tp, score.fp, score.detected) == (1, 1, 1)
    low_fp = score_file(T, scores_at(500, 300), [WINDOW], threshold=0.5, profile=REWARD_LOW_FP)
    assert low_fp.raw == pytest.approx(1.0 - 0.22)


def test_a_false_positive_after_a_window_is_weighted_by_its_distance() -> None:
    # nine readings past the right edge of a ten-reading window: relative position 9 / 9 = 1
    score = score_file(T, scores_at(500, 518), [WINDOW], threshold=0.5)
    assert score.raw == pytest.approx(1.0 + 0.11 * sigma(1.0))
    # right after the window it costs almost nothing; three widths on, the full weight
    near = score_file(T, scores_at(500, 510), [WINDOW], threshold=0.5).raw
    far = score_file(T, scores_at(500, 540), [WINDOW], threshold=0.5).raw
    assert near == pytest.approx(1.0 + 0.11 * sigma(1 / 9))
    assert far == pytest.approx(1.0 - 0.11)
    assert near > score.raw > far


def test_a_late_detection_scores_less_than_an_early_one() -> None:
    late = score_file(T, scores_at(505), [WINDOW], threshold=0.5).raw
    # relative position -(509 - 505 + 1) / 10 = -0.5
    assert late == pytest.approx(sigma(-0.5) / sigma(-1.0))
    last = score_file(T, scores_at(509), [WINDOW], threshold=0.5).raw
    assert 1.0 > late > last > 0.0


def test_only_the_first_detection_in_a_window_counts() -> None:
    once = score_file(T, scores_at(502), [WINDOW], threshold=0.5)
    many = score_file(T, scores_at(502, 503, 507, 509), [WINDOW], threshold=0.5)
    assert many.raw == pytest.approx(once.raw)
    assert many.tp == 4 and many.fp == 0


def test_a_missed_window_costs_the_fn_weight() -> None:
    assert score_file(T, np.zeros(N), [WINDOW], threshold=0.5).raw == -1.0
    missed = score_file(T, np.zeros(N), [WINDOW], threshold=0.5, profile=REWARD_LOW_FN)
    assert missed.raw == -2.0 and missed.detected == 0 and missed.fn == 10


def test_detections_in_the_probationary_period_are_ignored() -> None:
    assert score_file(T, scores_at(100, 149), [WINDOW], threshold=0.5).raw == -1.0
    assert score_file(T, scores_at(150), [WINDOW], threshold=0.5).raw == pytest.approx(-1.11)
    # a window wholly inside the probationary period is neither caught nor missed
    early = score_file(T, np.zeros(N), [(10, 20)], threshold=0.5)
    assert early.raw == 0.0 and early.windows == 0


def test_the_threshold_decides_what_is_a_detection() -> None:
    s = scores_at(505, value=0.7)
    assert score_file(T, s, [WINDOW], threshold=0.7).detected == 1
    assert score_file(T, s, [WINDOW], threshold=0.71).detected == 0


def test_optimize_threshold_finds_the_best_single_threshold() -> None:
    s = np.zeros(N)
    s[505], s[300], s[500] = 0.9, 0.8, 0.7
    best = optimize_threshold({"a": (T, s)}, {"a": [WINDOW]})
    # 0.9: late catch 0.8598; 0.8: that minus a false positive; 0.7: early catch minus it
    assert best.threshold == 0.7
    assert best.raw == pytest.approx(1.0 - 0.11)
    assert best.normalized == pytest.approx(100 * (0.89 + 1) / 2)


def test_optimize_threshold_never_firing_is_a_candidate() -> None:
    s = np.full(N, 0.5)  # everything alike: firing at all means 850 false positives
    best = optimize_threshold({"a": (T, s)}, {"a": [WINDOW]})
    assert best.threshold == math.inf and best.normalized == 0.0


def test_optimize_threshold_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(11)
    windows = {"a": [(300, 340), (800, 830)], "b": [(600, 650)], "c": []}
    results = {}
    for name in windows:
        s = np.round(rng.random(N) ** 8, 3)  # few high scores, many ties
        for first, last in windows[name]:
            s[first + 5:last] += rng.random(last - first - 5) * 0.5
        results[name] = (T, s)
    for profile in PROFILES.values():
        best = optimize_threshold(results, windows, profile)
        candidates = np.unique(np.concatenate([s for _, s in results.values()]))
        brute = max(score_corpus(results, windows, float(t), profile).raw for t in candidates)
        assert best.raw == pytest.approx(max(brute, -4.0 * profile.fn_weight))


def test_windows_from_nab_strings_match_datetime_timestamps() -> None:
    windows = parse_windows({"f.csv": [["2014-01-01 00:10:00.000000",
                                        "2014-01-01 00:19:00.000000"]]})
    t = np.datetime64("2014-01-01T00:00:00") + np.arange(N) * np.timedelta64(60, "s")
    score = score_file(t, scores_at(10), windows["f.csv"], threshold=0.5)
    assert score.windows == 0  # inside the probationary period of 150 minutes
    score = score_file(t, scores_at(160), [(t[160], t[169])], threshold=0.5)
    assert score.raw == pytest.approx(1.0)


def test_positions_count_readings_even_where_timestamps_repeat() -> None:
    t = np.concatenate((np.arange(600), np.arange(599, 999)))  # 599 twice, as at a clock change
    score = score_file(t, scores_at(600), [(595, 604)], threshold=0.5)
    # the window is readings 595..605 (eleven of them), the detection the sixth
    assert score.raw == pytest.approx(sigma(-(605 - 600 + 1) / 11) / sigma(-1.0))
    assert score.fn == 10


def test_bad_input_is_an_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError, match="one length"):
        score_file(T, np.zeros(N - 1), [WINDOW], threshold=0.5)
    with pytest.raises(InvalidInputError, match="overlap"):
        score_file(T, np.zeros(N), [(400, 500), (450, 600)], threshold=0.5)
    with pytest.raises(InvalidInputError, match="No anomaly windows"):
        score_corpus({"x": (T, np.zeros(N))}, {}, threshold=0.5)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        parse_windows({"x": [["yesterday", "today"]]})


def test_doctests() -> None:
    result = doctest.testmod(scoring, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 4 and result.failed == 0


# NAB's own null-detector results (results/null/null_standard_scores.csv in the NAB repository):
# readings in windows (fn) and outside them (tn) after the probationary period, per file
NAB_NULL_COUNTS = {
    "artificialWithAnomaly/art_daily_flatmiddle.csv": (3025, 403),
    "artificialWithAnomaly/art_increase_spike_density.csv": (3025, 403),
    "artificialNoAnomaly/art_noisy.csv": (3428, 0),
    "realKnownCause/ambient_temperature_system_failure.csv": (5791, 726),
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv": (15801, 1499),
    "realKnownCause/ec2_request_latency_system_failure.csv": (3082, 346),
    "realKnownCause/machine_temperature_system_failure.csv": (19677, 2268),
    "realKnownCause/nyc_taxi.csv": (8535, 1035),
    "realKnownCause/rogue_agent_key_hold.csv": (1410, 190),
    "realKnownCause/rogue_agent_key_updown.csv": (4035, 530),
}


def _nab_data() -> Path:
    env = os.environ.get("HOLOTWIN_NAB_DATA")
    root = Path(__file__).resolve().parents[2]
    return Path(env) if env else root.parent / "shared" / "data" / "anomaly" / "nab"


def test_windows_and_probation_match_nab_on_its_data() -> None:
    data = _nab_data()
    labels = data / "labels" / "combined_windows.json"
    if not labels.is_file():
        pytest.skip(f"NAB data not found at {data} (set HOLOTWIN_NAB_DATA)")
    windows = parse_windows(json.loads(labels.read_text()))
    present = {n: data / "data" / n for n in NAB_NULL_COUNTS if (data / "data" / n).is_file()}
    if not present:
        pytest.skip(f"none of the checked NAB files is under {data}")
    for name, path in present.items():
        with path.open(newline="") as f:
            stamps = [row["timestamp"].replace(" ", "T") for row in csv.DictReader(f)]
        t = np.array(stamps, dtype="datetime64[s]")
        score = score_file(t, np.zeros(t.size), windows[name], threshold=0.5)
        assert (score.tn, score.fn) == NAB_NULL_COUNTS[name], name
        assert score.raw == -len(windows[name])
