"""Behaviors vs NASA ProgPy: the same battery, predicted and estimated by both, in one run.

    python bench/vs_progpy.py [--samples 1000] [--progpy-samples 1000] [--fleet 1000]
                              [--progpy-fleet 1000] [--updates 10] [--seed 7]

The problem: ProgPy's ``BatteryCircuit`` and holotwin's (same equations, same defaults), a
piecewise discharge of 2 / 1 / 4 / 2 / 3 A switching at 600 / 900 / 1800 / 3000 s, steps of
dt = 1 s, measurement noise variances t: 2 K^2, v: 0.02 V^2. Three comparisons:

(a) time of end of discharge (EOD). The truth is the noise-free simulation from the default
    initial state (both libraries give the same). Both Monte Carlo predictors start from the
    same Gaussian at t = 0: the default initial state with standard deviations 0.5 K, 40 C,
    0.5 C, 0.5 C (tb, qb, qcp, qcs), no process noise, horizon 5,000 s. holotwin's
    ``MonteCarloPredictor`` draws its own ``--samples``; ProgPy's ``MonteCarlo`` is given
    ``--progpy-samples`` of one shared draw (as ``UnweightedSamples``) and holotwin is run
    on the same draw too, so the two can also be compared sample by sample.
(b) wall time of those Monte Carlo predictions; holotwin's is the median of 3 runs. ProgPy
    runs its samples in chunks of at most 100 (one ``predict`` call each, to show progress;
    it simulates each sample on its own anyway); with ``--progpy-samples`` below
    ``--samples`` its time is scaled up linearly, and the output says so.
(c) one unscented Kalman filter update for a fleet of ``--fleet`` twins: holotwin's
    ``UnscentedKalmanFilter`` with the fleet as one batch, ProgPy's
    ``UnscentedKalmanFilter`` once per twin in a loop (``--progpy-fleet`` of them, scaled
    up when fewer, and said so). Each twin has its own true charge and current; both
    filters start from the same Gaussian, use the same sigma-point parameters (ProgPy's
    defaults alpha 1, beta 0, kappa -1), process noise 1e-3 per state per second and the
    measurement noise above, and see the same noisy measurements for ``--updates``
    seconds; time per update is the total over the updates divided by their number.

Prints progress, a table, whether each target is met ((a) holotwin's mean within 0.5% of
ProgPy's and of the truth; (b) at least 100x faster; (c) at least 50x faster) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from holotwin.behaviors import BatteryCircuit, GaussianState, SampledState
from holotwin.predict import MonteCarloPredictor, PiecewiseLoad

SWITCHES = [600.0, 900.0, 1800.0, 3000.0]
CURRENTS = [2.0, 1.0, 4.0, 2.0, 3.0]
MEASUREMENT_NOISE = [2.0, 0.02]  # variances of t (K^2) and v (V^2)
INITIAL_STD = [0.5, 40.0, 0.5, 0.5]  # tb K, qb C, qcp C, qcs C
PROCESS_NOISE = 1e-3  # variance per state per second (UKF)
HORIZON = 5000.0
DT = 1.0
SAVE_EVERY = 25.0
UKF = {"alpha": 1.0, "beta": 0.0, "kappa": -1.0}  # ProgPy's defaults, used by both
TARGETS = {"toe_rel": 0.005, "mc_speedup": 100.0, "ukf_speedup": 50.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progpy_model() -> Any:
    from progpy.models import BatteryCircuit as ProgpyBattery

    return ProgpyBattery()


def progpy_load(model: Any) -> Any:
    from progpy.loading import Piecewise

    return Piecewise(model.InputContainer, [*SWITCHES, math.inf], {"i": CURRENTS})


def truth() -> dict[str, float]:
    """EOD of the noise-free simulation, by both libraries."""
    cell = BatteryCircuit()
    load = PiecewiseLoad(SWITCHES, [[c] for c in CURRENTS])
    x = cell.initial_state()
    t = 0.0
    while not cell.threshold_met(x)[0, 0]:
        x = cell.next_state(x, load(t, x)[None, :], DT)
        t += DT
    model = progpy_model()
    result = model.simulate_to_threshold(progpy_load(model), dt=DT, save_freq=SAVE_EVERY)
    return {"holotwin": t, "progpy": float(result.times[-1])}


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def monte_carlo(samples: int, progpy_samples: int, seed: int) -> dict[str, Any]:
    from progpy.predictors import MonteCarlo
    from progpy.uncertain_data import UnweightedSamples

    cell = BatteryCircuit()
    load = PiecewiseLoad(SWITCHES, [[c] for c in CURRENTS])
    start = GaussianState(cell.initial_state(), np.diag(np.square(INITIAL_STD))[None])

    log(f"holotwin: MonteCarloPredictor, {samples} samples, 3 runs ...")
    walls, means = [], []
    for run in range(3):
        predictor = MonteCarloPredictor(samples, rng=seed + run)
        wall, result = timed(partial(predictor.predict, cell, start, load, horizon=HORIZON,
                                     dt=DT, save_every=SAVE_EVERY))
        eod = result.time_of_event["EOD"]
        walls.append(wall)
        means.append(float(eod.mean[0]))
        log(f"  run {run + 1}: {wall:.3f} s, mean EOD {means[-1]:.2f} s, reached "
            f"{float(eod.reached[0]):.0%}")
    ours_mean = means[0]

    shared = start.sample(progpy_samples, np.random.default_rng(seed + 100))
    ours_shared = MonteCarloPredictor(progpy_samples).predict(
        cell, SampledState(shared), load, horizon=HORIZON, dt=DT, save_every=SAVE_EVERY)
    ours_shared_times = ours_shared.time_of_event["EOD"].samples[0]

    model = progpy_model()
    future = progpy_load(model)
    theirs_predictor = MonteCarlo(model)
    theirs: list[float] = []
    chunk = 100
    log(f"ProgPy: MonteCarlo, {progpy_samples} samples, in chunks of {chunk} (about "
        f"{0.25 * progpy_samples:.0f} s on a 2-core machine) ...")
    progpy_wall = 0.0
    for first in range(0, progpy_samples, chunk):
        part = shared[0, first:first + chunk]
        state = UnweightedSamples([dict(zip(model.states, row, strict=True)) for row in part],
                                  _type=model.StateContainer)
        wall, result = timed(partial(theirs_predictor.predict, state, future,
                                     n_samples=len(part), dt=DT, horizon=HORIZON,
                                     save_freq=SAVE_EVERY))
        progpy_wall += wall
        theirs.extend(math.nan if sample.get("EOD") is None else float(sample["EOD"])
                      for sample in result.time_of_event)
        log(f"  {len(theirs)}/{progpy_samples} samples, {progpy_wall:.1f} s")
    theirs_times = np.asarray(theirs)
    scale = samples / progpy_samples
    return {
        "samples": samples,
        "progpy_samples": progpy_samples,
        "holotwin_mean": ours_mean,
        "holotwin_means_3_runs": means,
        "holotwin_shared_mean": float(np.nanmean(ours_shared_times)),
        "progpy_mean": float(np.nanmean(theirs_times)),
        "progpy_std": float(np.nanstd(theirs_times)),
        "holotwin_std": float(np.nanstd(ours_shared_times)),
        "per_sample_max_abs_diff": float(np.nanmax(np.abs(theirs_times - ours_shared_times))),
        "per_sample_identical": int(np.sum(theirs_times == ours_shared_times)),
        "holotwin_wall_s": statistics.median(walls),
        "holotwin_walls_s": walls,
        "progpy_wall_s": progpy_wall,
        "progpy_wall_s_at_samples": progpy_wall * scale,
        "progpy_scaled": progpy_samples != samples,
    }


def ukf_fleet(fleet: int, progpy_fleet: int, updates: int, seed: int) -> dict[str, Any]:
    try:
        from holotwin.estimate import UnscentedKalmanFilter
    except ImportError as exc:
        log(f"(c) skipped: holotwin.estimate.UnscentedKalmanFilter is not available ({exc})")
        return {"skipped": str(exc)}
    from progpy.state_estimators import UnscentedKalmanFilter as ProgpyUKF
    from progpy.uncertain_data import MultivariateNormalDist

    rng = np.random.default_rng(seed)
    cell = BatteryCircuit()
    # the fleet: true charge 0 to 600 C below full, currents 1 to 4 A
    true = cell.initial_state(fleet)
    true[:, 1] -= rng.uniform(0.0, 600.0, fleet)
    current = rng.uniform(1.0, 4.0, (fleet, 1))
    measured = []
    for _ in range(updates):
        true = cell.next_state(true, current, DT)
        measured.append(cell.output(true) + rng.normal(0.0, np.sqrt(MEASUREMENT_NOISE),
                                                       (fleet, 2)))
    prior_mean = cell.initial_state(fleet)
    prior_cov = np.tile(np.diag(np.square([1.0, 400.0, 1.0, 1.0])), (fleet, 1, 1))

    log(f"holotwin: UnscentedKalmanFilter, one batch of {fleet} twins, {updates} updates ...")
    ours = UnscentedKalmanFilter(cell, GaussianState(prior_mean, prior_cov), 0.0,
                                 process_noise=PROCESS_NOISE,
                                 measurement_noise=MEASUREMENT_NOISE, **UKF)
    ours_wall = 0.0
    for k in range(updates):
        wall, _ = timed(partial(ours.estimate, float(k + 1) * DT, current, measured[k]))
        ours_wall += wall
    log(f"  {ours_wall / updates * 1000:.2f} ms per update")

    model = progpy_model()
    log(f"ProgPy: UnscentedKalmanFilter, {progpy_fleet} filters in a loop, {updates} "
        "updates ...")
    filters = [ProgpyUKF(model, MultivariateNormalDist(model.states, prior_mean[j],
                                                       prior_cov[j]),
                         t0=0.0, dt=DT, Q=np.diag([PROCESS_NOISE] * 4),
                         R=np.diag(MEASUREMENT_NOISE), **UKF)
               for j in range(progpy_fleet)]
    theirs_wall = 0.0
    for k in range(updates):
        inputs = [model.InputContainer({"i": float(current[j, 0])}) for j in range(progpy_fleet)]
        outputs = [model.OutputContainer({"t": float(measured[k][j, 0]),
                                          "v": float(measured[k][j, 1])})
                   for j in range(progpy_fleet)]
        started = time.perf_counter()
        for j, estimator in enumerate(filters):
            estimator.estimate(float(k + 1) * DT, inputs[j], outputs[j])
        theirs_wall += time.perf_counter() - started
        log(f"  update {k + 1}/{updates}: {theirs_wall:.2f} s so far")
    theirs_mean = np.array([list(f.x.mean.values()) for f in filters], dtype=np.float64)
    ours_mean = ours.state.mean[:progpy_fleet]
    scale = fleet / progpy_fleet
    return {
        "fleet": fleet,
        "progpy_fleet": progpy_fleet,
        "updates": updates,
        "holotwin_ms_per_update": ours_wall / updates * 1000,
        "progpy_ms_per_update": theirs_wall / updates * 1000,
        "progpy_ms_per_update_at_fleet": theirs_wall / updates * 1000 * scale,
        "progpy_scaled": progpy_fleet != fleet,
        "max_abs_diff_qb_C": float(np.max(np.abs(theirs_mean[:, 1] - ours_mean[:, 1]))),
        "max_abs_diff_tb_K": float(np.max(np.abs(theirs_mean[:, 0] - ours_mean[:, 0]))),
        "rms_error_qb_C": {
            "holotwin": float(np.sqrt(np.mean((ours_mean[:, 1] - true[:progpy_fleet, 1])**2))),
            "progpy": float(np.sqrt(np.mean((theirs_mean[:, 1] - true[:progpy_fleet, 1])**2))),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000,
                        help="Monte Carlo samples (holotwin, and the target for ProgPy)")
    parser.add_argument("--progpy-samples", type=int, default=None,
                        help="samples ProgPy really runs (default: --samples); its time is "
                             "scaled to --samples")
    parser.add_argument("--fleet", type=int, default=1000, help="twins in the UKF fleet")
    parser.add_argument("--progpy-fleet", type=int, default=None,
                        help="ProgPy filters really run (default: --fleet); scaled to --fleet")
    parser.add_argument("--updates", type=int, default=10, help="UKF updates timed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-ukf", action="store_true", help="run (a) and (b) only")
    args = parser.parse_args()
    progpy_samples = args.progpy_samples or args.samples
    progpy_fleet = args.progpy_fleet or args.fleet
    if not 1 <= progpy_samples <= args.samples or not 1 <= progpy_fleet <= args.fleet \
            or args.updates < 1:
        parser.error("need 1 <= --progpy-samples <= --samples, 1 <= --progpy-fleet <= "
                     "--fleet and --updates >= 1")
    # ProgPy's own deprecation notices are not ours to fix
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    log("truth: noise-free simulation to EOD ...")
    eod = truth()
    mc = monte_carlo(args.samples, progpy_samples, args.seed)
    ukf: dict[str, Any] = {"skipped": "--skip-ukf"} if args.skip_ukf else ukf_fleet(
        args.fleet, progpy_fleet, args.updates, args.seed)

    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b)

    toe_vs_progpy = rel(mc["holotwin_mean"], mc["progpy_mean"])
    toe_vs_truth = rel(mc["holotwin_mean"], eod["holotwin"])
    mc_ratio = mc["progpy_wall_s_at_samples"] / mc["holotwin_wall_s"]
    met_a = toe_vs_progpy < TARGETS["toe_rel"] and toe_vs_truth < TARGETS["toe_rel"]
    met_b = mc_ratio >= TARGETS["mc_speedup"]
    scaled_mc = (f" (scaled from {progpy_samples} samples)" if mc["progpy_scaled"] else "")

    print(f"\nholotwin vs ProgPy {version('progpy')}, BatteryCircuit, {os.cpu_count()} cores "
          f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}\n")
    print(f"(a) time of EOD, piecewise load {'/'.join(f'{c:g}' for c in CURRENTS)} A, dt {DT:g} s")
    print(f"  {'':44}{'EOD s':>10}{'rel. diff':>11}")
    print(f"  {'truth (noise-free), holotwin / ProgPy':44}{eod['holotwin']:>10.1f}"
          f"{rel(eod['holotwin'], eod['progpy']):>11.3%}")
    print(f"  {f'ProgPy MonteCarlo mean, {progpy_samples} samples':44}{mc['progpy_mean']:>10.2f}"
          f"{rel(mc['progpy_mean'], eod['holotwin']):>11.3%}  vs truth")
    print(f"  {f'holotwin MonteCarloPredictor mean, {args.samples}':44}{mc['holotwin_mean']:>10.2f}"
          f"{toe_vs_progpy:>11.3%}  vs ProgPy, {toe_vs_truth:.3%} vs truth")
    print(f"  {'holotwin on ProgPy samples, mean':44}{mc['holotwin_shared_mean']:>10.2f}"
          f"{rel(mc['holotwin_shared_mean'], mc['progpy_mean']):>11.3%}  vs ProgPy; "
          f"{mc['per_sample_identical']}/{progpy_samples} samples identical, max diff "
          f"{mc['per_sample_max_abs_diff']:g} s")
    print(f"\n(b) Monte Carlo wall time, {args.samples} samples")
    print(f"  ProgPy   {mc['progpy_wall_s_at_samples']:10.2f} s{scaled_mc}")
    print(f"  holotwin {mc['holotwin_wall_s']:10.3f} s (median of 3)")
    print(f"  ratio    {mc_ratio:10.0f}x")
    results: dict[str, Any] = {"truth": eod, "monte_carlo": mc, "ukf": ukf}
    met_c: bool | None = None
    if "skipped" in ukf:
        print(f"\n(c) UKF fleet update: not run ({ukf['skipped']})")
    else:
        ukf_ratio = ukf["progpy_ms_per_update_at_fleet"] / ukf["holotwin_ms_per_update"]
        met_c = ukf_ratio >= TARGETS["ukf_speedup"]
        scaled_ukf = (f" (scaled from {progpy_fleet} filters)" if ukf["progpy_scaled"] else "")
        print(f"\n(c) one UKF update, fleet of {args.fleet} twins (mean of {args.updates} updates)")
        print(f"  ProgPy, a filter per twin {ukf['progpy_ms_per_update_at_fleet']:10.1f} ms"
              f"{scaled_ukf}")
        print(f"  holotwin, one batch       {ukf['holotwin_ms_per_update']:10.2f} ms")
        print(f"  ratio                     {ukf_ratio:10.0f}x")
        print(f"  estimates agree: max |qb diff| {ukf['max_abs_diff_qb_C']:.3g} C, max |tb diff| "
              f"{ukf['max_abs_diff_tb_K']:.3g} K; RMS qb error vs truth holotwin "
              f"{ukf['rms_error_qb_C']['holotwin']:.1f} C, ProgPy "
              f"{ukf['rms_error_qb_C']['progpy']:.1f} C")
        results["ukf"]["ratio"] = ukf_ratio

    def verdict(met: bool | None) -> str:
        return "not run" if met is None else ("met" if met else "MISSED")

    print(f"\ntargets: (a) within 0.5% of ProgPy and truth: {verdict(met_a)}; (b) >= 100x: "
          f"{verdict(met_b)}{' (ProgPy time scaled)' if mc['progpy_scaled'] else ''}; "
          f"(c) >= 50x: {verdict(met_c)}"
          f"{' (ProgPy time scaled)' if ukf.get('progpy_scaled') else ''}")
    results.update({
        "bench": "vs_progpy", "progpy": version("progpy"), "numpy": np.__version__,
        "python": platform.python_version(), "cores": os.cpu_count(),
        "toe_rel_vs_progpy": toe_vs_progpy, "toe_rel_vs_truth": toe_vs_truth,
        "mc_ratio": mc_ratio,
        "targets_met": {"a": met_a, "b": met_b, "c": met_c},
    })
    print(json.dumps(results))


if __name__ == "__main__":
    main()
