"""Statistics against published values, hand computations and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from car_ai_rl.evals import stats


def paired_table(n11: int, n12: int, n21: int, n22: int) -> tuple[np.ndarray, np.ndarray]:
    """Two paired 0/1 arrays with the given 2x2 table (rows: a, columns: b)."""
    a = np.array([1] * n11 + [1] * n12 + [0] * n21 + [0] * n22)
    b = np.array([1] * n11 + [0] * n12 + [1] * n21 + [0] * n22)
    return a, b


# ---------------------------------------------------------------- published values
@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), single proportion, Wilson
    ],
)
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    interval = stats.wilson_interval(k, n, 0.95)
    assert interval.value == pytest.approx(k / n)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)
    assert interval.n == n


def test_z_values() -> None:
    assert stats.z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_value(0.90) == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError):
        stats.z_value(1.0)


def test_newcombe_paired_matches_published_value() -> None:
    # Cavo et al. (2012) paired table, Fagerland, Lydersen & Laake, chapter 8:
    # Newcombe square-and-add: -0.0621 (95% CI -0.1186 to -0.0046).
    a, b = paired_table(59, 6, 16, 80)
    interval = stats.newcombe_paired_diff(a, b, 0.95)
    assert interval.value == pytest.approx(-0.0621, abs=5e-5)
    assert interval.low == pytest.approx(-0.1186, abs=5e-5)
    assert interval.high == pytest.approx(-0.0046, abs=5e-5)


def test_newcombe_unpaired_matches_published_value() -> None:
    # Perondi et al. (2004), 7/34 vs 1/34: Newcombe hybrid score 0.1765 (0.0189 to 0.3404).
    interval = stats.newcombe_unpaired_diff(7, 34, 1, 34, 0.95)
    assert interval.value == pytest.approx(0.1765, abs=5e-5)
    assert interval.low == pytest.approx(0.0189, abs=5e-5)
    assert interval.high == pytest.approx(0.3404, abs=5e-5)


# ------------------------------------------------------------- bootstrap by hand
def test_bootstrap_mean_follows_the_documented_procedure_by_hand() -> None:
    x = np.array([1.0, 5.0, 10.0])
    # default_rng(2).integers(0, 3, size=(5, 3)) draws these resamples:
    # [2,0,0] -> (10+1+1)/3 = 4.0      [0,1,2] -> (1+5+10)/3 = 5.333
    # [1,0,1] -> (5+1+5)/3 = 3.667     [1,2,2] -> (5+10+10)/3 = 8.333
    # [2,0,2] -> (10+1+10)/3 = 7.0
    # sorted: 3.667, 4.0, 5.333, 7.0, 8.333; at 80% the 10% and 90% quantiles sit at
    # positions 0.4 and 3.6: 3.667 + 0.4 * 0.333 = 3.8 and 7.0 + 0.6 * 1.333 = 7.8.
    np.testing.assert_array_equal(
        stats.bootstrap_indices(3, 5, seed=2)[0],
        [[2, 0, 0], [0, 1, 2], [1, 0, 1], [1, 2, 2], [2, 0, 2]],
    )
    interval = stats.bootstrap_mean(x, confidence=0.8, resamples=5, seed=2)
    assert interval.value == pytest.approx(16.0 / 3.0)
    assert interval.low == pytest.approx(3.8)
    assert interval.high == pytest.approx(7.8)


def test_bootstrap_ratio_on_a_two_episode_case() -> None:
    # Episodes with 1 and 3 events over 1 km each: resamples give 1/km (both first),
    # 3/km (both second) or 2/km (one each), with probabilities 1/4, 1/4, 1/2.
    interval = stats.bootstrap_ratio([1.0, 3.0], [1.0, 1.0], 0.95, resamples=4000, seed=1)
    assert interval.value == pytest.approx(2.0)
    assert (interval.low, interval.high) == (1.0, 3.0)
    narrow = stats.bootstrap_ratio([1.0, 3.0], [1.0, 1.0], 0.40, resamples=4000, seed=1)
    assert (narrow.low, narrow.high) == (2.0, 2.0)


def test_bootstrap_matches_normal_theory_on_a_large_sample() -> None:
    x = np.random.default_rng(1).normal(10.0, 2.0, 400)
    interval = stats.bootstrap_mean(x, 0.95, resamples=4000, seed=5)
    half = 1.959964 * x.std(ddof=1) / math.sqrt(x.size)
    assert interval.low == pytest.approx(x.mean() - half, abs=0.1 * half)
    assert interval.high == pytest.approx(x.mean() + half, abs=0.1 * half)


def test_bootstrap_is_repeatable_per_seed() -> None:
    x = np.random.default_rng(0).exponential(3.0, 50)
    assert stats.bootstrap_mean(x, seed=11) == stats.bootstrap_mean(x, seed=11)
    assert stats.bootstrap_mean(x, seed=11) != stats.bootstrap_mean(x, seed=12)


def test_paired_differences_of_identical_data_are_exactly_zero() -> None:
    x = np.random.default_rng(0).normal(size=100)
    km = np.full(100, 1.2)
    assert stats.paired_bootstrap_mean_diff(x, x) == stats.Interval(0.0, 0.0, 0.0, 100)
    assert stats.paired_bootstrap_ratio_diff(x**2, km, x**2, km) == stats.Interval(
        0.0, 0.0, 0.0, 100
    )


def test_pairing_narrows_the_interval_for_correlated_policies() -> None:
    rng = np.random.default_rng(4)
    scenario = rng.normal(20.0, 5.0, 300)  # what the seed makes hard or easy
    a = scenario + rng.normal(0.0, 0.5, 300)
    b = scenario + 0.3 + rng.normal(0.0, 0.5, 300)
    paired = stats.paired_bootstrap_mean_diff(a, b, seed=0)
    ia, ib = stats.bootstrap_mean(a, seed=0), stats.bootstrap_mean(b, seed=1)
    unpaired = stats.normal_diff_from_intervals(ia, 0.95, ib, 0.95)
    assert paired.high < 0.0  # the 0.3 difference is found with pairing...
    assert unpaired.low < 0.0 < unpaired.high  # ...and drowned in scenario noise without
    assert paired.high - paired.low < 0.2 * (unpaired.high - unpaired.low)


def test_newcombe_paired_with_identical_outcomes_centres_on_zero() -> None:
    a = np.array([1] * 90 + [0] * 10)
    interval = stats.newcombe_paired_diff(a, a)
    assert interval.value == 0.0
    assert -0.05 < interval.low <= 0.0 <= interval.high < 0.05


# --------------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 2000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_contains_estimate_and_shrinks_with_n(n: int, data, confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    small = stats.wilson_interval(k, n, confidence)
    big = stats.wilson_interval(4 * k, 4 * n, confidence)
    assert 0.0 <= small.low <= small.value <= small.high <= 1.0
    assert big.high - big.low < small.high - small.low
    assert stats.wilson_interval(k, n, 0.999).high >= small.high


@settings(max_examples=200, deadline=None)
@given(
    counts=st.tuples(*[st.integers(0, 60)] * 4).filter(lambda c: sum(c) > 0),
    confidence=st.sampled_from([0.9, 0.95, 0.99]),
)
def test_newcombe_paired_contains_difference(counts, confidence: float) -> None:
    a, b = paired_table(*counts)
    interval = stats.newcombe_paired_diff(a, b, confidence)
    assert -1.0 <= interval.low <= interval.value <= interval.high <= 1.0
    assert interval.value == pytest.approx(a.mean() - b.mean())


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(x=st.lists(finite, min_size=2, max_size=40).filter(lambda v: max(v) - min(v) > 1e-3))
def test_bootstrap_contains_mean_and_shrinks_with_n(x: list[float]) -> None:
    values = np.array(x)
    small = stats.bootstrap_mean(values, 0.95, resamples=1000, seed=0)
    big = stats.bootstrap_mean(np.tile(values, 16), 0.95, resamples=1000, seed=0)
    for interval in (small, big):
        assert interval.low <= interval.value <= interval.high
    assert big.high - big.low < small.high - small.low
