"""Metric trends across model versions from the mission log, with regressions flagged.

Versions are the distinct models in the log, ordered by when each was first seen. For each
metric, suite and supervisor mode, a version's value is its latest stored estimate, and it
is compared with the previous version that has one. The change gets an interval for the
difference of independent estimates: Newcombe's hybrid score interval for rates, a normal
interval built from the two stored intervals otherwise. A version is flagged as regressed
when that whole interval lies on the worse side of zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from car_ai_rl.atomic_io import atomic_path
from car_ai_rl.errors import UserError
from car_ai_rl.evals import fmt
from car_ai_rl.evals.metrics import METRICS
from car_ai_rl.evals.mission_log import EvalRow, MissionLog
from car_ai_rl.evals.plots import TrendPoint, trend_figure
from car_ai_rl.evals.stats import (
    Interval,
    newcombe_unpaired_diff,
    normal_diff_from_intervals,
)


@dataclass(frozen=True)
class Version:
    index: int  # 1-based, in order of first_seen
    model_id: int
    label: str
    kind: str
    sha256: str | None
    first_seen: str


@dataclass(frozen=True)
class TrendRow:
    metric: str
    suite: str
    supervisor: str
    version: Version
    estimate: Interval
    confidence: float
    change: Interval | None  # versus the previous version with data
    regressed: bool
    scenario_changed: bool  # the suite's params or seeds differ from the previous version's


@dataclass(frozen=True)
class Trends:
    versions: list[Version]
    rows: list[TrendRow]

    @property
    def regressions(self) -> list[TrendRow]:
        return [r for r in self.rows if r.regressed]


def build_trends(rows: Sequence[EvalRow], confidence: float = 0.95) -> Trends:
    """Turn stored estimates (oldest model first) into per-series trends."""
    versions: dict[int, Version] = {}
    names: dict[int, str] = {}
    for row in rows:
        names.setdefault(row.model_id, row.candidate)
        if row.model_id not in versions:
            index = len(versions) + 1
            tag = row.model_sha256[:8] if row.model_sha256 else row.model_kind
            label = f"v{index} {names[row.model_id]}" + (
                f"@{tag}" if tag != names[row.model_id] else ""
            )
            versions[row.model_id] = Version(
                index, row.model_id, label, row.model_kind, row.model_sha256, row.first_seen
            )
    latest: dict[tuple[str, str, str, int], EvalRow] = {}
    for row in rows:  # ordered by time within a model: the last one wins
        if row.value is not None and row.ci_low is not None and row.ci_high is not None:
            latest[(row.metric, row.suite, row.supervisor, row.model_id)] = row
    series: dict[tuple[str, str, str], list[EvalRow]] = {}
    for (metric, suite, mode, _), row in latest.items():
        series.setdefault((metric, suite, mode), []).append(row)
    out: list[TrendRow] = []
    for (metric, suite, mode), points in sorted(series.items(), key=_series_order):
        points.sort(key=lambda r: versions[r.model_id].index)
        previous: EvalRow | None = None
        for row in points:
            estimate = Interval(row.value, row.ci_low, row.ci_high, row.n)  # type: ignore[arg-type]
            change = _change(metric, row, previous, confidence) if previous else None
            out.append(
                TrendRow(
                    metric=metric,
                    suite=suite,
                    supervisor=mode,
                    version=versions[row.model_id],
                    estimate=estimate,
                    confidence=row.confidence,
                    change=change,
                    regressed=_worse(metric, change),
                    scenario_changed=bool(previous and previous.suite_digest != row.suite_digest),
                )
            )
            previous = row
    return Trends(sorted(versions.values(), key=lambda v: v.index), out)


def _series_order(item: tuple[tuple[str, str, str], list[EvalRow]]) -> tuple[int, str, str]:
    metric, suite, mode = item[0]
    order = list(METRICS).index(metric) if metric in METRICS else len(METRICS)
    return order, suite, mode


def _change(metric: str, row: EvalRow, previous: EvalRow, confidence: float) -> Interval | None:
    if metric in METRICS and METRICS[metric].is_rate:
        if row.n < 1 or previous.n < 1:
            return None
        k_now = round(row.value * row.n)  # type: ignore[operator]
        k_prev = round(previous.value * previous.n)  # type: ignore[operator]
        return newcombe_unpaired_diff(k_now, row.n, k_prev, previous.n, confidence)
    now = Interval(row.value, row.ci_low, row.ci_high, row.n)  # type: ignore[arg-type]
    prev = Interval(previous.value, previous.ci_low, previous.ci_high, previous.n)  # type: ignore[arg-type]
    return normal_diff_from_intervals(now, row.confidence, prev, previous.confidence, confidence)


def _worse(metric: str, change: Interval | None) -> bool:
    """True when the change is clearly in the metric's bad direction."""
    if change is None or metric not in METRICS:
        return False
    better = METRICS[metric].higher_is_better
    if better is None:
        return False
    return change.high < 0.0 if better else change.low > 0.0


def render_table(trends: Trends) -> str:
    """Markdown tables, one per metric, suite and supervisor mode."""
    lines: list[str] = []
    current: tuple[str, str, str] | None = None
    for row in trends.rows:
        key = (row.metric, row.suite, row.supervisor)
        if key != current:
            current = key
            if lines:
                lines.append("")
            label = METRICS[row.metric].label if row.metric in METRICS else row.metric
            lines.append(f"### {label} · suite `{row.suite}` · supervisor {row.supervisor}")
            lines.append("")
            lines.append("| version | first seen | value [CI] | n | change vs previous | flag |")
            lines.append("|---|---|---|---|---|---|")
        flags = []
        if row.regressed:
            flags.append("REGRESSED")
        if row.scenario_changed:
            flags.append("scenario changed")
        change = fmt.difference(row.metric, row.change) if row.change else ""
        lines.append(
            f"| {row.version.label} | {row.version.first_seen[:19]} | "
            f"{fmt.estimate(row.metric, row.estimate)} | {row.estimate.n} | {change} | "
            f"{', '.join(flags)} |"
        )
    return "\n".join(lines)


def write_plot(trends: Trends, out: Path) -> Path:
    """One panel per metric; each line one suite/supervisor; regressions circled."""
    series: dict[str, dict[str, list[TrendPoint]]] = {}
    for row in trends.rows:
        name = f"{row.suite} / sup. {row.supervisor}"
        point = TrendPoint(row.version.index - 1, row.estimate, row.regressed)
        series.setdefault(row.metric, {}).setdefault(name, []).append(point)
    png = trend_figure(series, [v.label for v in trends.versions])
    with atomic_path(out) as tmp:
        tmp.write_bytes(png)
    return out


def monitor(
    mission_log: Path,
    *,
    metrics: Sequence[str] | None = None,
    suites: Sequence[str] | None = None,
    supervisor: str | None = None,
    candidates: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> Trends:
    """Read the mission log and build the trends; raise ``UserError`` if nothing matches."""
    with MissionLog(mission_log, readonly=True) as log:
        if log.version == 0:
            raise UserError(f"mission log {mission_log} holds no eval results yet")
        rows = log.eval_rows(metrics, suites, supervisor, candidates)
    if not rows:
        raise UserError(f"no eval results in {mission_log} match the filters")
    return build_trends(rows, confidence)
