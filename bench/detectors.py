"""Throughput of holotwin's streaming detectors on one core, beside river's Half-Space Trees.

Usage::

    python bench/detectors.py [--readings 200000] [--chunk 1000] [--repeat 3]

Each detector kind, with its package defaults, is fed ``--readings`` readings of seeded
Gaussian noise (with a few spikes) in batches of ``--chunk`` through ``Detector.update``; the
figure is readings per second, best of ``--repeat`` runs, a fresh detector each. The peer, in
the same run: river's ``anomaly.HalfSpaceTrees`` (river's defaults, seed 42) fed one event at a
time, ``score_one`` then ``learn_one`` on ``{"x": value}`` with the value min-max scaled as
river's pipeline would; it gets ``--readings / 4`` events (it is slow) and is timed the same
way. ``residual`` expects normalized innovations, so it is fed the same signal standardized
(``(x - 20) / 0.5``: N(0, 1) with the same spikes); a second ``residual`` row feeds it the raw
readings, where every window's sum of squares is far beyond where the chi-square tail
underflows, so every score takes the continued-fraction path. A second peer row feeds river the
two features our ``half-space-trees`` kind uses (the value and its first difference, each
min-max scaled), the like-for-like peer of that kind. A second ``relative-entropy`` row feeds
it a random walk (the cumulative sum of the noise), its costly case: the range keeps growing
(every new extreme recounts all stored windows) and the windows keep changing (more
hypotheses, each compared with every window). The ratio column is readings/s over the
first peer's events/s. The process is pinned to one core where the OS allows it
(``os.sched_setaffinity``). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import numpy as np

from holotwin.analytics.detectors import DETECTORS, make_detector

MEAN, STD = 20.0, 0.5


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def signal(n: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    x = rng.normal(MEAN, STD, n)
    x[rng.choice(n, max(1, n // 10_000), replace=False)] += 8.0
    return x


def time_detector(kind: str, x: np.ndarray, chunk: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        detector = make_detector({"kind": kind})
        start = time.perf_counter()
        for pos in range(0, x.size, chunk):
            detector.update(x[pos:pos + chunk])
        best = min(best, time.perf_counter() - start)
    return x.size / best


def time_river(x: np.ndarray, repeat: int, with_difference: bool = False) -> float:
    """river's HalfSpaceTrees per event on the min-max scaled value (and first difference)."""
    from river import anomaly

    features = np.stack((x, np.diff(x, prepend=x[:1]))) if with_difference else x[None, :]
    names = ["x", "dx"][: features.shape[0]]
    best = float("inf")
    for _ in range(repeat):
        model: Any = anomaly.HalfSpaceTrees(seed=42)
        low = [float("inf")] * len(names)
        high = [float("-inf")] * len(names)
        start = time.perf_counter()
        for event in features.T.tolist():
            scaled = {}
            for j, name in enumerate(names):
                span = high[j] - low[j]
                scaled[name] = (event[j] - low[j]) / span if span > 0 else 0.0
            model.score_one(scaled)
            for j, name in enumerate(names):
                low[j], high[j] = min(low[j], event[j]), max(high[j], event[j])
                span = high[j] - low[j]
                scaled[name] = (event[j] - low[j]) / span if span > 0 else 0.0
            model.learn_one(scaled)
        best = min(best, time.perf_counter() - start)
    return x.size / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    pinned = pin_to_one_core()
    print(f"machine: {os.cpu_count()} cores ({platform.machine()}), Python "
          f"{platform.python_version()}, numpy {np.__version__}; {pinned}")
    x = signal(args.readings)
    try:
        peer = time_river(x[: max(1, args.readings // 4)], args.repeat)
    except ImportError:
        print("river is not installed: pip install 'holotwin[analytics]'", file=sys.stderr)
        return 2
    peer2 = time_river(x[: max(1, args.readings // 4)], args.repeat, with_difference=True)
    print(f"peer: river HalfSpaceTrees, one event at a time: {peer:,.0f} events/s "
          f"(value), {peer2:,.0f} events/s (value and first difference)")
    rows = []
    cases = [(kind, kind) for kind in sorted(DETECTORS)]
    cases.append(("residual", "residual (raw readings)"))
    cases.append(("relative-entropy", "relative-entropy (random walk)"))
    for kind, label in cases:
        print(f"{label} ...", file=sys.stderr, flush=True)
        if kind == "half-space-trees":
            readings = x[: max(1, args.readings // 4)]
        elif label == "residual":
            readings = (x - MEAN) / STD  # its input: normalized innovations
        elif label == "relative-entropy (random walk)":
            readings = np.cumsum(x - MEAN)
        else:
            readings = x
        rate = time_detector(kind, readings, args.chunk, args.repeat)
        rows.append({"detector": label, "readings": readings.size,
                     "readings_per_s": round(rate), "ratio_to_hst": round(rate / peer, 2),
                     "spec": make_detector({"kind": kind}).spec()})
    print()
    print(f"| detector (defaults, batches of {args.chunk}) | readings | readings/s | "
          "ratio to river HST per event |")
    print("|---|---:|---:|---:|")
    print(f"| river HalfSpaceTrees (peer, per event, value) | {x.size // 4:,} | {peer:,.0f} | "
          "1.00 |")
    print(f"| river HalfSpaceTrees (peer, per event, value and difference) | {x.size // 4:,} | "
          f"{peer2:,.0f} | {peer2 / peer:.2f} |")
    for r in rows:
        print(f"| {r['detector']} | {r['readings']:,} | {r['readings_per_s']:,} | "
              f"{r['ratio_to_hst']:.2f} |")
    print(json.dumps({"chunk": args.chunk, "peer_events_per_s": round(peer),
                      "peer_two_features_events_per_s": round(peer2), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
