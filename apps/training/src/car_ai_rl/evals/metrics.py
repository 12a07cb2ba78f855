"""The evaluation metrics: how each is computed from per-episode arrays, with its interval.

Three kinds:

- ``rate``: a share of episodes (0/1 per episode). Wilson interval; paired differences use
  Newcombe's square-and-add interval for paired rates.
- ``mean``: the mean of a per-episode value. Percentile bootstrap; paired differences
  bootstrap the per-episode differences.
- ``ratio``: a sum of events over a sum of distance (per km). Bootstrap over episodes;
  paired differences resample the episodes of both policies jointly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from car_ai_rl.evals import stats
from car_ai_rl.evals.stats import Interval

MetricKind = Literal["rate", "mean", "ratio"]

EPISODE_KEYS: tuple[str, ...] = (
    "success",
    "collision",
    "at_fault_collision",
    "mean_speed_mps",
    "speed_tracking_error_mps",
    "exit_time_s",
    "has_exit_mission",
    "distance_m",
    "lane_changes",
    "supervisor_interventions",
    "mean_abs_jerk_mps3",
    "duration_s",
)
"""The per-episode arrays the runner must return."""


@dataclass(frozen=True)
class BootstrapSettings:
    resamples: int = stats.DEFAULT_RESAMPLES
    seed: int = stats.DEFAULT_SEED


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its kind, unit, display label and which direction is better."""

    name: str
    kind: MetricKind
    label: str
    unit: str
    higher_is_better: bool | None
    description: str
    needs_supervisor: bool = False

    @property
    def is_rate(self) -> bool:
        return self.kind == "rate"


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "success_rate",
            "rate",
            "mission success rate",
            "",
            True,
            "share of episodes whose missions all succeeded",
        ),
        MetricSpec(
            "collision_rate",
            "rate",
            "collision rate",
            "",
            False,
            "share of episodes with a collision of the ego car",
        ),
        MetricSpec(
            "at_fault_collision_rate",
            "rate",
            "at-fault collision rate",
            "",
            False,
            "share of episodes with a collision the ego car caused",
        ),
        MetricSpec(
            "exit_completion_rate",
            "rate",
            "exit completion rate",
            "",
            True,
            "share of episodes with an exit mission in which the car left on the ramp",
        ),
        MetricSpec(
            "mean_speed_mps",
            "mean",
            "mean speed",
            "m/s",
            None,
            "mean over episodes of the episode's mean speed",
        ),
        MetricSpec(
            "speed_tracking_error_mps",
            "mean",
            "speed-tracking error",
            "m/s",
            False,
            "mean over episodes of the mean |speed - target speed|",
        ),
        MetricSpec(
            "exit_time_s",
            "mean",
            "exit completion time",
            "s",
            False,
            "mean time from the start of an exit mission to leaving on the ramp, "
            "over completed exits",
        ),
        MetricSpec(
            "lane_changes_per_km",
            "ratio",
            "lane changes per km",
            "1/km",
            False,
            "all lane changes over all distance driven",
        ),
        MetricSpec(
            "interventions_per_km",
            "ratio",
            "supervisor interventions per km",
            "1/km",
            False,
            "all supervisor interventions over all distance driven",
            needs_supervisor=True,
        ),
        MetricSpec(
            "mean_abs_jerk_mps3",
            "mean",
            "mean absolute jerk",
            "m/s^3",
            False,
            "mean over episodes of the episode's mean |jerk|",
        ),
    )
}


@dataclass(frozen=True)
class Samples:
    """A metric's per-episode data for one run: 0/1 outcomes, values, or (events, km)."""

    kind: MetricKind
    values: np.ndarray  # outcomes or values; for ratios the events
    km: np.ndarray | None  # ratios only
    mask: np.ndarray  # which episodes count (e.g. only those with a completed exit)


