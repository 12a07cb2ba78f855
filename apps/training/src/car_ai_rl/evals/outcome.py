"""What one evaluation produced: the run, its statistics and gate checks, and where it wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from car_ai_rl import __version__
from car_ai_rl.evals.aggregate import MetricResult
from car_ai_rl.evals.gate import Check, passed
from car_ai_rl.evals.runner import EvalRun


@dataclass
class EvalOutcome:
    run: EvalRun
    results: list[MetricResult]
    checks: list[Check]
    run_id: str
    argv: list[str]
    package_version: str = __version__
    paths: dict[str, Path] = field(default_factory=dict)
    log_rows: int = 0

    @property
    def passed(self) -> bool:
        return passed(self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]
