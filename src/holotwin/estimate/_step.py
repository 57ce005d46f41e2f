"""What every estimator does with the caller's input before its maths (private).

:func:`checked_step` validates one ``estimate(t, u, z, mask)`` call and returns the selected
rows, their steps ``dt``, inputs and measurements; :func:`rows_of` gives the behavior to run
on those rows when some parameters are per twin (each repeated for the sigma points or
particles of its row).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior
from holotwin.errors import InvalidInputError
from holotwin.estimate.base import Estimator

__all__ = ["Step", "advance", "check_parameters", "checked_step", "floats", "observe",
           "rows_of", "star_points", "used_outputs"]


@dataclass(frozen=True)
class Step:
    """One checked measurement of the selected rows (``R`` of them)."""

    rows: NDArray[np.bool_]  # (B,)
    t: Array  # (R,) the new times
    dt: Array  # (R, 1) seconds since each row's estimate
    u: Array  # (R, n_u)
    z: Array  # (R, n_z), NaN where an output was not measured


def checked_step(estimator: Estimator, t: float | ArrayLike, u: ArrayLike, z: ArrayLike,
                 mask: ArrayLike | None) -> Step:
    """Validate an ``estimate`` call; raise :class:`InvalidInputError` on bad input."""
    behavior = estimator.behavior
    name = behavior.behavior_name
    batch = estimator.t.shape[0]
    if mask is None:
        rows = np.ones(batch, dtype=bool)
    else:
        rows = np.asarray(mask)
        if rows.dtype != np.bool_ or rows.shape != (batch,):
            raise InvalidInputError(f"mask must be {batch} booleans (one per row), got "
                                    f"{rows.dtype} of shape {rows.shape}")
    n_u, n_z = len(behavior.inputs), len(behavior.outputs)
    inputs = floats(u, "u")
    if inputs.ndim == 1 and inputs.shape[0] == n_u:
        inputs = np.broadcast_to(inputs, (batch, n_u))
    if inputs.shape != (batch, n_u):
        raise InvalidInputError(
            f"u must have shape ({batch}, {n_u}) or ({n_u},) for the inputs of {name} "
            f"({', '.join(behavior.inputs) or 'none'}), got {inputs.shape}")
    measured = floats(z, "z")
    if measured.shape != (batch, n_z):
        raise InvalidInputError(
            f"z must have shape ({batch}, {n_z}) for the outputs of {name} "
            f"({', '.join(behavior.outputs)}), got {measured.shape}")
    dt = estimator._step_times(t, rows)
    inputs, measured = inputs[rows], measured[rows]
    if not np.all(np.isfinite(inputs)):
        raise InvalidInputError("u must be finite in every selected row")
    if np.any(np.isinf(measured)):
        raise InvalidInputError("z must be finite or NaN (not measured), not infinite")
    # the times as given (t0 + (t - t0) can differ from t in the last bit)
    target = Estimator._times(t, batch, "t", rows)[rows]
    return Step(rows, target, dt[:, None], np.array(inputs), measured)


def floats(value: ArrayLike, what: str) -> Array:
    """``value`` as a float array, or :class:`InvalidInputError` if it holds no numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be an array of numbers: {exc}") from None


def check_parameters(behavior: Behavior, batch: int) -> None:
    """Each parameter must be one value or one per row of the estimator."""
    for key, value in behavior.p.items():
        if value.size not in (1, batch):
            raise InvalidInputError(
                f"Parameter {key!r} of {behavior.behavior_name} has {value.size} values; an "
                f"estimator of {batch} rows needs 1 or {batch}")


def rows_of(behavior: Behavior, rows: NDArray[np.bool_], repeat: int) -> Behavior:
    """``behavior`` for the selected ``rows`` each repeated ``repeat`` times (row-major, as
    ``np.repeat``): the behavior itself unless a parameter has one value per row."""
    if all(value.size == 1 for value in behavior.p.values()):
        return behavior
    view = copy.copy(behavior)  # only ``p`` differs; the maths reads it per call
    view.p = {key: value if value.size == 1 else np.repeat(value[rows], repeat)
              for key, value in behavior.p.items()}
    return view


def used_outputs(z: Array) -> tuple[NDArray[np.bool_], Array]:
    """Which outputs each row measured, and ``z`` with the others set to 0."""
    used = ~np.isnan(z)
    return used, np.where(used, z, 0.0)


def star_points(x: Array, offsets: Array) -> Array:
    """``x`` ``(R, n)`` and ``x`` plus and minus each column of ``offsets`` ``(R, n, n)``:
    ``(R, 2n + 1, n)`` (sigma points; finite-difference points when ``offsets`` is
    diagonal)."""
    columns = np.swapaxes(offsets, 1, 2)
    return np.concatenate([x[:, None, :], x[:, None, :] + columns, x[:, None, :] - columns],
                          axis=1)


def advance(behavior: Behavior, rows: NDArray[np.bool_], points: Array, u: Array,
            dt: Array) -> Array:
    """Every point ``(R, K, n)`` of the selected rows ``dt`` ``(R, 1)`` seconds on under the
    row's inputs ``u`` ``(R, n_u)``: one ``next_state`` call on ``R * K`` rows."""
    r, k, n = points.shape
    model = rows_of(behavior, rows, k)
    moved = model.next_state(points.reshape(r * k, n), np.repeat(u, k, axis=0),
                             np.repeat(dt, k, axis=0))
    return np.asarray(moved, dtype=np.float64).reshape(r, k, n)


def observe(behavior: Behavior, rows: NDArray[np.bool_], points: Array) -> Array:
    """The outputs of every point ``(R, K, n)``: ``(R, K, n_z)``, one ``output`` call."""
    r, k, n = points.shape
    seen = rows_of(behavior, rows, k).output(points.reshape(r * k, n))
    return np.asarray(seen, dtype=np.float64).reshape(r, k, -1)
