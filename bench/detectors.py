"""Throughput of holotwin's streaming detectors on one core, beside river's Half-Space Trees.

Usage::

    python bench/detectors.py [--readings 200000] [--chunk 1000] [--repeat 3]

Each detector kind, with its package defaults, is fed ``--readings`` readings of seeded
Gaussian noise (with a few spikes) in batches of ``--chunk`` through ``Detector.update``;
the figure is readings per second, best of ``--repeat`` runs, a fresh detector each. The peer,
in the same run: river's ``anomaly.HalfSpaceTrees`` (river's defaults, seed 42) fed one event
at a time, ``score_one`` then ``learn_one`` on ``{"x": value}`` with the value min-max scaled as
river's pipeline would; it gets ``--readings / 4`` events (it is slow) and is timed the same
way. The ratio column is readings/s over the peer's events/s. The process is pinned to one
core where the OS allows it (``os.sched_setaffinity``). Ends with one JSON line.
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


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def signal(n: int) -> np.ndarray:
    rng = np.random.default_rng(42)
    x = rng.normal(20.0, 0.5, n)
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


def time_river(x: np.ndarray, repeat: int) -> float:
    from river import anomaly

    best = float("inf")
    for _ in range(repeat):
        model: Any = anomaly.HalfSpaceTrees(seed=42)
        low, high = float("inf"), float("-inf")
        start = time.perf_counter()
        for value in x.tolist():
            span = high - low
            model.score_one({"x": (value - low) / span if span > 0 else 0.0})
            low, high = min(low, value), max(high, value)
            span = high - low
            model.learn_one({"x": (value - low) / span if span > 0 else 0.0})
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
    print(f"peer: river HalfSpaceTrees, one event at a time: {peer:,.0f} events/s")
    rows = []
    for kind in sorted(DETECTORS):
        print(f"{kind} ...", file=sys.stderr, flush=True)
        readings = x if kind != "half-space-trees" else x[: max(1, args.readings // 4)]
        rate = time_detector(kind, readings, args.chunk, args.repeat)
        rows.append({"detector": kind, "readings": readings.size,
                     "readings_per_s": round(rate), "ratio_to_hst": round(rate / peer, 2),
                     "spec": make_detector({"kind": kind}).spec()})
    print()
    print(f"| detector (defaults, batches of {args.chunk}) | readings | readings/s | "
          "ratio to river HST per event |")
    print("|---|---:|---:|---:|")
    print(f"| river HalfSpaceTrees (peer, per event) | {x.size // 4:,} | {peer:,.0f} | 1.00 |")
    for r in rows:
        print(f"| {r['detector']} | {r['readings']:,} | {r['readings_per_s']:,} | "
              f"{r['ratio_to_hst']:.2f} |")
    print(json.dumps({"chunk": args.chunk, "peer_events_per_s": round(peer), "results": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
