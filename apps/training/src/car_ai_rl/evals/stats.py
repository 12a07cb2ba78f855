"""Confidence intervals: Wilson for rates, percentile bootstrap for means and ratios,
Newcombe's square-and-add intervals for differences of rates.

Every bootstrap draws its resamples from ``numpy.random.default_rng(seed)`` as
``rng.integers(0, n, size=(rows, n))`` in blocks of :data:`BOOTSTRAP_BLOCK_ROWS` rows, so a
given seed, data size and resample count always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

BOOTSTRAP_BLOCK_ROWS = 256
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval over ``n`` observations."""

    value: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile: 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


# ---------------------------------------------------------------------------- rates
def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``successes`` out of ``n`` trials (``n >= 1``)."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    z = z_value(confidence)
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return Interval(p, low, high, n)


def newcombe_paired_diff(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Interval:
    """Difference of two paired rates, ``mean(a) - mean(b)``, with Newcombe's interval.

    ``a`` and ``b`` hold 0/1 outcomes of the same units (here: the same seeds). This is
    Newcombe's (1998) square-and-add interval for paired data: the Wilson intervals of both
    rates, combined with the continuity-corrected phi correlation of the 2x2 table.
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("need two non-empty 1-d arrays of the same length")
    n = a.size
    n11 = int(np.sum(a & b))
    n12 = int(np.sum(a & ~b))
    n21 = int(np.sum(~a & b))
    n22 = n - n11 - n12 - n21
    p1, p2 = (n11 + n12) / n, (n11 + n21) / n
    w1 = wilson_interval(n11 + n12, n, confidence)
    w2 = wilson_interval(n11 + n21, n, confidence)
    margins = (n11 + n12) * (n21 + n22) * (n11 + n21) * (n12 + n22)
    cross = n11 * n22 - n12 * n21
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    elif cross > n / 2:
        phi = (cross - n / 2) / math.sqrt(margins)
    else:
        phi = cross / math.sqrt(margins)
    d1, e1 = p1 - w1.low, w1.high - p1
    d2, e2 = p2 - w2.low, w2.high - p2
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, d1 * d1 - 2 * phi * d1 * e2 + e2 * e2))
    high = diff + math.sqrt(max(0.0, d2 * d2 - 2 * phi * d2 * e1 + e1 * e1))
    return Interval(diff, max(-1.0, low), min(1.0, high), n)


def newcombe_unpaired_diff(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> Interval:
    """Difference of two independent rates, ``k1/n1 - k2/n2``, Newcombe's hybrid score interval."""
    w1 = wilson_interval(k1, n1, confidence)
    w2 = wilson_interval(k2, n2, confidence)
    diff = w1.value - w2.value
    low = diff - math.hypot(w1.value - w1.low, w2.high - w2.value)
    high = diff + math.hypot(w2.value - w2.low, w1.high - w1.value)
    return Interval(diff, max(-1.0, low), min(1.0, high), min(n1, n2))


# ------------------------------------------------------------------------ bootstrap
Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps a (rows, n) matrix of resampled indices to ``rows`` statistic values."""


def bootstrap_indices(n: int, resamples: int, seed: int) -> list[np.ndarray]:
    """The resampled index blocks used by every bootstrap in this module."""
    rng = np.random.default_rng(seed)
    blocks = []
    for start in range(0, resamples, BOOTSTRAP_BLOCK_ROWS):
        rows = min(BOOTSTRAP_BLOCK_ROWS, resamples - start)
        blocks.append(rng.integers(0, n, size=(rows, n)))
    return blocks


def bootstrap_interval(
    statistic: Statistic,
    point: float,
    n: int,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` over ``n`` resampled units.

    The bounds are the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
    (numpy's default linear interpolation) of the resampled statistics.
    """
    if n < 1:
        raise ValueError("need at least one observation")
    z_value(confidence)  # validates the level
    values = np.concatenate([statistic(idx) for idx in bootstrap_indices(n, resamples, seed)])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Interval(point, math.nan, math.nan, n)
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(point, float(low), float(high), n)


def bootstrap_mean(
    x: np.ndarray,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Mean of ``x`` with a percentile bootstrap interval."""
    x = np.asarray(x, dtype=np.float64)
    return bootstrap_interval(
        lambda idx: x[idx].mean(axis=1), float(x.mean()), x.size, confidence, resamples, seed
    )


def bootstrap_ratio(
    numerator: np.ndarray,
    denominator: np.ndarray,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """``sum(numerator) / sum(denominator)`` with a bootstrap over units (e.g. events per km)."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    return bootstrap_interval(
        lambda idx: _ratio(num[idx].sum(axis=1), den[idx].sum(axis=1)),
        float(_ratio(num.sum(), den.sum())),
        num.size,
        confidence,
        resamples,
        seed,
    )


def paired_bootstrap_mean_diff(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """``mean(a - b)`` over paired units, with a bootstrap of the per-unit differences."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("paired arrays must have the same shape")
    return bootstrap_mean(a - b, confidence, resamples, seed)


def paired_bootstrap_ratio_diff(
    num_a: np.ndarray,
    den_a: np.ndarray,
    num_b: np.ndarray,
    den_b: np.ndarray,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Difference of two ratios of sums over the same units, resampling units jointly."""
    arrays = [np.asarray(v, dtype=np.float64) for v in (num_a, den_a, num_b, den_b)]
    if len({v.shape for v in arrays}) != 1:
        raise ValueError("paired arrays must have the same shape")
    na, da, nb, db = arrays

    def statistic(idx: np.ndarray) -> np.ndarray:
        return _ratio(na[idx].sum(axis=1), da[idx].sum(axis=1)) - _ratio(
            nb[idx].sum(axis=1), db[idx].sum(axis=1)
        )

    point = float(_ratio(na.sum(), da.sum()) - _ratio(nb.sum(), db.sum()))
    return bootstrap_interval(statistic, point, na.size, confidence, resamples, seed)


# ------------------------------------------------------- differences from summaries
def normal_diff_from_intervals(
    a: Interval, confidence_a: float, b: Interval, confidence_b: float, confidence: float = 0.95
) -> Interval:
    """``a - b`` for independent estimates known only by their intervals.

    Each standard error is taken as the interval's width over ``2 z``; the difference gets
    a normal interval with the combined standard error.
    """
    se_a = (a.high - a.low) / (2.0 * z_value(confidence_a))
    se_b = (b.high - b.low) / (2.0 * z_value(confidence_b))
    diff = a.value - b.value
    half = z_value(confidence) * math.hypot(se_a, se_b)
    return Interval(diff, diff - half, diff + half, min(a.n, b.n))


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out
