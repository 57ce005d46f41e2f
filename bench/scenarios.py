"""Scenario ensembles on the execution backends: the same Monte Carlo work in this process, in
local processes and on a local Ray instance, in one run.

    python bench/scenarios.py [--chunks 32] [--samples 2000] [--steps 3000] [--workers 2]
                              [--repeat 3] [--seed 7] [--skip-ray]

The work: ``--chunks`` Monte Carlo predictions of holotwin's ``BatteryCircuit``, each of
``--samples`` samples simulated together (``MonteCarloPredictor``: one vectorized step for all
samples, bands kept every 15 s) for ``--steps`` steps of dt = 1 s at a constant 2 A (the cells
do not reach end of discharge within that, so every chunk runs every step). Chunk ``k`` draws
its samples with seed ``--seed + k`` from a Gaussian around the default initial state (standard
deviations 0.5 K, 40 C, 0.5 C, 0.5 C), so every backend computes the same numbers, and the
script checks that they do. Three backends run the chunks:

(a) in this process, one chunk after another (``LocalExecutor(workers=1)``): the baseline;
(b) ``LocalExecutor(workers=--workers)``: a pool of local processes (forkserver);
(c) ``RayExecutor(num_cpus=--workers)``: a local Ray instance this script starts.

Throughput is samples x steps per second of wall time for all the chunks. The pool's and Ray's
start (processes, imports, Ray's services) is timed apart and not counted: it is paid once per
executor, not per ensemble (a warm-up map runs one small chunk on each worker first). The
backends then run in turn, ``--repeat`` rounds of (a), (b), (c), and each one's median wall
time counts (the ratio of the fastest rounds is shown too): on a shared virtual machine the speed of a core can change by a third from one
minute to the next, and taking turns spreads that over all three. Ray's services stay up (and
idle) through every round. Prints progress, a table with each backend's ratio to (a), and one
JSON line.

With ``--latency`` it measures instead the scenario-to-result latency on the demo plant
(``--latency-machines`` machines on one line, two minutes of simulated history, the battery
pack estimated): the wall time from ``create_scenario`` to the stored result of ``run_scenario``
(and of ``create_optimization`` / ``run_optimization``), ``--latency-repeat`` times each, the
median counts, on the same three backends (the service's executor):

- *line*: the demo's what-if, the line over the next 2 h as a serial line, 5 replications;
- *pack*: a what-if of the battery pack (a fork of its live estimate), 200 samples, 1 h in 5 s
  steps;
- *slot*: the demo's optimization, the best of 8 maintenance slots for the bottleneck, 5
  replications each.

    python bench/scenarios.py --latency [--latency-repeat 3] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from holotwin.behaviors import BatteryCircuit, GaussianState
from holotwin.clock import ManualClock
from holotwin.compute import ComputeError, Executor, LocalExecutor, RayExecutor, open_executor
from holotwin.demo.batteries import BatteryFleet
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import build_plant
from holotwin.demo.whatif import DemoWhatIf
from holotwin.predict import MonteCarloPredictor, PiecewiseLoad
from holotwin.service import TwinService
from holotwin.service.tracker import BehaviorTracker
from holotwin.store import SqliteStore

SPREAD = [0.5, 40.0, 0.5, 0.5]  # tb K, qb C, qcp C, qcs C
CURRENT = 2.0  # A
DT = 1.0  # s
SAVE_EVERY = 15.0  # s


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensemble_chunk(task: tuple[int, int, int]) -> tuple[float, float, float]:
    """One Monte Carlo prediction ``(seed, samples, steps)``: the mean and the 5th percentile
    of the terminal voltage at the end, and the share of samples that reached EOD."""
    seed, samples, steps = task
    cell = BatteryCircuit()
    start = GaussianState(cell.initial_state(), np.diag(np.square(SPREAD))[None])
    result = MonteCarloPredictor(samples, rng=seed).predict(
        cell, start, PiecewiseLoad([], [[CURRENT]]), horizon=steps * DT, dt=DT,
        save_every=SAVE_EVERY)
    return (float(result.output_mean[-1, 0, 1]), float(result.output_bands[-1, 0, 1, 0]),
            float(result.time_of_event["EOD"].reached[0]))


def run(label: str, executor: Executor, tasks: list[tuple[int, int, int]]
        ) -> tuple[float, list[tuple[float, float, float]]]:
    """Wall time of one map of ``tasks``, with a progress line every quarter of them."""
    every = max(1, len(tasks) // 4)
    started = time.perf_counter()
    count = [0]

    def progress(fraction: float) -> None:
        count[0] += 1
        if count[0] % every == 0 or fraction == 1.0:
            log(f"    {label}: {count[0]}/{len(tasks)} chunks, "
                f"{time.perf_counter() - started:.1f} s")

    results = executor.map(ensemble_chunk, tasks, progress=progress)
    return time.perf_counter() - started, results


def timed_start(make: Callable[[], Executor], workers: int) -> tuple[float, Executor]:
    """Make an executor and warm every worker up (processes started, holotwin imported)."""
    started = time.perf_counter()
    executor = make()
    executor.map(ensemble_chunk, [(0, 100, 10)] * max(1, workers))
    return time.perf_counter() - started, executor


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def demo_plant(machines: int) -> tuple[TwinService, str]:
    """The demo plant in a fresh SQLite file, with 120 s of simulated history."""
    folder = Path(tempfile.mkdtemp(prefix="holotwin-bench-"))
    clock = ManualClock(1_700_000_000.0)
    service = TwinService(SqliteStore(folder / "holotwin.db"), clock)
    layout = build_plant(service, lines=1, machines_per_line=machines)
    fleet = DeviceFleet(service, layout)
    packs = BatteryFleet(service, [line.id for line in layout.lines])
    packs.ensure()
    fleet.start()
    packs.start()
    tracker = BehaviorTracker(service)
    for _ in range(120):
        clock.advance(1.0)
        fleet.tick()
        packs.tick()
    tracker.run_once()
    service.close()
    return service, str(folder / "holotwin.db")


def latency(args: argparse.Namespace) -> None:
    _, db = demo_plant(args.latency_machines)
    whatif = DemoWhatIf(TwinService(SqliteStore(db)), "line-1")  # only its documents
    whatif.service.close()
    line_spec = whatif.scenario("as is", 120.0)
    pack_spec = {"name": "pack", "twins": ["battery-1"], "horizon": 3600, "dt": 5,
                 "samples": 200, "seed": 1}
    slot_search = whatif.slot_search("machine-1-1", 120.0)  # the demo line's bottleneck
    backends = {"a": ("inline", "in process"), "b": (f"local:{args.workers}",
                                                     f"LocalExecutor, {args.workers} processes"),
                "c": (f"ray:{args.workers}", f"RayExecutor, local, {args.workers} CPUs")}
    if args.skip_ray or package_version("ray") is None:
        backends.pop("c")
    rows: dict[str, dict[str, Any]] = {}
    for key, (config, label) in backends.items():
        log(f"({key}) {label}: starting ...")
        started = time.perf_counter()
        executor = open_executor(config)
        executor.map(ensemble_chunk, [(0, 100, 10)] * max(1, executor.workers))  # warm up
        start_s = time.perf_counter() - started
        service = TwinService(SqliteStore(db), executor=executor)
        times: dict[str, list[float]] = {"line": [], "pack": [], "slot": []}
        outcome: dict[str, Any] = {}
        try:
            for round_ in range(args.latency_repeat):
                for what in times:
                    t0 = time.perf_counter()
                    if what == "slot":
                        doc = service.run_optimization(
                            service.create_optimization(slot_search)["id"])
                        outcome[what] = doc["results"]["best"][0]["assignment"]
                    else:
                        doc = service.run_scenario(service.create_scenario(
                            line_spec if what == "line" else pack_spec)["id"])
                        outcome[what] = doc["kpis"]
                    times[what].append(time.perf_counter() - t0)
                    log(f"    ({key}) round {round_ + 1}: {what} {times[what][-1]:.2f} s")
        finally:
            service.close()
        rows[key] = {"label": label, "start_s": start_s,
                     **{f"{w}_s": statistics.median(v) for w, v in times.items()},
                     "runs": times, "outcome": outcome}
    same = all(r["outcome"] == rows["a"]["outcome"] for r in rows.values())
    print(f"\nScenario-to-result latency on the demo plant ({args.latency_machines} machines, "
          f"one line, a battery pack); {os.cpu_count()} cores {platform.machine()}, Python "
          f"{platform.python_version()}; median of {args.latency_repeat}\n")
    print(f"  {'backend':36}{'start s':>9}{'line s':>9}{'pack s':>9}{'slot s':>9}"
          f"{'line vs (a)':>13}{'slot vs (a)':>13}")
    for key, row in rows.items():
        print(f"  {f'({key}) ' + row['label']:36}{row['start_s']:>9.2f}{row['line_s']:>9.2f}"
              f"{row['pack_s']:>9.2f}{row['slot_s']:>9.2f}"
              f"{rows['a']['line_s'] / row['line_s']:>12.2f}x"
              f"{rows['a']['slot_s'] / row['slot_s']:>12.2f}x")
    print(f"\nresults identical across backends: {'yes' if same else 'NO'} (best slot "
          f"{rows['a']['outcome']['slot']})")
    print(json.dumps({"bench": "scenario-latency", "machines": args.latency_machines,
                      "repeat": args.latency_repeat, "identical": same,
                      "backends": {k: {n: v for n, v in r.items() if n != "outcome"}
                                   for k, r in rows.items()}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2000, help="samples per chunk")
    parser.add_argument("--steps", type=int, default=3000, help="steps of 1 s per chunk")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes of (b) and CPUs of (c)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of (a), (b), (c) in turn; the median wall time counts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-ray", action="store_true", help="run (a) and (b) only")
    parser.add_argument("--latency", action="store_true",
                        help="measure the scenario-to-result latency on the demo plant")
    parser.add_argument("--latency-machines", type=int, default=4)
    parser.add_argument("--latency-repeat", type=int, default=3)
    args = parser.parse_args()
    if args.latency:
        latency(args)
        return
    if min(args.chunks, args.samples, args.steps, args.repeat) < 1 or args.workers < 2:
        parser.error("need --chunks, --samples, --steps, --repeat >= 1 and --workers >= 2")
    tasks = [(args.seed + k, args.samples, args.steps) for k in range(args.chunks)]
    work = args.chunks * args.samples * args.steps  # sample-steps

    labels = {"a": "in process, vectorized", "b": f"LocalExecutor, {args.workers} processes",
              "c": f"RayExecutor, local, {args.workers} CPUs"}
    executors: dict[str, Executor] = {"a": LocalExecutor(workers=1)}
    starts: dict[str, float | None] = {"a": None}

    log(f"(b) LocalExecutor, {args.workers} processes: starting the pool ...")
    starts["b"], executors["b"] = timed_start(lambda: LocalExecutor(workers=args.workers),
                                              args.workers)
    log(f"  started in {starts['b']:.2f} s")
    ray_version = package_version("ray")
    skipped: str | None = None
    if args.skip_ray:
        skipped = "--skip-ray"
    elif ray_version is None:
        skipped = "ray is not installed (pip install 'holotwin[ray]')"
    else:
        log(f"(c) RayExecutor, a local Ray {ray_version} instance with {args.workers} CPUs: "
            "starting Ray ...")
        try:
            starts["c"], executors["c"] = timed_start(
                lambda: RayExecutor(num_cpus=args.workers), args.workers)
        except ComputeError as exc:
            skipped = f"Ray did not start: {exc}"
        else:
            log(f"  started in {starts['c']:.2f} s")
    if skipped:
        log(f"(c) not run: {skipped}")

    walls: dict[str, list[float]] = {key: [] for key in executors}
    reference: list[tuple[float, float, float]] = []
    identical = True
    try:
        for round_ in range(1, args.repeat + 1):
            for key, executor in executors.items():
                log(f"round {round_}/{args.repeat}, ({key}) {labels[key]}: {args.chunks} chunks "
                    f"of {args.samples} samples x {args.steps} steps ...")
                wall, results = run(key, executor, tasks)
                walls[key].append(wall)
                if not reference:
                    reference.extend(results)
                elif results != reference:
                    identical = False
                    log(f"    ({key}) RESULTS DIFFER from (a)")
                log(f"    ({key}) {wall:.2f} s, {work / wall / 1e6:.2f} M sample-steps/s")
    finally:
        for executor in executors.values():
            executor.close()

    rows: dict[str, dict[str, Any]] = {}
    for key, times in walls.items():
        wall = statistics.median(times)
        rows[key] = {"label": labels[key], "start_s": starts[key], "wall_s": wall,
                     "wall_s_runs": times, "sample_steps_per_s": work / wall}
    baseline = rows["a"]["sample_steps_per_s"]
    for row in rows.values():
        row["ratio_vs_a"] = row["sample_steps_per_s"] / baseline
        row["ratio_vs_a_best"] = min(walls["a"]) / min(row["wall_s_runs"])

    print(f"\nScenario ensembles: BatteryCircuit Monte Carlo, {args.chunks} chunks x "
          f"{args.samples:,} samples x {args.steps:,} steps of {DT:g} s "
          f"({work:,} sample-steps); {os.cpu_count()} cores {platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}"
          f"{f', ray {ray_version}' if ray_version else ''}; median of {args.repeat} "
          "rounds\n")
    print(f"  {'backend':36}{'start s':>9}{'wall s':>9}{'(min-max)':>14}"
          f"{'M sample-steps/s':>18}{'vs (a)':>8}{'best vs best':>14}")
    for key, row in rows.items():
        start_text = "-" if row["start_s"] is None else f"{row['start_s']:.2f}"
        spread = f"({min(row['wall_s_runs']):.2f}-{max(row['wall_s_runs']):.2f})"
        print(f"  {f'({key}) ' + row['label']:36}{start_text:>9}{row['wall_s']:>9.2f}"
              f"{spread:>14}{row['sample_steps_per_s'] / 1e6:>18.2f}"
              f"{row['ratio_vs_a']:>7.2f}x{row['ratio_vs_a_best']:>13.2f}x")
    if skipped:
        print(f"  (c) not run: {skipped}")
    print(f"\nresults identical across backends and rounds: {'yes' if identical else 'NO'} "
          f"(chunk 0: mean terminal voltage {reference[0][0]:.4f} V at {args.steps * DT:g} s)")
    print(json.dumps({
        "bench": "scenarios", "chunks": args.chunks, "samples": args.samples,
        "steps": args.steps, "dt_s": DT, "workers": args.workers, "repeat": args.repeat,
        "seed": args.seed, "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "ray": ray_version, "identical": identical,
        "ray_skipped": skipped, "backends": rows,
    }))


if __name__ == "__main__":
    main()
