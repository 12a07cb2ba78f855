"""A log dir belongs to one run.

- A new run starts only in a missing or empty log dir. Where another run lives it is refused,
  with a message offering ``--resume`` (continue that run) or ``--force`` (move it aside to
  ``<dir>.old-<time>`` and start over; nothing is deleted).
- ``--resume`` continues only the run recorded in ``run.json``, with the same algorithm and
  config.
- A lock on the log dir keeps two trainings out of it; the system drops the lock when the
  process dies, however it dies.
- ``run.json`` records the run: its id, resolved config, sim params and a history of every start
  and resume (command line, versions, time, steps).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from car_ai_rl import __version__
from car_ai_rl.atomic_io import remove_stale_temps, write_json_atomic, write_text_atomic
from car_ai_rl.errors import UserError
from car_ai_rl.train.checkpoints import checkpoint_dir, checkpoints_newest_first
from car_ai_rl.train.config import TrainConfig

RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
_LEGACY_TEMPS = (".ppo-highway-final.partial.zip", ".dqn-highway-final.partial.zip")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def final_model_path(log_dir: Path, algo: str) -> Path:
    return log_dir / f"{algo}-highway-final.zip"


def best_model_path(log_dir: Path, algo: str) -> Path:
    """Where ``car-ai-rl pick-checkpoint`` copies the run's best model."""
    return log_dir / f"{algo}-highway-best.zip"


class RunLock:
    """An exclusive ``flock`` on the log dir itself (no lock file to leave behind)."""

    def __init__(self, log_dir: Path) -> None:
        self.path = log_dir
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"--log-dir: a training run is in progress in {self.path}; wait for it or "
                "choose another --log-dir"
            ) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd = None


@dataclass
class DirContents:
    """What a log dir already holds."""

    record: dict[str, Any] | None = None
    record_problem: str | None = None
    entries: list[str] = field(default_factory=list)

    @property
    def occupied(self) -> bool:
        return bool(self.entries)


def inspect_log_dir(log_dir: Path) -> DirContents:
    contents = DirContents()
    if not log_dir.is_dir():
        return contents
    contents.entries = sorted(
        p.name
        for p in log_dir.iterdir()
        if not _is_temp(p.name) and not p.name.startswith(".write-test.")
    )
    if checkpoint_dir(log_dir).is_dir() and not any(checkpoint_dir(log_dir).iterdir()):
        contents.entries = [e for e in contents.entries if e != checkpoint_dir(log_dir).name]
    run_file = log_dir / RUN_FILE
    if run_file.exists():
        try:
            record = json.loads(run_file.read_text())
            if not isinstance(record, dict):
                raise ValueError("not a mapping")
            contents.record = record
        except (OSError, ValueError) as exc:
            contents.record_problem = f"{run_file} is unreadable ({exc})"
    return contents


def _is_temp(name: str) -> bool:
    return name.startswith(".") and (name.endswith(".tmp") or name in _LEGACY_TEMPS)


def describe_run(log_dir: Path, contents: DirContents) -> str:
    """``a ppo run (finished, 1500000 of 1500000 steps, started ...)`` or what the dir holds."""
    record = contents.record
    if record is None:
        shown = ", ".join(contents.entries[:4]) + (", ..." if len(contents.entries) > 4 else "")
        return f"files of an unknown run ({shown})"
    algo = str(record.get("algo", "?"))
    steps = checkpoints_newest_first(log_dir, algo)
    done = steps[0][0] if steps else 0
    status = record.get("status", "finished" if final_model_path(log_dir, algo).exists() else "")
    if status == "running":
        status = "interrupted"
    total = record.get("total_timesteps", "?")
    started = record.get("started_at", "?")
    return f"a {algo} run ({status or 'unknown state'}, {done} of {total} steps saved, started {started})"


