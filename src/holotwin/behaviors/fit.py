"""Calibrate a behavior to recorded data: :func:`fit_parameters` and :class:`FitResult`.

The behavior is simulated over the recorded ``times`` from ``x0`` (default: its initial
state), stepping by the time differences with each input sample held until the next one, and
the named parameters are adjusted by SciPy's trust-region least squares
(``scipy.optimize.least_squares``) to minimize the weighted differences between the
simulated and the measured outputs. Measurements that are NaN are left out (an output that
is not measured is a column of NaN). By default each output is weighted by the inverse of
the standard deviation of its measurements, so outputs in different units count alike.

The parameters are searched in units of their starting values (the behavior's defaults, or
the values of the instance passed in: that is how to give a starting guess), so parameters
of very different sizes are handled alike. The Jacobian is taken by forward differences,
all parameters in one batched simulation (a behavior's maths takes one parameter value per
row). Standard errors are the usual linearized ones, ``s² (JᵀJ)⁻¹`` with ``s²`` the
residual variance: approximate, and only meaningful when the fit is good.

>>> import numpy as np
>>> from holotwin.behaviors.building_zone import BuildingZone
>>> times = np.arange(0.0, 2 * 86400.0, 900.0)   # two days, every fifteen minutes
>>> heating = np.where((times // 21600) % 2 == 0, 3000.0, 0.0)   # 6 h on, 6 h off
>>> u = np.column_stack([heating, np.full_like(times, 278.15), np.zeros((times.size, 2))])
>>> true = BuildingZone(exterior_resistance=0.015)
>>> x, z = true.initial_state(), []
>>> for k in range(times.size):
...     z.append(true.output(x)[0])
...     x = true.next_state(x, u[k:k + 1], 900.0)
>>> result = fit_parameters(BuildingZone, ["exterior_resistance"], times, u, np.array(z))
>>> result.success, round(result.values["exterior_resistance"], 6)
(True, 0.015)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from holotwin.behaviors.base import Array, Behavior
from holotwin.errors import InvalidInputError

__all__ = ["FitResult", "fit_parameters"]

#: the weighted residual that stands in for a simulation that diverged at a trial point
_PENALTY = 1e6
_STEP = float(np.sqrt(np.finfo(np.float64).eps))


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit_parameters`.

    ``values`` and ``stderr``: each fitted parameter's value and approximate standard error
    (its unit); ``rms``: the root-mean-square difference between simulated and measured
    values of each output (its unit; NaN if never measured); ``success`` and ``message``:
    what the optimizer reports; ``nfev``: the simulations it ran; ``behavior``: a behavior
    with the fitted values.
    """

    values: Mapping[str, float]
    stderr: Mapping[str, float]
    rms: Mapping[str, float]
    success: bool
    message: str
    nfev: int
    behavior: Behavior


