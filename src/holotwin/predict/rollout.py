"""The simulation loop the predictors share: many samples of many twins, one step at a time.

:func:`roll_out` advances ``B`` rows of ``S`` states each (samples, or sigma points) from the
prediction's start, flattened to ``(B * S, n)`` so that each step is **one** call of the
behavior's ``next_state``. For every sample it records the first time each event's threshold
is met; a sample that has met every event stops there (its state is held, as ProgPy ends a
sample's simulation at its event), and the loop ends early once every sample has. Trajectories
are not stored: every ``stride`` steps a ``summarize`` function reduces the states and the
outputs to a mean and bands, so memory does not grow with the number of samples times steps.

Conventions (those of ProgPy's ``simulate_to_threshold``, so results can be compared):

- step ``k`` runs from ``(k - 1) dt`` to ``k dt`` with the inputs ``load((k - 1) dt, x)``
  held over it;
- the time of an event is the end ``k dt`` of the first step after which its threshold is met
  (0 if it is met at the start): resolution ``dt``;
- the loop runs until ``k dt >= horizon``.

>>> import numpy as np
>>> from holotwin.behaviors import BatteryCircuit
>>> from holotwin.predict.base import PiecewiseLoad
>>> cell = BatteryCircuit()
>>> x = cell.initial_state(2)[:, None, :]          # two twins, one sample each
>>> x[1, 0, 1] -= 1000.0                           # the second holds 1,000 C less
>>> def mean_only(values):
...     return values.mean(axis=1), np.repeat(values.mean(axis=1)[..., None], 5, axis=2)
>>> schedule = Plan(t0=np.zeros(2), dt=1.0, steps=5000, stride=100)
>>> run = roll_out(cell, x, PiecewiseLoad([], [[2.0]]), schedule, mean_only)
>>> run.time_of_event[:, 0, 0].tolist(), run.steps, float(run.times[-1]), run.stopped_early
([3803.0, 3303.0], 3803, 3803.0, True)
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import GaussianState, SampledState, StateDistribution
from holotwin.errors import InvalidInputError
from holotwin.predict.base import Load, PiecewiseLoad

__all__ = ["DEFAULT_SAVE_POINTS", "Plan", "Rollout", "Summarize", "per_sample", "plan", "roll_out"]

#: trajectory points kept over the horizon when ``save_every`` is not given
DEFAULT_SAVE_POINTS = 200

#: reduces values ``(B, S, m)`` to a mean ``(B, m)`` and bands ``(B, m, len(BANDS))``
Summarize = Callable[[Array], tuple[Array, Array]]


@dataclass(frozen=True)
class Plan:
    """A checked request: start times ``t0`` ``(B,)``, ``steps`` of ``dt`` to reach the
    horizon, and a summary kept every ``stride`` steps."""

    t0: Array
    dt: float
    steps: int
    stride: int


def _seconds(name: str, value: object) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return seconds


def plan(behavior: Behavior, state: StateDistribution, *, horizon: float, dt: float,
         save_every: float | None, t0: float | ArrayLike) -> Plan:
    """Check a prediction request (raising :class:`InvalidInputError`) and plan its steps."""
    if not isinstance(state, GaussianState | SampledState):
        raise InvalidInputError(f"The state must be a GaussianState or a SampledState, got "
                                f"{type(state).__name__}")
    width = state.mean.shape[1]
    if width != len(behavior.states):
        raise InvalidInputError(
            f"The state has {width} values per row; {behavior.behavior_name} has "
            f"{len(behavior.states)} states ({', '.join(behavior.states)})")
    if state.batch < 1:
        raise InvalidInputError("The state has no rows")
    horizon, dt = _seconds("horizon", horizon), _seconds("dt", dt)
    steps = max(1, math.ceil(horizon / dt - 1e-9))
    if save_every is None:
        stride = max(1, round(steps / DEFAULT_SAVE_POINTS))
    else:
        stride = max(1, round(_seconds("save_every", save_every) / dt))
    starts = np.asarray(t0, dtype=np.float64)
    if starts.ndim > 1 or starts.size not in (1, state.batch) \
            or not np.all(np.isfinite(starts)):
        raise InvalidInputError(f"t0 must be a finite number or {state.batch} of them (one per "
                                f"row), got {t0!r}")
    return Plan(np.broadcast_to(starts.reshape(-1), (state.batch,)).copy(), float(dt), steps,
                stride)


@dataclass
class Rollout:
    """What :func:`roll_out` returns: ``time_of_event`` ``(B, S, n_events)`` (seconds after the
    start, NaN if not met), the kept ``times`` and the summaries there (``state_mean``
    ``(T, B, n_x)``, ``state_bands`` ``(T, B, n_x, bands)``, likewise for outputs), the
    number of ``steps`` simulated and whether it ``stopped_early``."""

    time_of_event: Array
    times: Array
    state_mean: Array
    state_bands: Array
    output_mean: Array
    output_bands: Array
    steps: int
    stopped_early: bool


def per_sample(behavior: Behavior, batch: int, count: int) -> Behavior:
    """``behavior`` with per-row parameters (arrays of shape ``(batch,)``) repeated for each
    of a row's ``count`` samples, so the flattened ``(batch * count, n)`` states see their
    own row's values; ``behavior`` itself when every parameter is a scalar."""
    sizes = {key: value.size for key, value in behavior.p.items()}
    if all(size == 1 for size in sizes.values()):
        return behavior
    wrong = sorted(key for key, size in sizes.items() if size not in (1, batch))
    if wrong:
        raise InvalidInputError(
            f"Parameter {wrong[0]!r} of {behavior.behavior_name} has {sizes[wrong[0]]} values; "
            f"the state has {batch} rows (give one value, or one per row)")
    expanded = copy.copy(behavior)
    expanded.p = {key: np.repeat(value, count) if value.size > 1 else value
                  for key, value in behavior.p.items()}
    return expanded


