"""One evaluation from config to outputs: load, run, aggregate, gate, report, log."""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Callable
from typing import Any

from car_ai_rl.evals.aggregate import aggregate
from car_ai_rl.evals.config import EvalConfig
from car_ai_rl.evals.gate import evaluate_rules
from car_ai_rl.evals.mission_log import MissionLog
from car_ai_rl.evals.outcome import EvalOutcome
from car_ai_rl.evals.report import check_output_dir, write_reports
from car_ai_rl.evals.runner import (
    LoadPolicy,
    Policy,
    RunEpisodes,
    load_candidates,
    run_eval,
)


def evaluate(
    config: EvalConfig,
    *,
    argv: list[str] | None = None,
    policies: dict[str, Policy] | None = None,
    load_policy: LoadPolicy | None = None,
    run_episodes: RunEpisodes | None = None,
    progress: bool = True,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> EvalOutcome:
    """Run the whole evaluation. The output dir is checked, and the models and the mission log
    are opened, before any episode."""
    check_output_dir(config.output_dir, config.name, force)
    policies = policies if policies is not None else load_candidates(config, load_policy)
    with MissionLog(config.mission_log) as mission_log:
        run = run_eval(config, policies, run_episodes=run_episodes, progress=progress, log=log)
        outcome = EvalOutcome(
            run=run,
            results=aggregate(run),
            checks=evaluate_rules(run),
            run_id=_run_id(run.started_at),
            argv=list(sys.argv if argv is None else argv),
        )
        outcome.paths = write_reports(outcome, config.output_dir)
        outcome.log_rows = mission_log.record_eval(
            _run_row(outcome),
            run.identities,
            _result_rows(outcome),
            [{**c.to_dict(), "rule": c.rule.path} for c in outcome.checks],
        )
    return outcome


def _run_id(started_at: str) -> str:
    stamp = started_at[:19].replace("-", "").replace(":", "")
    return f"{stamp}Z-{uuid.uuid4().hex[:8]}"


def _run_row(outcome: EvalOutcome) -> dict[str, Any]:
    config = outcome.run.config
    return {
        "run_id": outcome.run_id,
        "started_at": outcome.run.started_at,
        "finished_at": outcome.run.finished_at,
        "config_name": config.name,
        "config_path": str(config.path) if config.path else None,
        "config_json": json.dumps(config.resolved(), sort_keys=True, default=str),
        "package_version": outcome.package_version,
        "argv_json": json.dumps(outcome.argv),
        "passed": int(outcome.passed),
    }


def _result_rows(outcome: EvalOutcome) -> list[dict[str, Any]]:
    config = outcome.run.config
    digests = {s.name: s.digest() for s in config.suites}
    rows = []
    for r in outcome.results:
        if r.estimate is None:
            continue
        rows.append(
            {
                "candidate": r.candidate,
                "baseline": config.baseline.name,
                "suite": r.suite,
                "suite_digest": digests[r.suite],
                "supervisor": r.supervisor,
                "metric": r.metric,
                "value": _real(r.estimate.value),
                "ci_low": _real(r.estimate.low),
                "ci_high": _real(r.estimate.high),
                "n": r.estimate.n,
                "confidence": config.confidence,
                "diff_value": _real(r.diff.value) if r.diff else None,
                "diff_low": _real(r.diff.low) if r.diff else None,
                "diff_high": _real(r.diff.high) if r.diff else None,
            }
        )
    return rows


def _real(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