def fit_parameters(
    behavior: Behavior | type[Behavior],
    names: Sequence[str],
    times: ArrayLike,
    inputs: ArrayLike | None,
    outputs: ArrayLike,
    x0: ArrayLike | None = None,
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    output_weights: Sequence[float] | None = None,
) -> FitResult:
    """Fit the parameters ``names`` of ``behavior`` (a class, or an instance whose values
    are the starting guess and the fixed values of the others) to the record.

    ``times``: ``(N,)`` strictly increasing (s); ``inputs``: ``(N, len(inputs))`` (``(N,)``
    for one input, None for none); ``outputs``: ``(N, len(outputs))`` measured at ``times``
    (``(N,)`` for one output), NaN where not measured; ``x0``: the state at ``times[0]``;
    ``bounds``: ``{name: (low, high)}`` for any of ``names``; ``output_weights``: one weight
    per output, replacing the default ``1 / std``. Raises :class:`InvalidInputError` for
    input that does not fit the behavior.
    """
    if isinstance(behavior, type) and issubclass(behavior, Behavior):
        template = behavior()
    elif isinstance(behavior, Behavior):
        template = behavior
    else:
        raise InvalidInputError(f"Expected a Behavior class or instance, got {behavior!r}")
    label = template.behavior_name
    names = _names(template, names)
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise InvalidInputError(f"times must be at least two finite, strictly increasing "
                                f"values, got shape {t.shape}")
    u = _table(inputs, t.size, template.inputs, "inputs", label)
    z = _table(outputs, t.size, template.outputs, "outputs", label)
    if not np.all(np.isfinite(u)):
        raise InvalidInputError(f"inputs of {label} must be finite (hold the last value over "
                                f"gaps)")
    mask = np.isfinite(z)
    if not mask.any():
        raise InvalidInputError(f"outputs of {label} hold no measurement (all NaN)")
    start = template.initial_state()[0] if x0 is None else np.asarray(x0, dtype=np.float64)
    start = np.reshape(start, -1)
    if start.shape != (len(template.states),) or not np.all(np.isfinite(start)):
        raise InvalidInputError(f"x0 of {label} must be {len(template.states)} finite values "
                                f"({', '.join(template.states)}), got shape {start.shape}")
    weights = _weights(output_weights, z, mask, template.outputs, label)
    low, high = _bounds(bounds, names)
    guess = np.array([template.p[n][0] for n in names])
    scale = np.where(guess != 0.0, np.abs(guess), 1.0)
    problem = _Problem(template, names, scale, high / scale, start, u, np.diff(t), z, mask,
                       weights)
    z0 = np.clip(guess, low, high) / scale
    first = problem.weighted(problem.simulate(z0[None, :]))[0]
    if not np.all(np.isfinite(first)):
        raise InvalidInputError(f"Simulating {label} with the starting values gives non-finite "
                                f"outputs; start from other values")
    result = least_squares(problem.residuals, z0, jac=problem.jacobian,
                           bounds=(low / scale, high / scale))
    fitted = np.asarray(result.x) * scale
    jac = np.asarray(result.jac)
    dof = jac.shape[0] - jac.shape[1]
    if dof > 0:
        variance = float(np.sum(np.asarray(result.fun) ** 2)) / dof
        stderr = np.sqrt(np.abs(np.diag(np.linalg.pinv(jac.T @ jac)) * variance)) * scale
    else:
        stderr = np.full(len(names), np.inf)
    error = problem.simulate(np.asarray(result.x)[None, :])[0] - z
    rms = {name: float(np.sqrt(np.mean(error[mask[:, j], j] ** 2))) if mask[:, j].any()
           else float("nan") for j, name in enumerate(template.outputs)}
    return FitResult(
        values={n: float(v) for n, v in zip(names, fitted, strict=True)},
        stderr={n: float(s) for n, s in zip(names, stderr, strict=True)},
        rms=rms, success=bool(result.success), message=str(result.message),
        nfev=int(result.nfev), behavior=problem.behavior(np.asarray(result.x)[None, :]))


