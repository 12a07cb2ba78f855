"""Matplotlib figures for the eval report and the monitor, rendered to PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from car_ai_rl.evals.aggregate import MetricResult
from car_ai_rl.evals.config import EvalConfig
from car_ai_rl.evals.metrics import METRICS
from car_ai_rl.evals.stats import Interval

DPI = 96


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _scale(metric: str) -> float:
    return 100.0 if METRICS[metric].is_rate else 1.0


def _axis_label(metric: str, diff: bool) -> str:
    spec = METRICS[metric]
    if spec.is_rate:
        return "difference (pts)" if diff else "%"
    return f"difference ({spec.unit})" if diff else spec.unit


def _errors(intervals: Sequence[Interval | None], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Bar heights and asymmetric error bars; NaN where there is no estimate."""
    values = np.array([i.value * scale if i else math.nan for i in intervals])
    low = np.array([(i.value - i.low) * scale if i else math.nan for i in intervals])
    high = np.array([(i.high - i.value) * scale if i else math.nan for i in intervals])
    return values, np.vstack([np.nan_to_num(low), np.nan_to_num(high)])


def metric_figure(metric: str, results: Sequence[MetricResult], config: EvalConfig) -> bytes:
    """Bars with intervals per suite (and supervisor mode), plus differences vs the baseline."""
    rows = [r for r in results if r.metric == metric]
    groups = list(dict.fromkeys((r.suite, r.supervisor) for r in rows))
    names = [c.name for c in config.candidates]
    baseline = config.baseline.name
    others = [n for n in names if n != baseline]
    scale = _scale(metric)
    by_key = {(r.candidate, r.suite, r.supervisor): r for r in rows}
    labels = [f"{s}\nsup. {m}" if len(config.supervisor_modes) > 1 else s for s, m in groups]
    x = np.arange(len(groups))

    fig = Figure(figsize=(max(7.0, 1.3 * len(groups) * (2 if others else 1)), 3.6))
    axes = fig.subplots(1, 2 if others else 1, squeeze=False)[0]
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.2, top=0.9, wspace=0.25)
    ax = axes[0]
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        intervals = [
            by_key[(name, s, m)].estimate if (name, s, m) in by_key else None for s, m in groups
        ]
        values, err = _errors(intervals, scale)
        ax.bar(
            x + (k - (len(names) - 1) / 2) * width,
            values,
            width,
            yerr=err,
            capsize=3,
            label=name + (" (baseline)" if name == baseline else ""),
        )
    for rule in config.rules:
        if rule.metric == metric and not rule.relative:
            ax.axhline(rule.threshold * scale, color="crimson", linestyle="--", linewidth=1)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(_axis_label(metric, diff=False))
    ax.set_title(METRICS[metric].label)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)

    if others:
        ax = axes[1]
        offsets = np.linspace(-0.2, 0.2, len(others)) if len(others) > 1 else [0.0]
        for offset, name in zip(offsets, others, strict=True):
            intervals = [
                by_key[(name, s, m)].diff if (name, s, m) in by_key else None for s, m in groups
            ]
            values, err = _errors(intervals, scale)
            ax.errorbar(x + offset, values, yerr=err, fmt="o", capsize=4, label=name)
        ax.axhline(0.0, color="black", linewidth=0.8)
        for rule in config.rules:
            if rule.metric == metric and rule.relative:
                sign = -1.0 if rule.kind == "max_drop" else 1.0
                ax.axhline(
                    sign * rule.threshold * scale, color="crimson", linestyle="--", linewidth=1
                )
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_ylabel(_axis_label(metric, diff=True))
        ax.set_title(f"difference vs {baseline} (paired)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    return png_bytes(fig)


@dataclass(frozen=True)
class TrendPoint:
    version: int
    estimate: Interval | None
    regressed: bool


def trend_figure(
    series: dict[str, dict[str, list[TrendPoint]]], version_labels: Sequence[str]
) -> bytes:
    """One panel per metric; one line per suite/supervisor; regressed versions circled red."""
    metrics = list(series)
    cols = 2 if len(metrics) > 1 else 1
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    height_in = 3.2 * rows
    fig = Figure(figsize=(6.5 * cols, height_in))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    fig.subplots_adjust(
        left=0.08,
        right=0.97,
        bottom=1.0 / height_in,
        top=1 - 0.35 / height_in,
        wspace=0.2,
        hspace=0.75,
    )
    for ax, metric in zip(axes, metrics, strict=False):
        scale = _scale(metric)
        for name, points in series[metric].items():
            xs = np.array([p.version for p in points])
            values, err = _errors([p.estimate for p in points], scale)
            line = ax.errorbar(xs, values, yerr=err, marker="o", capsize=3, label=name)
            bad = [p.regressed for p in points]
            if any(bad):
                ax.scatter(
                    xs[bad],
                    values[bad],
                    s=160,
                    facecolors="none",
                    edgecolors="crimson",
                    linewidths=2,
                    zorder=5,
                )
            line[0].set_markersize(4)
        ax.set_title(METRICS[metric].label)
        ax.set_ylabel(_axis_label(metric, diff=False))
        ax.set_xticks(range(len(version_labels)), version_labels, fontsize=7, rotation=20)
        ax.set_xlim(-0.4, len(version_labels) - 0.6)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    return png_bytes(fig)
