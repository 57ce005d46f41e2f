"""Exact throughput of a two-machine line with one finite buffer, from its Markov chain.

Independent of the simulator: only numpy. Machines have exponential processing times (rates
``mu1``, ``mu2``, per s), optional exponential failures (rates ``p1``, ``p2``) and repairs
(``r1``, ``r2``); the buffer holds ``capacity`` parts, with blocking after service.

State ``(n, d1, d2)``: ``n`` in ``0 .. capacity + 2`` counts the parts in the buffer and in
machine 2, plus one when machine 1 holds a finished part it cannot pass on (``n = capacity +
2``: machine 1 blocked); ``d1``, ``d2`` are 1 when the machine is down. Machine 1 is never
starved (infinite supply), machine 2 never blocked (infinite sink). With operation-dependent
failures a machine fails only while it processes; with time-based failures whenever it is up.
A down machine cannot process, but a finished part still leaves it.
"""

from __future__ import annotations

import itertools

import numpy as np


def two_machine_throughput(mu1: float, mu2: float, capacity: int, *, p1: float = 0.0,
                           r1: float = 1.0, p2: float = 0.0, r2: float = 1.0,
                           operation_dependent: bool = True) -> float:
    """Parts per second leaving machine 2 in steady state."""
    top = capacity + 2
    states = list(itertools.product(range(top + 1), (0, 1), (0, 1)))
    index = {s: k for k, s in enumerate(states)}
    q = np.zeros((len(states), len(states)))

    def add(src: tuple[int, int, int], dst: tuple[int, int, int], rate: float) -> None:
        if rate > 0.0:
            q[index[src], index[dst]] += rate

    for n, d1, d2 in states:
        s = (n, d1, d2)
        works1 = d1 == 0 and n < top
        works2 = d2 == 0 and n >= 1
        if works1:
            add(s, (n + 1, d1, d2), mu1)
        if works2:
            add(s, (n - 1, d1, d2), mu2)
        if d1 == 0 and (works1 or not operation_dependent):
            add(s, (n, 1, d2), p1)
        if d2 == 0 and (works2 or not operation_dependent):
            add(s, (n, d1, 1), p2)
        if d1 == 1:
            add(s, (n, 0, d2), r1)
        if d2 == 1:
            add(s, (n, d1, 0), r2)
    np.fill_diagonal(q, -q.sum(axis=1))
    # pi Q = 0, sum(pi) = 1 (unreachable states get probability 0)
    a = np.vstack([q.T, np.ones(len(states))])
    b = np.zeros(len(states) + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return float(sum(pi[index[(n, d1, 0)]] * mu2
                     for n, d1, _ in states if n >= 1 and _ == 0))


def tandem_closed_form(mu1: float, mu2: float, capacity: int) -> float:
    """Reliable exponential machines: a birth-death chain on ``n = 0 .. K``, ``K = capacity +
    2``, so ``pi_n ~ rho**n`` with ``rho = mu1 / mu2`` and the throughput is ``mu2 * (1 -
    pi_0) = mu1 * (1 - rho**K) / (1 - rho**(K + 1))`` (``rho != 1``; at ``rho = 1`` it is
    ``mu * K / (K + 1)``)."""
    k = capacity + 2
    rho = mu1 / mu2
    if abs(rho - 1.0) < 1e-12:
        return mu1 * k / (k + 1)
    return mu1 * (1.0 - rho**k) / (1.0 - rho ** (k + 1))
