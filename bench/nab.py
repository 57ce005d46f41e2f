"""Score holotwin's streaming detectors on the Numenta Anomaly Benchmark (NAB) data present.

Usage::

    python bench/nab.py [--data DIR] [--detectors KIND ...] [--spec JSON ...] [--seed N]

``DIR`` (``--data``, else ``$HOLOTWIN_NAB_DATA``, else ``../shared/data/anomaly/nab`` beside
the repository) holds NAB's ``data/<category>/<file>.csv`` and
``labels/combined_windows.json``. Every CSV present is run through each detector with the
``Detector`` API, a fresh detector per file, the readings fed in batches of random sizes (1 to
1,000, as the service would), then scored with ``holotwin.analytics.scoring``: one threshold for
the whole corpus per detector and profile (NAB's optimizer), normalized so that the perfect
detector is 100 and the null one 0.

Rows: every detector kind with its package defaults; ``windowed-gaussian`` also as NAB ran it
(window 6400, step 100, scoring from the second reading), the like-for-like peer of NAB's
published 39.6; ``relative-entropy`` also given each file's minimum and maximum in advance, as
NAB gives them to its detectors (knowledge of the whole file, which a live stream does not
have: bench only), once with the package's equal bins and once with NAB's ``ceil`` binning
too, the like-for-like peer of NAB's published 54.6; at the detector's default threshold (p =
0.01, the method's own decision) that last row is checked file by file against NAB's own
published results (raw score, true and false positives); ``residual`` on the innovations of
an exponentially weighted mean (alpha 0.01), since it expects normalized innovations, not
raw values; a null detector (never fires) and a random one (uniform scores, seeded) as sanity
rows; one CUSUM setting tuned on this same data (marked so, and optimistic for it; ``--no-tuned`` drops it). The
table also counts the readings that score exactly 1.0, ties at the top that no threshold can
rank (the random row's uniform scores never do; a saturating score would).
``--spec`` adds rows (e.g. ``--spec '{"kind": "ewma", "alpha": 0.05}'``). Published figures are for NAB's full
58-file corpus; this copy may hold fewer files (it says how many), so compare rows of this run
with each other, and with the published ones only loosely. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter

from holotwin.analytics.detectors import DETECTORS, Detector, RelativeEntropyDetector, make_detector
from holotwin.analytics.scoring import (
    PROFILES,
    STANDARD,
    optimize_threshold,
    parse_windows,
    score_corpus,
)
from holotwin.errors import InvalidInputError

ROOT = Path(__file__).resolve().parent.parent
NAB_FILES = 58
# NAB's scoreboard (README, v1.1): standard, reward low FP, reward low FN; full corpus
PUBLISHED = [
    ("Numenta HTM", 70.5, 62.6, 75.2),
    ("Relative Entropy", 54.6, 47.6, 58.8),
    ("Random Cut Forest", 51.7, 38.4, 59.7),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Random", 11.0, 1.2, 19.5),
    ("Null", 0.0, 0.0, 0.0),
]
NAB_WINDOWED_GAUSSIAN = {"kind": "windowed-gaussian", "window": 6400, "step": 100, "warmup": 1}
# found by trying a handful of settings on this same subset, so its figure is optimistic: the
# baseline's memory of 10,000 readings is most of a file, so CUSUM measures drift from the start
TUNED = [{"kind": "cusum", "alpha": 0.0001}]
INNOVATION_ALPHA = 0.01
# NAB's own windowed Gaussian results per file, standard profile, at its corpus threshold 1.0
# (results/windowedGaussian/windowedGaussian_standard_scores.csv in the NAB repository; that
# file's 58-file total, -44.75, normalizes to 30.7 rather than the scoreboard's 39.6)
NAB_WG_STANDARD_RAW = {
    "artificialNoAnomaly/art_daily_no_noise.csv": 0.0,
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv": 0.0,
    "artificialNoAnomaly/art_daily_small_noise.csv": 0.0,
    "artificialNoAnomaly/art_flatline.csv": 0.0,
    "artificialNoAnomaly/art_noisy.csv": 0.0,
    "artificialWithAnomaly/art_daily_flatmiddle.csv": -1.0,
    "artificialWithAnomaly/art_daily_jumpsdown.csv": -1.0,
    "artificialWithAnomaly/art_daily_jumpsup.csv": -1.0,
    "artificialWithAnomaly/art_daily_nojump.csv": -1.0,
    "artificialWithAnomaly/art_increase_spike_density.csv": -1.0,
    "artificialWithAnomaly/art_load_balancer_spikes.csv": -0.6924446095227346,
    "realKnownCause/ambient_temperature_system_failure.csv": -2.0,
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv": -1.11,
    "realKnownCause/ec2_request_latency_system_failure.csv": -0.06591011872780705,
    "realKnownCause/machine_temperature_system_failure.csv": -4.0,
    "realKnownCause/nyc_taxi.csv": -5.0,
    "realKnownCause/rogue_agent_key_hold.csv": -2.44,
    "realKnownCause/rogue_agent_key_updown.csv": -1.3964908955014117,
}

# NAB's own relative entropy results per file, standard profile, at its threshold 0.5 (its
# scores are 0 or 1): raw score, true positives, false positives (readings after the
# probationary period; results/relativeEntropy/relativeEntropy_standard_scores.csv in the NAB
# repository, whose 58-file total, 10.77, normalizes to the scoreboard's 54.6)
NAB_RE_STANDARD = {
    "artificialNoAnomaly/art_daily_no_noise.csv": (0.0, 0, 0),
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv": (0.0, 0, 0),
    "artificialNoAnomaly/art_daily_small_noise.csv": (-0.55, 0, 5),
    "artificialNoAnomaly/art_flatline.csv": (0.0, 0, 0),
    "artificialNoAnomaly/art_noisy.csv": (-0.22, 0, 2),
    "artificialWithAnomaly/art_daily_flatmiddle.csv": (0.885996850433, 9, 1),
    "artificialWithAnomaly/art_daily_jumpsdown.csv": (0.601686647012, 3, 2),
    "artificialWithAnomaly/art_daily_jumpsup.csv": (0.86067182427, 11, 0),
    "artificialWithAnomaly/art_daily_nojump.csv": (-1.33, 0, 3),
    "artificialWithAnomaly/art_increase_spike_density.csv": (-1.0, 0, 0),
    "artificialWithAnomaly/art_load_balancer_spikes.csv": (0.779398691694, 3, 1),
    "realKnownCause/ambient_temperature_system_failure.csv": (-1.39979253026, 3, 12),
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv": (0.424230234496, 12, 5),
    "realKnownCause/ec2_request_latency_system_failure.csv": (2.03586905384, 5, 0),
    "realKnownCause/machine_temperature_system_failure.csv": (-0.916101489945, 18, 7),
    "realKnownCause/nyc_taxi.csv": (3.83335967699, 7, 1),
    "realKnownCause/rogue_agent_key_hold.csv": (-1.51582076131, 1, 8),
    "realKnownCause/rogue_agent_key_updown.csv": (-2.48766861129, 0, 5),
}
RE_KNOWN_RANGE = "relative-entropy (file's min/max known in advance: uses the whole file)"
RE_NAB = "relative-entropy, NAB's configuration (file's min/max in advance, NAB's ceil binning)"

Series = tuple[np.ndarray, np.ndarray]  # timestamps, values
Scorer = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def default_data() -> Path:
    env = os.environ.get("HOLOTWIN_NAB_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "anomaly" / "nab"


def load_corpus(data: Path) -> dict[str, Series]:
    corpus: dict[str, Series] = {}
    for path in sorted((data / "data").glob("*/*.csv")):
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        stamps = np.array([r["timestamp"].replace(" ", "T") for r in rows], dtype="datetime64[s]")
        values = np.array([float(r["value"]) for r in rows])
        corpus[path.relative_to(data / "data").as_posix()] = (stamps, values)
    return corpus


def feed(detector: Detector, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The detector's scores of ``values``, fed in batches of random sizes (1 to 1,000)."""
    out, pos = [], 0
    while pos < values.size:
        size = int(rng.integers(1, 1001))
        out.append(detector.update(values[pos:pos + size]))
        pos += size
    return np.concatenate(out)


