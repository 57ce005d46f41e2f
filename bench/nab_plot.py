"""Plot what a detector sees on NAB series: the readings, NAB's anomaly windows, the scores and
the detections at the corpus threshold NAB's optimizer picks (standard profile).

    python bench/nab_plot.py [--data DIR] [--spec JSON] [--files NAME ...] [--out FILE.png]

Needs matplotlib (``pip install matplotlib``; a bench tool, not a holotwin dependency). The
threshold is optimized over every file present, as in ``bench/nab.py``; the plot shows
``--files`` (default: three real series). Default ``--out``: ``docs/img/nab-<kind>.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab import ROOT, default_data, load_corpus, run_detector

from holotwin.analytics.scoring import STANDARD, optimize_threshold, parse_windows

FILES = ["realKnownCause/machine_temperature_system_failure.csv",
         "realKnownCause/nyc_taxi.csv",
         "realKnownCause/ec2_request_latency_system_failure.csv"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--spec", default='{"kind": "cusum"}')
    parser.add_argument("--files", nargs="+", default=FILES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("This plot needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    data = args.data or default_data()
    if not (data / "labels" / "combined_windows.json").exists():
        print(f"No NAB data at {data} (give --data or HOLOTWIN_NAB_DATA)", file=sys.stderr)
        return 2
    spec = json.loads(args.spec)
    corpus = load_corpus(data)
    windows = parse_windows(json.loads((data / "labels" / "combined_windows.json").read_text()))
    scorer = run_detector(spec)
    rng = np.random.default_rng(args.seed)
    results = {}
    for k, (name, (stamps, values)) in enumerate(corpus.items(), 1):
        print(f"  [{k}/{len(corpus)}] {name}", file=sys.stderr)
        results[name] = (stamps, scorer(values, rng))
    best = optimize_threshold(results, {n: windows.get(n, []) for n in corpus}, STANDARD)
    print(f"{spec}: standard score {best.normalized:.1f} at threshold {best.threshold:.6g}",
          file=sys.stderr)
    shown = [f for f in args.files if f in corpus]
    if not shown:
        print(f"None of {args.files} is in {data}", file=sys.stderr)
        return 2
    fig, axes = plt.subplots(len(shown), 1, figsize=(11, 2.6 * len(shown)), squeeze=False)
    for ax, name in zip(axes[:, 0], shown, strict=True):
        stamps, values = corpus[name]
        scores = results[name][1]
        ax.plot(stamps, values, lw=0.6, color="0.3", label="readings")
        for a, b in windows.get(name, []):
            ax.axvspan(a, b, color="tab:orange", alpha=0.25, lw=0)
        hit = scores >= best.threshold
        ax.scatter(stamps[hit], values[hit], s=9, color="tab:red", zorder=3,
                   label=f"detections (score >= {best.threshold:.3g})")
        twin = ax.twinx()
        twin.plot(stamps, scores, lw=0.5, color="tab:blue", alpha=0.6)
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("score", color="tab:blue")
        file_score = best.files[name]
        ax.set_title(f"{name}: {file_score.detected}/{file_score.windows} windows, "
                     f"{file_score.fp} false positives", fontsize=9, loc="left")
        ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(f"{spec['kind']} on NAB (orange: labelled anomaly windows); corpus standard "
                 f"score {best.normalized:.1f}", fontsize=10)
    fig.tight_layout()
    out = args.out or ROOT / "docs" / "img" / f"nab-{spec['kind']}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