def move_aside(log_dir: Path) -> Path:
    """Rename ``log_dir`` to a free ``<name>.old-<time>`` beside it; return the new path."""
    log_dir = log_dir.absolute()
    cwd = Path.cwd().resolve()
    resolved = log_dir.resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise UserError(
            f"--force: cannot move {log_dir} aside: it holds the working directory; "
            "choose another --log-dir"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = log_dir.with_name(f"{log_dir.name}.old-{stamp}")
    n = 2
    while target.exists():
        target = log_dir.with_name(f"{log_dir.name}.old-{stamp}-{n}")
        n += 1
    try:
        log_dir.rename(target)
    except OSError as exc:
        raise UserError(
            f"--force: cannot move {log_dir} aside to {target}: {exc.strerror or exc}"
        ) from None
    return target


def prepare_log_dir(log_dir: Path) -> None:
    """Create the log dir and check it is writable, with a clear message when not."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        probe = log_dir / f".write-test.{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--log-dir: cannot write to {log_dir}: {exc.strerror or exc}") from None


def first_difference(recorded: Any, current: Any, path: str = "") -> str | None:
    """The first key whose value differs, as ``path: recorded -> current``."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in sorted(set(recorded) | set(current), key=str):
            found = first_difference(
                recorded.get(key), current.get(key), f"{path}.{key}" if path else str(key)
            )
            if found:
                return found
        return None
    if isinstance(recorded, list | tuple) and isinstance(current, list | tuple):
        recorded, current = list(recorded), list(current)
    if recorded != current:
        return f"{path or 'config'}: {json.dumps(recorded)} in the run, {json.dumps(current)} now"
    return None


@dataclass
class RunDir:
    """A claimed log dir: the lock is held and ``record`` is this run's ``run.json``."""

    path: Path
    record: dict[str, Any]
    lock: RunLock
    resumed: bool
    moved_to: Path | None = None
    previous_status: str | None = None

    def save_record(self) -> None:
        self.record["updated_at"] = now()
        write_json_atomic(self.path / RUN_FILE, self.record)

    def set_status(self, status: str, **info: Any) -> None:
        self.record["status"] = status
        self.record.update(info)
        self.save_record()

    def note(self, event: str, **info: Any) -> None:
        """Append ``event`` (with ``info``) to the run's history."""
        self.record.setdefault("history", []).append(_event(event, **info))
        self.save_record()

    def release(self) -> None:
        self.lock.release()


def _event(event: str, **info: Any) -> dict[str, Any]:
    return {
        "event": event,
        "at": now(),
        "command_line": [sys.executable, *sys.argv],
        "version": __version__,
        "torch_version": torch.__version__,
        "pid": os.getpid(),
        **info,
    }


def new_record(config: TrainConfig, total_steps: int, n_envs: int) -> dict[str, Any]:
    params = config.sim_params()
    return {
        "run_id": uuid.uuid4().hex[:12],
        "algo": config.algo,
        "action_mode": config.action_mode,
        "total_timesteps": total_steps,
        "n_envs": n_envs,
        "seed": config.seed,
        "config": config.to_dict(),
        "config_hash": config.digest(),
        "sim_params": params.to_dict(),
        "sim_params_hash": params.digest(),
        "command_line": [sys.executable, *sys.argv],
        "version": __version__,
        "torch_version": torch.__version__,
        "started_at": now(),
        "status": "running",
        "history": [],
    }


def claim(
    log_dir: Path, config: TrainConfig, total_steps: int, n_envs: int, resume: bool, force: bool
) -> RunDir:
    """Take ``log_dir`` for this run (see the module docstring); raises UserError when the
    dir belongs to another run or a run is in progress there."""
    if resume and not log_dir.is_dir():
        raise UserError(f"--resume: no run to resume in {log_dir}; start one without --resume")
    prepare_log_dir(log_dir)
    lock = RunLock(log_dir)
    lock.acquire()
    try:
        contents = inspect_log_dir(log_dir)
        if resume:
            run = _resume(log_dir, contents, config, total_steps, n_envs, lock)
        else:
            run = _start(log_dir, contents, config, total_steps, n_envs, lock, force)
    except BaseException:
        lock.release()
        raise
    clean_temporaries(run.path)
    return run


def _start(
    log_dir: Path,
    contents: DirContents,
    config: TrainConfig,
    total_steps: int,
    n_envs: int,
    lock: RunLock,
    force: bool,
) -> RunDir:
    moved_to = None
    if contents.occupied:
        if not force:
            raise UserError(
                f"--log-dir: {log_dir} already holds {describe_run(log_dir, contents)}; "
                "continue it with --resume, or move it aside and start over with --force"
            )
        lock.release()
        moved_to = move_aside(log_dir)
        prepare_log_dir(log_dir)
        lock.acquire()
    record = new_record(config, total_steps, n_envs)
    run = RunDir(log_dir, record, lock, resumed=False, moved_to=moved_to)
    run.note("start", total_timesteps=total_steps, n_envs=n_envs)  # run.json first: it marks
    write_text_atomic(log_dir / CONFIG_FILE, config_yaml(config))  # the dir as this run's
    checkpoint_dir(log_dir).mkdir(exist_ok=True)
    return run


def _resume(
    log_dir: Path,
    contents: DirContents,
    config: TrainConfig,
    total_steps: int,
    n_envs: int,
    lock: RunLock,
) -> RunDir:
    record = contents.record
    if record is None:
        if contents.record_problem:
            raise UserError(f"--resume: {contents.record_problem}; start over with --force")
        if contents.occupied:
            raise UserError(
                f"--resume: {log_dir} has no {RUN_FILE}, so its files belong to no known run; "
                "start over with --force (moves them aside)"
            )
        raise UserError(f"--resume: no run to resume in {log_dir}; start one without --resume")
    if record.get("algo") != config.algo:
        raise UserError(
            f"--resume: {log_dir} holds a {record.get('algo')} run, not {config.algo}; "
            f"resume it with scripts/train_{record.get('algo')}.py (car-ai-rl train --algo "
            f"{record.get('algo')}), or start over with --force"
        )
    if "config" in record:
        difference = first_difference(record["config"], config.to_dict())
        if difference:
            raise UserError(
                f"--resume: the config differs from the run's ({difference}); resume with the "
                f"run's settings (see {log_dir / CONFIG_FILE}) or start over with --force"
            )
    record.setdefault("run_id", uuid.uuid4().hex[:12])
    record.setdefault("history", [])
    previous_status = record.get("status")
    record["total_timesteps"] = total_steps
    record["n_envs"] = n_envs
    record["status"] = "running"
    run = RunDir(log_dir, record, lock, resumed=True, previous_status=previous_status)
    checkpoint_dir(log_dir).mkdir(exist_ok=True)
    return run


def config_yaml(config: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def clean_temporaries(log_dir: Path) -> list[Path]:
    """Remove what killed writes left in the log dir and its checkpoints (we hold the lock, so
    no other writer is at work there)."""
    removed = []
    for directory in (log_dir, checkpoint_dir(log_dir)):
        removed += remove_stale_temps(directory)
        for name in _LEGACY_TEMPS:
            legacy = directory / name
            if legacy.exists():
                legacy.unlink()
                removed.append(legacy)
    for path in removed:
        print(f"removed {path} (left by an interrupted write)", file=sys.stderr)
    return removed
