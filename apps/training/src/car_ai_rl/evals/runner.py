"""Run every candidate on exactly the same seeds and scenarios (paired), collecting
per-episode metrics for each candidate x suite x supervisor mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from car_ai_rl.errors import UserError
from car_ai_rl.evals.config import EvalConfig, SupervisorMode
from car_ai_rl.evals.metrics import EPISODE_KEYS, check_episodes
from car_ai_rl.sim.params import SimParams


class Policy(Protocol):
    name: str

    def identity(self) -> dict[str, Any]: ...


class EpisodeMetricsLike(Protocol):
    per_episode: dict[str, np.ndarray]


LoadPolicy = Callable[[str], Policy]
RunEpisodes = Callable[..., EpisodeMetricsLike]


def _load_policy(source: str) -> Policy:
    from car_ai_rl.policies import load_policy

    return load_policy(source)


def _run_episodes(
    policy: Policy,
    params: SimParams,
    seeds: np.ndarray,
    supervisor: bool,
    batch_size: int = 512,
    progress: bool | str = False,
) -> EpisodeMetricsLike:
    from car_ai_rl.episodes.rollout import run_episodes

    return run_episodes(policy, params, seeds, supervisor, batch_size=batch_size, progress=progress)


@dataclass(frozen=True)
class Cell:
    """One candidate on one suite in one supervisor mode."""

    candidate: str
    suite: str
    supervisor: SupervisorMode
    episodes: dict[str, np.ndarray]
    seeds: np.ndarray
    wall_s: float

    @property
    def episodes_per_s(self) -> float:
        return len(self.seeds) / self.wall_s if self.wall_s > 0 else float("inf")


@dataclass
class EvalRun:
    """Everything a run produced, before statistics."""

    config: EvalConfig
    identities: dict[str, dict[str, Any]]
    cells: dict[tuple[str, str, SupervisorMode], Cell] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""

    def cell(self, candidate: str, suite: str, supervisor: SupervisorMode) -> Cell:
        return self.cells[(candidate, suite, supervisor)]

    def ordered_keys(self) -> Iterator[tuple[str, str, SupervisorMode]]:
        """Cells in config order: suite, then supervisor mode, then candidate."""
        for suite in self.config.suites:
            for mode in self.config.supervisor_modes:
                for candidate in self.config.candidates:
                    if (candidate.name, suite.name, mode) in self.cells:
                        yield candidate.name, suite.name, mode


def load_candidates(config: EvalConfig, load_policy: LoadPolicy | None = None) -> dict[str, Policy]:
    """Load each candidate once; report every unloadable model together (exit code 2)."""
    load = load_policy or _load_policy
    policies: dict[str, Policy] = {}
    problems: list[str] = []
    for i, candidate in enumerate(config.candidates):
        try:
            policies[candidate.name] = load(candidate.source)
        except UserError as exc:
            problems.append(f"{candidate.origin or f'candidates[{i}].source'}: {exc}")
    if problems:
        raise UserError("\n".join(problems), exit_code=2)
    return policies


def identity_of(policy: Policy) -> dict[str, Any]:
    """The policy's identity with every expected key present."""
    raw = dict(policy.identity())
    metadata = raw.get("metadata") or {}
    return {
        "kind": str(raw.get("kind", "unknown")),
        "path": raw.get("path"),
        "sha256": raw.get("sha256"),
        "metadata": {str(k): str(v) for k, v in metadata.items()},
    }


def run_eval(
    config: EvalConfig,
    policies: dict[str, Policy] | None = None,
    *,
    load_policy: LoadPolicy | None = None,
    run_episodes: RunEpisodes | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> EvalRun:
    """Run every candidate on every suite and supervisor mode, on the suite's seeds."""
    policies = policies if policies is not None else load_candidates(config, load_policy)
    run = run_episodes or _run_episodes
    result = EvalRun(
        config=config,
        identities={name: identity_of(policy) for name, policy in policies.items()},
        started_at=now_iso(),
    )
    for candidate in config.candidates:
        policy = policies[candidate.name]
        for suite in config.suites:
            seeds = suite.seeds()
            for mode in config.supervisor_modes:
                label = f"{candidate.name} | {suite.name} | supervisor {mode}"
                start = time.perf_counter()
                metrics = run(
                    policy,
                    suite.params,
                    seeds.copy(),
                    mode == "on",
                    batch_size=config.batch_size,
                    progress=label if progress else False,
                )
                wall_s = time.perf_counter() - start
                try:
                    check_episodes(metrics.per_episode, len(seeds))
                except ValueError as exc:
                    raise RuntimeError(f"{label}: {exc}") from None
                episodes = {k: np.asarray(metrics.per_episode[k]) for k in EPISODE_KEYS}
                result.cells[(candidate.name, suite.name, mode)] = Cell(
                    candidate.name, suite.name, mode, episodes, seeds, wall_s
                )
                if log:
                    rate = len(seeds) / wall_s if wall_s > 0 else float("inf")
                    log(f"{label}: {len(seeds)} episodes in {wall_s:.1f} s ({rate:.0f}/s)")
    result.finished_at = now_iso()
    return result


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
