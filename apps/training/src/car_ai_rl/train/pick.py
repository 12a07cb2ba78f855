"""Pick a run's best checkpoint on validation episodes: ``car-ai-rl pick-checkpoint LOG_DIR``.

Reinforcement learning does not improve monotonically: a run's last model is not always its
best. Every checkpoint of the run (and its final model) drives the same validation episodes,
on the run's own sim params and under the supervisor when the run trained under it; the one
with the highest mission success is copied to ``<algo>-highway-best.zip`` beside the final
model (ties go to the later checkpoint). The validation seeds are not used by any shipped eval
config, so the pick can then be evaluated on fresh seeds without bias.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from car_ai_rl.atomic_io import atomic_path
from car_ai_rl.errors import UserError
from car_ai_rl.train.checkpoints import checkpoints_newest_first
from car_ai_rl.train.run_dir import (
    RUN_FILE,
    best_model_path,
    final_model_path,
    inspect_log_dir,
)

VALIDATION_SEED_START = 30_000_000


@dataclass(frozen=True)
class Scored:
    path: Path
    steps: int
    success_rate: float


def read_run(log_dir: Path) -> tuple[str, bool]:
    """(algo, trained under the supervisor) from the run's ``run.json``."""
    if not log_dir.is_dir():
        raise UserError(f"{log_dir}: not a run directory")
    contents = inspect_log_dir(log_dir)
    path = log_dir / RUN_FILE
    if contents.record_problem:
        raise UserError(contents.record_problem)
    if contents.record is None:
        raise UserError(f"{path}: not found (not a training run)")
    try:
        return str(contents.record["algo"]), bool(contents.record["config"]["supervisor"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"{path}: unreadable run record ({exc})") from None


def models_of(log_dir: Path, algo: str) -> list[tuple[int, Path]]:
    """(steps, path) of every checkpoint, oldest first, then the final model, ranked one step
    after the newest checkpoint (it is the newest model)."""
    models = sorted(checkpoints_newest_first(log_dir, algo))
    final = final_model_path(log_dir, algo)
    if final.exists():
        models.append((models[-1][0] + 1 if models else 0, final))
    return models


def success_rate(path: Path, seeds: np.ndarray, supervisor: bool, progress: bool) -> float:
    """Mission success of the model at ``path`` on ``seeds``, on the params it trained on."""
    from car_ai_rl.episodes.rollout import run_episodes
    from car_ai_rl.policies import load_policy
    from car_ai_rl.sim.params import SimParams

    policy = load_policy(path)
    params = policy.sim_params or SimParams()
    episodes = run_episodes(policy, params, seeds, supervisor, progress=progress and path.name)
    return float(np.mean(episodes.per_episode["success"]))


def pick_checkpoint(
    log_dir: Path,
    episodes: int,
    force: bool = False,
    seed_start: int = VALIDATION_SEED_START,
    progress: bool = True,
    score: Callable[[Path, np.ndarray, bool, bool], float] = success_rate,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> tuple[Scored, list[Scored]]:
    """Score every model of the run and copy the best to ``<algo>-highway-best.zip``; returns
    the pick and every score (oldest first). An existing best model is replaced only with
    ``force``."""
    algo, supervisor = read_run(log_dir)
    target = best_model_path(log_dir, algo)
    if target.exists() and not force:
        raise UserError(f"{target}: exists (pass --force to replace it)")
    models = models_of(log_dir, algo)
    if not models:
        raise UserError(f"{log_dir}: no checkpoints or final model to pick from")
    seeds = np.arange(episodes, dtype=np.uint64) + np.uint64(seed_start)
    scored = []
    for steps, path in models:
        scored.append(Scored(path, steps, score(path, seeds, supervisor, progress)))
        log(f"{path.name}: success {scored[-1].success_rate:.3f}")
    best = max(scored, key=lambda s: (s.success_rate, s.steps))
    with atomic_path(target) as tmp:
        shutil.copyfile(best.path, tmp)
    log(f"best: {best.path.name} -> {target}")
    return best, scored