def _inputs(load: Load | PiecewiseLoad, t: float, x: Array, n_inputs: int) -> Array:
    u = np.asarray(load(t, x), dtype=np.float64)
    rows = x.shape[0]
    if u.shape == (n_inputs,):
        return np.broadcast_to(u, (rows, n_inputs))
    if u.shape == (rows, n_inputs):
        return u
    raise InvalidInputError(f"The load must return {n_inputs} inputs, as shape ({n_inputs},) "
                            f"or ({rows}, {n_inputs}); at t={t} it returned shape {u.shape}")


def roll_out(
    behavior: Behavior,
    x0: Array,
    load: Load | PiecewiseLoad,
    schedule: Plan,
    summarize: Summarize,
    noise: tuple[Array, np.random.Generator] | None = None,
) -> Rollout:
    """Simulate ``x0`` ``(B, S, n)`` as planned; see the module docs. ``noise``: process noise
    variances per state per second and a generator; Gaussian noise of variance ``q dt`` is
    added after each step."""
    batch, count, width = x0.shape
    model = per_sample(behavior, batch, count)
    n_inputs, n_events = len(behavior.inputs), len(behavior.events)
    dt, stride = schedule.dt, schedule.stride
    x = x0.reshape(batch * count, width).copy()
    scale, rng = (None, None) if noise is None else (np.sqrt(noise[0] * dt), noise[1])

    times: list[float] = []
    summaries: list[tuple[Array, Array, Array, Array]] = []

    def keep(t: float) -> None:
        times.append(t)
        state_mean, state_bands = summarize(x.reshape(batch, count, width))
        z = model.output(x)
        output_mean, output_bands = summarize(z.reshape(batch, count, z.shape[1]))
        summaries.append((state_mean, state_bands, output_mean, output_bands))

    met = model.threshold_met(x)
    toe = np.where(met, 0.0, np.nan)
    done = np.all(met, axis=1) if n_events else np.zeros(x.shape[0], dtype=bool)
    any_done, stopped = bool(done.any()), bool(n_events and done.all())
    keep(0.0)
    k, warned = 0, False
    while k < schedule.steps and not stopped:
        k += 1
        u = _inputs(load, (k - 1) * dt, x, n_inputs)
        if any_done:
            # samples past their events are held: the model may overflow out there, which
            # is no one's concern (the rows still running are checked below)
            with np.errstate(all="ignore"):
                moved = model.next_state(x, u, dt)
        else:
            moved = model.next_state(x, u, dt)
        if scale is not None and rng is not None:
            moved = moved + scale * rng.standard_normal(x.shape)
        if any_done:
            moved = np.where(done[:, None], x, moved)
        if not warned and not np.all(np.isfinite(moved[~done] if any_done else moved)):
            warned = True
            warnings.warn(f"{behavior.behavior_name} produced non-finite states at t={k * dt} "
                          "s; their samples will not meet their events", RuntimeWarning,
                          stacklevel=3)
        x = moved
        if n_events:
            fresh = model.threshold_met(x) & np.isnan(toe)
            if fresh.any():
                toe[fresh] = k * dt
                done = ~np.any(np.isnan(toe), axis=1)
                any_done, stopped = True, bool(done.all())
        if k % stride == 0 or stopped or k == schedule.steps:
            keep(k * dt)

    parts = [np.stack(column) for column in zip(*summaries, strict=True)]
    return Rollout(toe.reshape(batch, count, n_events), np.asarray(times), parts[0], parts[1],
                   parts[2], parts[3], k, stopped and k < schedule.steps)