def run_detector(spec: Mapping[str, Any]) -> Scorer:
    return lambda values, rng: feed(make_detector(spec), values, rng)


class NabBinnedRelativeEntropy(RelativeEntropyDetector):
    """NAB's binning, for the like-for-like row only: ``ceil((x - min) / step)`` with ``step``
    a fifth of the range, codes 0 to 5 in five histogram bins, so the first bin holds only the
    exact minimum and the last the top two steps."""

    def _codes(self, values: np.ndarray, low: float, high: float) -> np.ndarray:
        if not high > low:
            return np.zeros(values.size, dtype=np.int64)
        step = (high - low) / self.bins
        return np.minimum(np.ceil((values - low) / step), self.bins - 1).astype(np.int64)


def relative_entropy_known_range(nab_binning: bool) -> Scorer:
    """Relative entropy given the file's minimum and maximum before its first reading, as NAB
    gives its detectors ``inputMin`` and ``inputMax`` (knowledge of the whole file)."""
    def scores(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        detector = NabBinnedRelativeEntropy() if nab_binning else RelativeEntropyDetector()
        detector._preset_range(float(values.min()), float(values.max()))
        return feed(detector, values, rng)

    return scores


def innovations(values: np.ndarray, alpha: float) -> np.ndarray:
    """(x - mean before x) / std before x, for exponentially weighted estimates."""
    keep = 1.0 - alpha
    mean, _ = lfilter([alpha], [1.0, -keep], values, zi=[keep * values[0]])
    prior_mean = np.concatenate(([values[0]], mean[:-1]))
    d = values - prior_mean
    var, _ = lfilter([1.0], [1.0, -keep], keep * alpha * d * d, zi=[0.0])
    prior_std = np.sqrt(np.concatenate(([0.0], var[:-1])))
    scale = np.maximum(prior_std, 1e-9 * np.abs(prior_mean) + 1e-300)
    with np.errstate(over="ignore"):
        r = d / scale
    r[:2] = 0.0
    return np.asarray(np.clip(r, -1e6, 1e6), dtype=np.float64)


def residual_on_innovations(spec: Mapping[str, Any]) -> Scorer:
    inner = run_detector(spec)
    return lambda values, rng: inner(innovations(values, INNOVATION_ALPHA), rng)


def rows(kinds: list[str], extra: list[dict[str, Any]],
         tuned: list[dict[str, Any]]) -> list[tuple[str, str, Scorer]]:
    """(label, parameters shown, scorer) for every row of the table."""
    out: list[tuple[str, str, Scorer]] = [
        ("null", "scores 0", lambda v, rng: np.zeros(v.size)),
        ("random", "uniform scores", lambda v, rng: rng.random(v.size)),
    ]
    for kind in kinds:
        spec = make_detector({"kind": kind}).spec()
        shown = json.dumps(spec)
        if kind == "residual":
            out.append((f"{kind} (EWMA innovations)",
                        f"{shown} on (x - ewma) / ewm std, alpha {INNOVATION_ALPHA}",
                        residual_on_innovations(spec)))
        else:
            out.append((kind, shown, run_detector(spec)))
        if kind == "windowed-gaussian":
            out.append(("windowed-gaussian (NAB config)",
                        json.dumps(make_detector(NAB_WINDOWED_GAUSSIAN).spec()),
                        run_detector(NAB_WINDOWED_GAUSSIAN)))
        if kind == "relative-entropy":
            out.append((RE_KNOWN_RANGE, f"{shown}, the range preset to the file's",
                        relative_entropy_known_range(nab_binning=False)))
            out.append((RE_NAB, f"{shown}, the range preset to the file's, NAB's binning",
                        relative_entropy_known_range(nab_binning=True)))
    for spec, note in [(s, " (tuned on this subset)") for s in tuned] + [(s, "") for s in extra]:
        label = spec["kind"] + " " + ",".join(f"{k}={v}" for k, v in spec.items() if k != "kind")
        out.append((label + note, json.dumps(make_detector(spec).spec()), run_detector(spec)))
    return out


def check_against_nab(outputs: Mapping[str, Series],
                      windows: Mapping[str, Any]) -> dict[str, Any]:
    """Relative entropy in NAB's configuration at its default threshold, file by file, against
    NAB's own results (standard profile): do the raw score, tp and fp agree?"""
    threshold = RelativeEntropyDetector().threshold
    at = score_corpus(outputs, windows, threshold, STANDARD)
    differ = []
    for name, f in at.files.items():
        raw, tp, fp = NAB_RE_STANDARD[name]
        if (f.tp, f.fp) != (tp, fp) or abs(f.raw - raw) > 1e-6:
            differ.append(f"{name}: ours raw {f.raw:.4f} tp {f.tp} fp {f.fp}, "
                          f"NAB's raw {raw:.4f} tp {tp} fp {fp}")
    return {"files": len(at.files), "agree": len(at.files) - len(differ), "differ": differ,
            "raw": at.raw, "normalized": round(at.normalized, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--detectors", nargs="+", default=sorted(DETECTORS),
                        choices=sorted(DETECTORS), metavar="KIND")
    parser.add_argument("--spec", action="append", default=[], type=json.loads,
                        help="an extra detector spec as JSON (repeatable)")
    parser.add_argument("--no-tuned", action="store_true", help="leave out the tuned row")
    parser.add_argument("--seed", type=int, default=0, help="batch sizes and the random row")
    args = parser.parse_args(argv)
    windows_file = args.data / "labels" / "combined_windows.json"
    if not windows_file.is_file():
        print(f"NAB data not found at {args.data} (expected data/*/*.csv and "
              "labels/combined_windows.json); set --data or HOLOTWIN_NAB_DATA", file=sys.stderr)
        return 2
    windows = parse_windows(json.loads(windows_file.read_text()))
    corpus = load_corpus(args.data)
    if not corpus:
        print(f"no CSV files under {args.data / 'data'}", file=sys.stderr)
        return 2
    categories = sorted({name.split("/")[0] for name in corpus})
    labelled = sum(len(windows.get(name, [])) for name in corpus)
    readings = sum(v.size for _, v in corpus.values())
    print(f"NAB data: {len(corpus)} of NAB's {NAB_FILES} files ({', '.join(categories)}), "
          f"{readings:,} readings, {labelled} anomaly windows")
    try:
        table = rows(args.detectors, args.spec, [] if args.no_tuned else TUNED)
    except InvalidInputError as exc:
        print(f"bad --spec: {exc}", file=sys.stderr)
        return 2
    print("parameters per row:")
    for label, shown, _ in table:
        print(f"  {label}: {shown}")
    results: list[dict[str, Any]] = []
    nab_check: dict[str, Any] | None = None
    for label, _, scorer in table:
        rng = np.random.default_rng(args.seed)
        start = time.perf_counter()
        outputs = {}
        for i, (name, (stamps, values)) in enumerate(corpus.items(), 1):
            print(f"\r{label}: {i}/{len(corpus)} {name:<60}", end="", file=sys.stderr,
                  flush=True)
            outputs[name] = (stamps, scorer(values, rng))
        seconds = time.perf_counter() - start
        print(f"\r{label}: done in {seconds:.1f} s{' ' * 60}", file=sys.stderr)
        # readings scored exactly 1.0: ties at the top that no threshold can rank
        at_one = sum(int((scores == 1.0).sum()) for _, scores in outputs.values())
        row: dict[str, Any] = {"detector": label, "seconds": round(seconds, 2),
                               "scores_at_1": at_one}
        for profile in PROFILES.values():
            best = optimize_threshold(outputs, windows, profile)
            row[profile.name] = round(best.normalized, 1)
            if profile.name == "standard":
                row["threshold"] = best.threshold
                row["caught"] = sum(f.detected for f in best.files.values())
                row["windows"] = sum(f.windows for f in best.files.values())
                row["fp"] = sum(f.fp for f in best.files.values())
        results.append(row)
        if label == RE_NAB and set(outputs) <= set(NAB_RE_STANDARD):
            nab_check = check_against_nab(outputs, windows)
    print()
    print(f"holotwin on this copy ({len(corpus)} files) | standard | low FP | low FN | "
          "threshold (standard) | windows caught | FP readings | scores = 1.0 | s")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['detector']} | {r['standard']:.1f} | {r['reward_low_FP_rate']:.1f} | "
              f"{r['reward_low_FN_rate']:.1f} | {r['threshold']:.6g} | "
              f"{r['caught']}/{r['windows']} | {r['fp']} | {r['scores_at_1']} | "
              f"{r['seconds']:.1f} |")
    print()
    print(f"published, NAB's full corpus ({NAB_FILES} files) | standard | low FP | low FN")
    print("|---|---:|---:|---:|")
    for name, standard, low_fp, low_fn in PUBLISHED:
        print(f"| {name} | {standard:.1f} | {low_fp:.1f} | {low_fn:.1f} |")
    nab_wg = None
    if set(corpus) <= set(NAB_WG_STANDARD_RAW):
        raw = sum(NAB_WG_STANDARD_RAW[name] for name in corpus)
        nab_wg = round(100.0 * (raw + labelled) / (2 * labelled), 1)
        print(f"NAB's own windowed Gaussian results on these {len(corpus)} files (standard, its "
              f"full-corpus threshold): raw {raw:.2f}, normalized {nab_wg:.1f}")
    nab_re = None
    if set(corpus) <= set(NAB_RE_STANDARD):
        raw = sum(NAB_RE_STANDARD[name][0] for name in corpus)
        nab_re = round(100.0 * (raw + labelled) / (2 * labelled), 1)
        print(f"NAB's own relative entropy results on these {len(corpus)} files (standard, its "
              f"binary scores): raw {raw:.3f}, normalized {nab_re:.1f}")
    if nab_check is not None:
        print(f"{RE_NAB} at its default threshold (p = 0.01, the method's decision), file by "
              f"file against NAB's own results: raw score, true and false positives agree on "
              f"{nab_check['agree']}/{nab_check['files']} files (raw {nab_check['raw']:.3f}, "
              f"normalized {nab_check['normalized']:.1f})")
        for name in nab_check["differ"]:
            print(f"  differs: {name}")
    print(json.dumps({"files": len(corpus), "readings": readings, "windows": labelled,
                      "nab_windowed_gaussian_here": nab_wg, "nab_relative_entropy_here": nab_re,
                      "relative_entropy_vs_nab": nab_check, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
