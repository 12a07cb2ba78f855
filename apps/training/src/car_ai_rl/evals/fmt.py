"""Text formatting of metric values, intervals and differences (rates in percent)."""

from __future__ import annotations

import math

from car_ai_rl.evals.metrics import METRICS
from car_ai_rl.evals.stats import Interval

NA = "n/a"


def _is_rate(metric: str) -> bool:
    return METRICS[metric].is_rate


def number(metric: str, value: float | None, signed: bool = False) -> str:
    """One value in display units: ``92.5%`` for rates, ``27.31`` otherwise."""
    if value is None or not math.isfinite(value):
        return NA
    sign = "+" if signed else ""
    if _is_rate(metric):
        return f"{value * 100:{sign}.1f}"
    return f"{value:{sign}.3g}" if abs(value) >= 1000 else f"{value:{sign}.2f}"


def estimate(metric: str, interval: Interval | None) -> str:
    """``92.5% [88.0, 95.4]`` or ``27.31 m/s [27.02, 27.60]``."""
    if interval is None:
        return NA
    unit = "%" if _is_rate(metric) else f" {METRICS[metric].unit}".rstrip()
    low, high = number(metric, interval.low), number(metric, interval.high)
    return f"{number(metric, interval.value)}{unit} [{low}, {high}]"


def difference(metric: str, interval: Interval | None) -> str:
    """``-12.5 pts [-17.0, -8.1]`` or ``+0.42 m/s [+0.10, +0.77]``."""
    if interval is None:
        return NA
    unit = " pts" if _is_rate(metric) else f" {METRICS[metric].unit}".rstrip()
    low = number(metric, interval.low, signed=True)
    high = number(metric, interval.high, signed=True)
    return f"{number(metric, interval.value, signed=True)}{unit} [{low}, {high}]"


def threshold_text(metric: str, threshold: float, relative: bool) -> str:
    """A rule threshold: ``2 pts`` (relative) or ``1%`` for rates, ``1.5 m/s`` otherwise."""
    if metric in METRICS and _is_rate(metric):
        return f"{threshold * 100:g}{' pts' if relative else '%'}"
    unit = METRICS[metric].unit if metric in METRICS else ""
    return f"{threshold:g} {unit}".rstrip()
