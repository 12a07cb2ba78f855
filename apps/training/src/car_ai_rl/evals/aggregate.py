"""Per candidate x suite x supervisor mode: every metric with its interval, and its paired
difference against the baseline on the same seeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from car_ai_rl.evals.config import SupervisorMode
from car_ai_rl.evals.metrics import METRICS, Samples, paired_diff, samples, summarize
from car_ai_rl.evals.runner import EvalRun
from car_ai_rl.evals.stats import Interval


@dataclass(frozen=True)
class MetricResult:
    candidate: str
    suite: str
    supervisor: SupervisorMode
    metric: str
    estimate: Interval | None
    diff: Interval | None  # candidate - baseline; None for the baseline itself

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "suite": self.suite,
            "supervisor": self.supervisor,
            "metric": self.metric,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "diff_vs_baseline": self.diff.to_dict() if self.diff else None,
        }


def cell_samples(
    run: EvalRun, candidate: str, suite: str, supervisor: SupervisorMode, metric: str
) -> Samples | None:
    cell = run.cell(candidate, suite, supervisor)
    return samples(metric, cell.episodes, supervisor == "on")


def metric_estimate(
    run: EvalRun,
    candidate: str,
    suite: str,
    supervisor: SupervisorMode,
    metric: str,
    confidence: float,
) -> Interval | None:
    data = cell_samples(run, candidate, suite, supervisor, metric)
    return summarize(data, confidence, run.config.bootstrap)


def metric_diff(
    run: EvalRun,
    candidate: str,
    suite: str,
    supervisor: SupervisorMode,
    metric: str,
    confidence: float,
) -> Interval | None:
    baseline = run.config.baseline.name
    return paired_diff(
        cell_samples(run, candidate, suite, supervisor, metric),
        cell_samples(run, baseline, suite, supervisor, metric),
        confidence,
        run.config.bootstrap,
    )


def aggregate(run: EvalRun) -> list[MetricResult]:
    """Every metric of every cell at the config's confidence level, in config order."""
    confidence = run.config.confidence
    baseline = run.config.baseline.name
    out: list[MetricResult] = []
    for candidate, suite, mode in run.ordered_keys():
        for metric in METRICS:
            estimate = metric_estimate(run, candidate, suite, mode, metric, confidence)
            diff = None
            if candidate != baseline:
                diff = metric_diff(run, candidate, suite, mode, metric, confidence)
            out.append(MetricResult(candidate, suite, mode, metric, estimate, diff))
    return out