class _Problem:
    """The simulation and residuals of one fit, in parameters scaled by their start."""

    def __init__(self, template: Behavior, names: list[str], scale: Array, high: Array,
                 x0: Array, u: Array, dt: Array, z: Array, mask: NDArray[np.bool_],
                 weights: Array) -> None:
        self.template, self.names, self.scale, self.high = template, names, scale, high
        self.x0, self.u, self.dt, self.z, self.mask = x0, u, dt, z, mask
        self.weights = np.broadcast_to(weights, z.shape)[mask]
        self.measured = z[mask]

    def behavior(self, scaled: Array) -> Behavior:
        """The behavior with one row per row of ``scaled`` ``(R, n)`` parameter values."""
        values = dict(self.template.p)
        for j, name in enumerate(self.names):
            values[name] = scaled[:, j] * self.scale[j]
        return type(self.template)(**values)

    def simulate(self, scaled: Array) -> Array:
        """Simulated outputs ``(R, N, len(outputs))`` for ``scaled`` ``(R, n)``."""
        model = self.behavior(scaled)
        rows = scaled.shape[0]
        x = np.tile(self.x0, (rows, 1))
        out = np.empty((self.dt.size + 1, rows, self.z.shape[1]))
        out[0] = model.output(x)
        for k, step in enumerate(self.dt):
            x = model.next_state(x, np.tile(self.u[k], (rows, 1)), float(step))
            out[k + 1] = model.output(x)
        return np.swapaxes(out, 0, 1)

    def weighted(self, simulated: Array) -> Array:
        """Weighted residuals ``(R, m)`` over the measured values."""
        return (simulated[:, self.mask] - self.measured) * self.weights

    def residuals(self, scaled: Array) -> Array:
        r = self.weighted(self.simulate(scaled[None, :]))[0]
        return np.where(np.isfinite(r), r, _PENALTY)

    def jacobian(self, scaled: Array) -> Array:
        """Forward differences, every parameter in one batched simulation."""
        n = scaled.size
        step = _STEP * np.maximum(1.0, np.abs(scaled))
        step = np.where(scaled + step > self.high, -step, step)  # stay inside the bounds
        rows = np.tile(scaled, (n + 1, 1))
        rows[1:] += np.diag(step)
        r = self.weighted(self.simulate(rows))
        r = np.where(np.isfinite(r), r, _PENALTY)
        return np.asarray((r[1:] - r[0]).T / step)


def _names(template: Behavior, names: Sequence[str]) -> list[str]:
    chosen = [names] if isinstance(names, str) else list(names)
    label = template.behavior_name
    if not chosen:
        raise InvalidInputError(f"Name at least one parameter of {label} to fit")
    for name in chosen:
        if name not in template.parameters:
            raise InvalidInputError(f"{label} has no parameter {name!r}; its parameters: "
                                    f"{', '.join(template.parameters)}")
    if len(set(chosen)) != len(chosen):
        raise InvalidInputError(f"Parameter names to fit repeat: {chosen}")
    for key, value in template.p.items():
        if value.size != 1:
            raise InvalidInputError(f"Fit one asset at a time: parameter {key!r} of {label} "
                                    f"has {value.size} values")
    return chosen


def _table(values: ArrayLike | None, rows: int, columns: tuple[str, ...], what: str,
           label: str) -> Array:
    if values is None and not columns:
        return np.zeros((rows, 0))
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1 and len(columns) == 1:
        array = array[:, None]
    if array.shape != (rows, len(columns)):
        raise InvalidInputError(
            f"{what} of {label} must have one row per time ({rows}) and {len(columns)} "
            f"columns ({', '.join(columns) or 'none'}), got shape {array.shape}")
    return array


def _weights(given: Sequence[float] | None, z: Array, mask: NDArray[np.bool_], columns: tuple[str, ...],
             label: str) -> Array:
    if given is not None:
        weights = np.asarray(given, dtype=np.float64)
        if (weights.shape != (len(columns),) or not np.all(np.isfinite(weights))
                or np.any(weights < 0) or not np.any(weights > 0)):
            raise InvalidInputError(
                f"output_weights of {label} must be {len(columns)} finite, non-negative "
                f"weights ({', '.join(columns)}), not all zero, got {given!r}")
        return weights
    spread = np.array([np.std(z[mask[:, j], j]) if mask[:, j].any() else 0.0
                       for j in range(len(columns))])
    return np.where(spread > 0.0, 1.0 / np.where(spread > 0.0, spread, 1.0), 1.0)


def _bounds(bounds: Mapping[str, tuple[float, float]] | None,
            names: list[str]) -> tuple[Array, Array]:
    low, high = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    for key, pair in (bounds or {}).items():
        if key not in names:
            raise InvalidInputError(f"bounds name {key!r}, which is not fitted ({names})")
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise InvalidInputError(f"bounds of {key!r} must be a pair (low, high), got "
                                    f"{pair!r}") from None
        if not lo < hi:
            raise InvalidInputError(f"bounds of {key!r} must be (low, high) with low < high, "
                                    f"got {pair!r}")
        low[names.index(key)], high[names.index(key)] = lo, hi
    return low, high
