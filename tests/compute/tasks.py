"""Task functions for the executor tests: defined at module level so that worker processes
(which import this module by name) can run them."""

from __future__ import annotations

import os

import numpy as np

from holotwin.behaviors import Array, BatteryCircuit

#: standard deviations of the initial state around the default (tb K, qb C, qcp C, qcs C)
SPREAD = (0.5, 40.0, 0.5, 0.5)


def square(x: int) -> int:
    return x * x


def pid(_: object) -> int:
    return os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"item {x} is bad")
    return x


def battery_chunk(task: tuple[int, int, int]) -> Array:
    """``(seed, samples, steps)``: that many seeded samples of a BatteryCircuit's state,
    simulated together (one vectorized step per second) at 2 A; their outputs ``(samples, 2)``
    at the end."""
    seed, samples, steps = task
    cell = BatteryCircuit()
    rng = np.random.default_rng(seed)
    x = cell.initial_state(samples) + rng.normal(0.0, SPREAD, (samples, 4))
    u = np.full((samples, 1), 2.0)
    for _ in range(steps):
        x = cell.next_state(x, u, 1.0)
    return cell.output(x)
