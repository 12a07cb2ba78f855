"""Tick timing: recent step latencies and intervals between ticks."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class TickStats:
    """Recent tick latencies (sim + supervisor + frames) and intervals between ticks."""

    def __init__(self, window: int = 3000) -> None:
        self.step_ms: deque[float] = deque(maxlen=window)
        self.interval_s: deque[float] = deque(maxlen=window)
        self.last_start: float | None = None
        self.ticks = 0
        self.overruns = 0

    def record(self, start: float, step_ms: float) -> None:
        if self.last_start is not None:
            self.interval_s.append(start - self.last_start)
        self.last_start = start
        self.step_ms.append(step_ms)
        self.ticks += 1

    @property
    def last_step_ms(self) -> float | None:
        return self.step_ms[-1] if self.step_ms else None

    def summary(self) -> dict[str, Any]:
        steps, intervals = list(self.step_ms), list(self.interval_s)
        mean_interval = float(np.mean(intervals)) if intervals else None
        return {
            "ticks": self.ticks,
            "overruns": self.overruns,
            "tick_hz": round(1.0 / mean_interval, 3) if mean_interval else None,
            "step_ms": {
                "p50": _percentile(steps, 50),
                "p90": _percentile(steps, 90),
                "p99": _percentile(steps, 99),
                "max": round(max(steps), 3) if steps else None,
                "window": len(steps),
            },
        }