def samples(metric: str, episodes: Mapping[str, np.ndarray], supervisor: bool) -> Samples | None:
    """Extract a metric's samples; ``None`` when it does not apply (no supervisor)."""
    spec = METRICS[metric]
    if spec.needs_supervisor and not supervisor:
        return None
    n = len(episodes["success"])
    every = np.ones(n, dtype=bool)
    km = np.asarray(episodes["distance_m"], dtype=np.float64) / 1000.0
    exit_time = np.asarray(episodes["exit_time_s"], dtype=np.float64)
    has_exit = np.asarray(episodes["has_exit_mission"]) > 0
    match metric:
        case "success_rate":
            return Samples("rate", _flag(episodes["success"]), None, every)
        case "collision_rate":
            return Samples("rate", _flag(episodes["collision"]), None, every)
        case "at_fault_collision_rate":
            return Samples("rate", _flag(episodes["at_fault_collision"]), None, every)
        case "exit_completion_rate":
            return Samples("rate", np.isfinite(exit_time) & has_exit, None, has_exit)
        case "exit_time_s":
            return Samples("mean", exit_time, None, np.isfinite(exit_time))
        case "lane_changes_per_km":
            return Samples("ratio", _float(episodes["lane_changes"]), km, every)
        case "interventions_per_km":
            return Samples("ratio", _float(episodes["supervisor_interventions"]), km, every)
        case "mean_speed_mps" | "speed_tracking_error_mps" | "mean_abs_jerk_mps3":
            values = _float(episodes[metric])
            return Samples("mean", values, None, np.isfinite(values))
    raise KeyError(metric)


def summarize(
    data: Samples | None, confidence: float, bootstrap: BootstrapSettings
) -> Interval | None:
    """The metric's estimate and interval; ``None`` when there is no data."""
    if data is None or not data.mask.any():
        return None
    values = data.values[data.mask]
    if data.kind == "rate":
        return stats.wilson_interval(int(values.sum()), values.size, confidence)
    if data.kind == "mean":
        return stats.bootstrap_mean(values, confidence, bootstrap.resamples, bootstrap.seed)
    assert data.km is not None
    km = data.km[data.mask]
    if km.sum() <= 0:
        return None
    return stats.bootstrap_ratio(values, km, confidence, bootstrap.resamples, bootstrap.seed)


def paired_diff(
    candidate: Samples | None,
    baseline: Samples | None,
    confidence: float,
    bootstrap: BootstrapSettings,
) -> Interval | None:
    """Candidate minus baseline over the episodes where both have data (same seeds)."""
    if candidate is None or baseline is None:
        return None
    both = candidate.mask & baseline.mask
    if not both.any():
        return None
    a, b = candidate.values[both], baseline.values[both]
    if candidate.kind == "rate":
        return stats.newcombe_paired_diff(a, b, confidence)
    if candidate.kind == "mean":
        return stats.paired_bootstrap_mean_diff(
            a, b, confidence, bootstrap.resamples, bootstrap.seed
        )
    assert candidate.km is not None and baseline.km is not None
    km_a, km_b = candidate.km[both], baseline.km[both]
    if km_a.sum() <= 0 or km_b.sum() <= 0:
        return None
    return stats.paired_bootstrap_ratio_diff(
        a, km_a, b, km_b, confidence, bootstrap.resamples, bootstrap.seed
    )


def check_episodes(episodes: Mapping[str, np.ndarray], n: int) -> None:
    """Raise ``ValueError`` unless every required per-episode array is there with length ``n``."""
    missing = [key for key in EPISODE_KEYS if key not in episodes]
    if missing:
        raise ValueError(f"episode metrics lack {', '.join(missing)}")
    wrong = [key for key in EPISODE_KEYS if np.shape(episodes[key]) != (n,)]
    if wrong:
        raise ValueError(f"episode metrics {', '.join(wrong)} do not have one value per seed ({n})")


def _flag(values: np.ndarray) -> np.ndarray:
    return np.asarray(values) > 0.5


def _float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
