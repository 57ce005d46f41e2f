"""The production-line simulation against cases whose answer is known, in one run.

    python bench/line_validation.py [--seeds 3]

(a) One station with exponential failures and repairs: availability against
    MTBF / (MTBF + MTTR) (operation- and time-dependent failures; MTBF 900 s, MTTR 100 s,
    4e6 s simulated).
(b) Two stations with exponential processing and a buffer: throughput against the
    closed form of the tandem queue with blocking.
(c) Buzacott's two-machine line (exponential processing, failures and repairs, a buffer of
    3): throughput against its Markov chain, solved with NumPy in tests/scenarios/markov.py.
(d) Maintenance that restores a station (MTBF 300 s before, 2,700 s after, MTTR 300 s):
    availability after the window against MTBF / (MTBF + MTTR) = 0.9.

Each row is the mean over ``--seeds`` seeds, with the relative error; prints a table and
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.scenarios.markov
sys.path.insert(0, str(ROOT / "src"))

from tests.scenarios.markov import tandem_closed_form, two_machine_throughput  # noqa: E402

from holotwin.scenarios import (  # noqa: E402
    Buffer,
    LineModel,
    Maintenance,
    Station,
    simulate_line,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = range(1, args.seeds + 1)
    rows = []

    def row(name: str, exact: float, values: list[float], seconds: float) -> None:
        mean = statistics.fmean(values)
        rows.append({"case": name, "exact": exact, "simulated": mean,
                     "relative_error": mean / exact - 1.0, "seconds": seconds})
        print(f"  {name:58}{exact:>12.5f}{mean:>12.5f}{mean / exact - 1.0:>+10.3%}"
              f"{seconds:>8.1f}", flush=True)

    print(f"  {'case':58}{'exact':>12}{'simulated':>12}{'error':>10}{'s':>8}")
    for failures in ("operation", "time"):
        started = time.perf_counter()
        line = LineModel([Station("s", 60.0, mtbf=900.0, mttr=100.0, failures=failures)])
        values = [simulate_line(line, 4e6, seed=s).stations["s"].availability.mean
                  for s in seeds]
        row(f"(a) availability, {failures}-dependent failures", 0.9, values,
            time.perf_counter() - started)
    for cycles, capacity in (((50.0, 60.0), 2), ((60.0, 45.0), 0), ((40.0, 40.0), 5)):
        started = time.perf_counter()
        line = LineModel([Station("m1", cycles[0], cycle_cv=1.0),
                          Station("m2", cycles[1], cycle_cv=1.0)], [Buffer(capacity)])
        exact = 3600.0 * tandem_closed_form(1 / cycles[0], 1 / cycles[1], capacity)
        values = [simulate_line(line, 3.6e6, warmup_s=3600.0, seed=s).throughput.mean
                  for s in seeds]
        row(f"(b) tandem {cycles[0]:g} s / {cycles[1]:g} s, buffer {capacity} (parts/h)",
            exact, values, time.perf_counter() - started)
    for failures in ("operation", "time"):
        started = time.perf_counter()
        line = LineModel([Station("m1", 50.0, cycle_cv=1.0, mtbf=2000.0, mttr=200.0,
                                  failures=failures),
                          Station("m2", 55.0, cycle_cv=1.0, mtbf=3000.0, mttr=300.0,
                                  failures=failures)], [Buffer(3)])
        exact = 3600.0 * two_machine_throughput(1 / 50, 1 / 55, 3, p1=1 / 2000, r1=1 / 200,
                                                p2=1 / 3000, r2=1 / 300,
                                                operation_dependent=failures == "operation")
        values = [simulate_line(line, 4e6, warmup_s=3600.0, seed=s).throughput.mean
                  for s in seeds]
        row(f"(c) Buzacott two-machine line, {failures}-dependent (parts/h)", exact, values,
            time.perf_counter() - started)
    started = time.perf_counter()
    worn = LineModel([Station("s", 60.0, mtbf=300.0, mttr=300.0)])
    values = [simulate_line(worn, 3e6 + 600.0, warmup_s=600.0, seed=s, maintenance=[
        Maintenance("s", 0.0, 600.0, mtbf_after=2700.0)]).stations["s"].availability.mean
        for s in seeds]
    row("(d) availability after maintenance that restores", 0.9, values,
        time.perf_counter() - started)
    print(json.dumps({"bench": "line-validation", "seeds": args.seeds, "rows": rows}))


if __name__ == "__main__":
    main()
