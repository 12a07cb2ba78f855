"""The regression gate: each rule is judged on a confidence interval, never a point estimate.

A check fails only when the whole interval (at the rule's confidence level) lies on the
wrong side of the threshold, i.e. when the violation is statistically clear:

- ``max_drop T``: paired difference candidate - baseline; fails if its upper bound < -T.
- ``max_rise T``: paired difference candidate - baseline; fails if its lower bound > +T.
- ``max V``: the candidate's own value; fails if its lower bound >= V.
- ``min V``: the candidate's own value; fails if its upper bound <= V.

With a two-sided interval at confidence c this is a one-sided test at level (1 - c) / 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from car_ai_rl.evals import fmt
from car_ai_rl.evals.aggregate import metric_diff, metric_estimate
from car_ai_rl.evals.config import Rule, SupervisorMode
from car_ai_rl.evals.runner import EvalRun
from car_ai_rl.evals.stats import Interval

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One rule applied to one candidate, suite and supervisor mode."""

    rule: Rule
    candidate: str
    suite: str
    supervisor: SupervisorMode
    status: Status
    interval: Interval | None
    statistic: str
    verdict: str

    @property
    def message(self) -> str:
        """E.g. ``rules[0] (...): candidate 'ppo', suite 'dense', supervisor off: ...``."""
        where = f"candidate '{self.candidate}', suite '{self.suite}', supervisor {self.supervisor}"
        return f"{self.rule.label}: {where}: {self.statistic}: {self.verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.path,
            "rule_name": self.rule.name,
            "rule_label": self.rule.label,
            "metric": self.rule.metric,
            "kind": self.rule.kind,
            "threshold": self.rule.threshold,
            "confidence": self.rule.confidence,
            "candidate": self.candidate,
            "suite": self.suite,
            "supervisor": self.supervisor,
            "status": self.status,
            "interval": self.interval.to_dict() if self.interval else None,
            "statistic": self.statistic,
            "verdict": self.verdict,
            "message": self.message,
        }


def judge(kind: str, threshold: float, interval: Interval | None) -> Status:
    """Apply one rule kind to an interval (see the module docstring)."""
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return "skip"
    failed = {
        "max_drop": interval.high < -threshold,
        "max_rise": interval.low > threshold,
        "max": interval.low >= threshold,
        "min": interval.high <= threshold,
    }[kind]
    return "fail" if failed else "pass"


def evaluate_rules(run: EvalRun) -> list[Check]:
    """Every rule on every cell it applies to, in rule order."""
    baseline = run.config.baseline.name
    checks: list[Check] = []
    for rule in run.config.rules:
        for candidate, suite, mode in run.ordered_keys():
            if not rule.applies_to(candidate, suite, mode):
                continue
            if rule.relative and candidate == baseline:
                continue
            if rule.relative:
                interval = metric_diff(run, candidate, suite, mode, rule.metric, rule.confidence)
            else:
                interval = metric_estimate(
                    run, candidate, suite, mode, rule.metric, rule.confidence
                )
            status = judge(rule.kind, rule.threshold, interval)
            statistic, verdict = _describe(rule, status, interval, baseline)
            checks.append(Check(rule, candidate, suite, mode, status, interval, statistic, verdict))
    return checks


def passed(checks: list[Check]) -> bool:
    return not any(c.status == "fail" for c in checks)


def _describe(
    rule: Rule, status: Status, interval: Interval | None, baseline: str
) -> tuple[str, str]:
    """The judged statistic as text, and the verdict."""
    if status == "skip" or interval is None:
        return "no data", "not judged"
    level = f"{rule.confidence:.0%} CI"
    if rule.relative:
        text = _with_level(fmt.difference(rule.metric, interval), level)
        statistic = f"difference vs baseline '{baseline}' {text}"
    else:
        statistic = f"value {_with_level(fmt.estimate(rule.metric, interval), level)}"
    if status == "pass":
        return statistic, "holds"
    limit = fmt.threshold_text(rule.metric, rule.threshold, rule.relative)
    verdict = {
        "max_drop": f"the whole interval is below -{limit}",
        "max_rise": f"the whole interval is above +{limit}",
        "max": f"the whole interval is at or above {limit}",
        "min": f"the whole interval is at or below {limit}",
    }[rule.kind]
    return statistic, verdict


def _with_level(text: str, level: str) -> str:
    """``-12.5 pts [-17.0, -8.1]`` -> ``-12.5 pts (95% CI [-17.0, -8.1])``."""
    head, _, tail = text.partition(" [")
    return f"{head} ({level} [{tail})" if tail else text
