"""Checkpoints of one run: atomic saves, replay buffers kept to the newest K, and finding the
newest checkpoint that loads.

Files in ``LOG_DIR/checkpoints``: ``<algo>_<steps>_steps.zip`` for every checkpoint and, for
DQN, ``dqn_replay_buffer_<steps>_steps.pkl`` beside the newest ones. A buffer is written before
its zip, both through a temporary file and a rename, so a kill at any moment leaves the previous
checkpoint whole and at worst a temporary file that the next run removes.
"""

from __future__ import annotations

import pickle
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from car_ai_rl.atomic_io import atomic_path

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_RE = re.compile(r"^(?P<algo>[a-z0-9]+)_(?P<steps>\d+)_steps\.zip$")
BUFFER_RE = re.compile(r"^(?P<algo>[a-z0-9]+)_replay_buffer_(?P<steps>\d+)_steps\.pkl$")

Warn = Callable[[str], None]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def checkpoint_dir(log_dir: Path) -> Path:
    return log_dir / CHECKPOINT_DIR


def checkpoint_path(log_dir: Path, algo: str, steps: int) -> Path:
    return checkpoint_dir(log_dir) / f"{algo}_{steps}_steps.zip"


def replay_buffer_path(checkpoint: Path) -> Path:
    """The replay buffer saved beside ``checkpoint``: ``dqn_replay_buffer_<steps>_steps.pkl``
    beside ``dqn_<steps>_steps.zip``."""
    match = CHECKPOINT_RE.match(checkpoint.name)
    if not match:
        raise ValueError(f"not a checkpoint name: {checkpoint.name}")
    return checkpoint.with_name(f"{match['algo']}_replay_buffer_{match['steps']}_steps.pkl")


def save_model_atomic(model: BaseAlgorithm, path: Path) -> None:
    """Save an SB3 model through a temporary file and a rename: never a half-written zip."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def has_replay_buffer(model: BaseAlgorithm) -> bool:
    return isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None


def save_checkpoint(model: BaseAlgorithm, log_dir: Path, algo: str, buffers_kept: int) -> Path:
    """Save ``<algo>_<steps>_steps.zip`` (and first its replay buffer, when there is one and
    ``buffers_kept`` > 0), then delete replay buffers beyond the newest ``buffers_kept``."""
    path = checkpoint_path(log_dir, algo, model.num_timesteps)
    if buffers_kept > 0 and has_replay_buffer(model):
        with atomic_path(replay_buffer_path(path)) as tmp:
            model.save_replay_buffer(tmp)
    save_model_atomic(model, path)
    prune_replay_buffers(log_dir, buffers_kept)
    return path


def _numbered(directory: Path, pattern: re.Pattern[str], algo: str) -> list[tuple[int, Path]]:
    found = []
    if directory.is_dir():
        for path in directory.iterdir():
            match = pattern.match(path.name)
            if match and match["algo"] == algo:
                found.append((int(match["steps"]), path))
    return sorted(found, reverse=True)


def checkpoints_newest_first(log_dir: Path, algo: str) -> list[tuple[int, Path]]:
    """``(steps, path)`` of every ``<algo>`` checkpoint, the most steps first."""
    return _numbered(checkpoint_dir(log_dir), CHECKPOINT_RE, algo)


def prune_replay_buffers(log_dir: Path, keep: int, algo: str = "dqn") -> list[Path]:
    """Delete all but the newest ``keep`` replay buffers; return the deleted paths."""
    doomed = [path for _, path in _numbered(checkpoint_dir(log_dir), BUFFER_RE, algo)[keep:]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


@dataclass(frozen=True)
class Restored:
    model: BaseAlgorithm
    checkpoint: Path
    buffer_loaded: bool


def load_newest(
    load: Callable[[Path], BaseAlgorithm],
    log_dir: Path,
    algo: str,
    warn: Warn = _warn,
) -> Restored | None:
    """The newest ``<algo>`` checkpoint that loads, skipping (with a warning) any that does
    not; its replay buffer too when the model has one. None when no checkpoint loads."""
    for steps, path in checkpoints_newest_first(log_dir, algo):
        if not zipfile.is_zipfile(path):
            warn(f"skipping {path}: not a readable zip (truncated or damaged)")
            continue
        try:
            model = load(path)
        except Exception as exc:  # a damaged or foreign zip: any library error
            warn(f"skipping {path}: cannot load it ({type(exc).__name__}: {exc})")
            continue
        if model.num_timesteps != steps:
            warn(f"skipping {path}: it holds {model.num_timesteps} steps, not {steps}")
            continue
        return Restored(model, path, _load_buffer(model, path, warn))
    return None


def _load_buffer(model: BaseAlgorithm, checkpoint: Path, warn: Warn) -> bool:
    if not isinstance(model, OffPolicyAlgorithm):
        return False
    buffer = replay_buffer_path(checkpoint)
    if not buffer.is_file():
        warn(f"no replay buffer beside {checkpoint.name}: it refills before learning resumes")
        return False
    try:
        model.load_replay_buffer(buffer)
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError) as exc:
        warn(
            f"cannot read {buffer} ({type(exc).__name__}: {exc}); the buffer refills before "
            "learning resumes"
        )
        return False
    return True


class CheckpointCallback(BaseCallback):
    """Saves a checkpoint whenever the run's step count passes a multiple of ``every_steps``.

    Multiples of the total step count, so a resumed run keeps the same schedule.
    """

    def __init__(self, every_steps: int, save: Callable[[BaseAlgorithm], Path]) -> None:
        super().__init__()
        self.every_steps = every_steps
        self.save = save
        self.next_save = every_steps
        self.last_saved_steps: int | None = None

    def _on_training_start(self) -> None:
        self.next_save = next_multiple(self.num_timesteps, self.every_steps)

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next_save:
            self.save(self.model)
            self.last_saved_steps = self.num_timesteps
            self.next_save = next_multiple(self.num_timesteps, self.every_steps)
        return True


def next_multiple(steps: int, every: int) -> int:
    """The first multiple of ``every`` above ``steps``."""
    return (steps // every + 1) * every
