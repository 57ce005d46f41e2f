"""Streaming anomaly detectors: one reading stream in, one anomaly score per reading out.

Every detector follows the same protocol (see :class:`Detector`): ``update(values)`` takes a
1-D batch of finite readings in time order, returns one score in ``[0, 1]`` per reading (high
means anomalous) and learns from the batch; ``flags(scores)`` applies the threshold. The score of
a reading depends only on the readings before it and itself, never on how the stream was cut
into batches: feeding a stream in pieces gives exactly (bit for bit) the scores of feeding it at
once, so a service can feed arbitrary batches and replay history after a restart.

A detector is described by a JSON spec such as ``{"kind": "ewma", "alpha": 0.05}``;
:func:`make_detector` validates one (unknown keys and out-of-range values are an
:class:`~holotwin.errors.InvalidInputError`) and :meth:`Detector.spec` gives it back with every
default filled in. :data:`DETECTORS` maps each kind to its class:

- ``robust-z`` (:class:`RobustZDetector`): a reading far from the rolling median, in MADs;
- ``ewma`` (:class:`EwmaDetector`): a reading far from an exponentially weighted average;
- ``cusum`` (:class:`CusumDetector`): a persistent shift of the mean (two-sided CUSUM);
- ``windowed-gaussian`` (:class:`WindowedGaussianDetector`): NAB's windowed Gaussian baseline;
- ``half-space-trees`` (:class:`HalfSpaceTreesDetector`): river's Half-Space Trees (extra);
- ``residual`` (:class:`ResidualDetector`): a physics model's innovations stop looking like noise;
- ``relative-entropy`` (:class:`RelativeEntropyDetector`): the histogram of the last window is
  unlike every histogram learnt as normal (Wang et al. 2011, NAB's "Relative Entropy").

**The score scale.** The probability-based kinds (``robust-z``, ``ewma``,
``windowed-gaussian``, ``residual``) compute a tail probability ``p`` (how often noise alone
would give a reading at least this far out) and report its *surprise* in decades,
``L = -log10(p)``, mapped to ``[0, 1)`` by one formula::

    score = L / (L + 1)        p = 10 ** -(score / (1 - score))

=====  ========  ================  =====================================
score  p         |z| (normal,       note
                 two-sided)
=====  ========  ================  =====================================
0      1         0                 a reading at the centre
0.5    1e-1      1.6
0.667  1e-2      2.6               default threshold: ``relative-entropy``
0.75   1e-3      3.3
0.8    1e-4      3.9               default threshold: ``ewma``,
                                   ``windowed-gaussian``, ``residual``
0.83   1.3e-5    4.4               default threshold: ``robust-z``
0.9    1e-9      6.1
0.95   1e-19     9.1
0.99   1e-99     21.2
0.999  1e-999    67.8
=====  ========  ================  =====================================

(The |z| column is for the normal-based kinds; for ``residual``, p is the chi-square tail of
the window's sum of squared innovations; for ``relative-entropy``, the chi-square tail of the
window's G statistic against the nearest normal histogram; its default threshold, 0.667 or
p = 0.01, is the method's own decision at its default confidence of 0.99.)

``p`` is computed in log space (``scipy.special.log_ndtr`` for the normal, the chi-square
upper tail with a continued fraction beyond ``chdtrc``'s range), so the score keeps ranking
readings far past where ``1 - p`` rounds to 1 (|z| of 8.3 in float64): it still tells apart
readings 1 % apart in |z| up to |z| of about 3e7, and rounds to exactly 1 only beyond about
2e8 (where ``L / (L + 1)`` itself does). So a rule ``anomaly.x > 0.9`` means "p below 1e-9"
for every one of these kinds, and ``anomaly.x < 0.5`` "p above 0.1, ordinary noise".
:func:`score_from_probability` and :func:`probability_from_score` convert.

``relative-entropy`` also scores on this scale, but its p comes from binned windows and
reaches 0 (score 1.0) for a window with a reading in a bin that no normal histogram fills, as a
new extreme of the stream always is, so its scores tie at 1.0 there.

Two kinds have their own scales: ``cusum`` scores ``S / (S + h)`` (0.5 is the alarm, S = h;
see :class:`CusumDetector`) and ``half-space-trees`` scores river's normalized mass, to rank
rather than read. A rule that must mean the same for every kind uses the flag
(``anomaly.x.flag == 1``), which applies each detector's own threshold.

Default thresholds of the statistical kinds give about 1e-4 false alarms per reading on
independent Gaussian noise (measured in ``tests/analytics/test_detectors.py``); for
``relative-entropy`` that holds once it has learnt (from about the 1,000th reading), and it
alarms more often before (see :class:`RelativeEntropyDetector`).
"""


from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from holotwin.analytics.detectors.base import (
    Detector,
    probability_from_score,
    score_from_probability,
)
from holotwin.analytics.detectors.half_space_trees import HalfSpaceTreesDetector
from holotwin.analytics.detectors.relative_entropy import RelativeEntropyDetector
from holotwin.analytics.detectors.statistical import (
    CusumDetector,
    EwmaDetector,
    ResidualDetector,
    RobustZDetector,
    WindowedGaussianDetector,
)
from holotwin.errors import InvalidInputError

__all__ = [
    "DETECTORS",
    "CusumDetector",
    "Detector",
    "EwmaDetector",
    "HalfSpaceTreesDetector",
    "RelativeEntropyDetector",
    "ResidualDetector",
    "RobustZDetector",
    "WindowedGaussianDetector",
    "make_detector",
    "probability_from_score",
    "score_from_probability",
]

# -- registry and specs -----------------------------------------------------------------------

DETECTORS: Mapping[str, type[Detector]] = MappingProxyType({
    cls.kind: cls for cls in (RobustZDetector, EwmaDetector, CusumDetector,
                              WindowedGaussianDetector, HalfSpaceTreesDetector, ResidualDetector,
                              RelativeEntropyDetector)
})
"""Every detector class by its ``kind``."""


def make_detector(spec: Mapping[str, Any]) -> Detector:
    """A new detector from a JSON spec such as ``{"kind": "ewma", "alpha": 0.05}``.

    ``kind`` is required; every other key must be one of the kind's parameters, with a value in
    its range (missing ones take their defaults). Anything else raises
    :class:`~holotwin.errors.InvalidInputError` naming the key, the value and what is allowed.

    >>> make_detector({"kind": "residual", "window": 10}).spec()
    {'kind': 'residual', 'window': 10, 'threshold': 0.8}
    >>> make_detector({"kind": "ewma", "alpha": 2})
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: Detector 'ewma': 'alpha' must be a number in (0, 0.5], got 2
    """
    kinds = ", ".join(sorted(DETECTORS))
    if not isinstance(spec, Mapping):
        raise InvalidInputError(
            f"A detector spec must be an object, got {type(spec).__name__}")
    if "kind" not in spec:
        raise InvalidInputError(f"A detector spec needs 'kind', one of: {kinds}")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in DETECTORS:
        raise InvalidInputError(f"Unknown detector kind {kind!r}; known kinds: {kinds}")
    cls = DETECTORS[kind]
    names = [p.name for p in cls._params]
    for key in spec:
        if key != "kind" and key not in names:
            raise InvalidInputError(
                f"Detector '{kind}' has no parameter {key!r}; its parameters are: "
                + ", ".join(names))
    params = {k: v for k, v in spec.items() if k != "kind"}
    return cls(**params)
