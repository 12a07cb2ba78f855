"""Run identity: one run per log dir, resume of this run only, history, atomic and bounded
checkpoints, cleanup of what killed writes leave, and schedules that continue after a resume."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from car_ai_rl.errors import UserError
from car_ai_rl.policies.sb3_model import load_sb3
from car_ai_rl.train.checkpoints import BUFFER_RE, checkpoints_newest_first, replay_buffer_path
from car_ai_rl.train.config import build_config
from car_ai_rl.train.runner import train

TINY = {
    "checkpoint_every_steps": 256,
    "eval_every_steps": 512,
    "eval_episodes": 0,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16]},
    "dqn": {"learning_starts": 64, "buffer_size": 2000, "net_arch": [16]},
    "env": {"episode_duration_s": 8.0},
    "kickstart": {"enabled": False},
}


def config(**changes):
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return build_config(data, {}, {})


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_record(log_dir: Path) -> dict:
    return json.loads((log_dir / "run.json").read_text())


def test_a_new_run_is_refused_where_a_run_lives_and_force_moves_it_aside(tmp_path: Path) -> None:
    log_dir = tmp_path / "run"
    train(config(), 256, 2, log_dir, progress=False)
    before = snapshot(log_dir)
    first_id = run_record(log_dir)["run_id"]
    with pytest.raises(UserError) as caught:
        train(config(), 256, 2, log_dir, progress=False)
    message = str(caught.value)
    assert message.startswith("--log-dir: ") and "--resume" in message and "--force" in message
    assert "a ppo run (finished, 256 of 256 steps saved" in message
    assert snapshot(log_dir) == before  # nothing written, nothing lost

    train(config(seed=5), 256, 2, log_dir, progress=False, force=True)
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert len(moved) == 1 and snapshot(moved[0]) == before
    assert run_record(log_dir)["run_id"] != first_id and run_record(log_dir)["seed"] == 5


def test_resume_takes_this_algorithms_newest_readable_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "run"
    train(config(), 768, 2, log_dir, progress=False)
    checkpoints = log_dir / "checkpoints"
    assert [s for s, _ in checkpoints_newest_first(log_dir, "ppo")] == [768, 512, 256]
    (checkpoints / "dqn_99999_steps.zip").write_bytes(b"another algorithm's file")
    newest = checkpoints / "ppo_768_steps.zip"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated, as by a full disk
    capsys.readouterr()
    final = train(config(), 1024, 2, log_dir, resume=True, progress=False)
    err = capsys.readouterr().err
    assert f"warning: skipping {newest}: not a readable zip" in err
    assert f"resuming from {checkpoints / 'ppo_512_steps.zip'} at 512 steps" in err
    assert load_sb3(final)[0].num_timesteps == 1024
    assert (checkpoints / "dqn_99999_steps.zip").read_bytes() == b"another algorithm's file"


def test_resume_refuses_another_algorithm_or_config_and_keeps_the_history(tmp_path: Path) -> None:
    log_dir = tmp_path / "run"
    with pytest.raises(UserError, match="^--resume: no run to resume"):
        train(config(), 256, 2, log_dir, resume=True, progress=False)
    assert not log_dir.exists()
    train(config(), 256, 2, log_dir, progress=False)
    started = run_record(log_dir)
    before = snapshot(log_dir)
    with pytest.raises(UserError, match="holds a ppo run, not dqn"):
        train(config(algo="dqn"), 512, 2, log_dir, resume=True, progress=False)
    with pytest.raises(UserError, match=r"config differs from the run's \(ppo.n_epochs: 1 in"):
        train(config(ppo={"n_epochs": 2}), 512, 2, log_dir, resume=True, progress=False)
    assert snapshot(log_dir) == before
    train(config(), 512, 2, log_dir, resume=True, progress=False)
    record = run_record(log_dir)
    assert record["run_id"] == started["run_id"]
    assert record["started_at"] == started["started_at"]
    assert record["command_line"] == started["command_line"]
    assert [e["event"] for e in record["history"]] == ["start", "resume"]
    assert record["history"][1]["from_steps"] == 256
    assert record["history"][1]["checkpoint"] == "ppo_256_steps.zip"
    assert record["status"] == "finished" and record["final_steps"] == 512
    assert record["total_timesteps"] == 512


def test_dqn_keeps_the_newest_buffers_and_resumes_past_a_damaged_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "run"
    train(config(algo="dqn", dqn={"replay_buffers_kept": 2}), 1024, 2, log_dir, progress=False)
    buffers = sorted(p.name for p in (log_dir / "checkpoints").iterdir() if BUFFER_RE.match(p.name))
    assert buffers == ["dqn_replay_buffer_1024_steps.pkl", "dqn_replay_buffer_768_steps.pkl"]
    assert len(checkpoints_newest_first(log_dir, "dqn")) == 4  # zips are all kept

    buffer = replay_buffer_path(log_dir / "checkpoints" / "dqn_1024_steps.zip")
    buffer.write_bytes(buffer.read_bytes()[: buffer.stat().st_size // 3])  # killed mid-write
    capsys.readouterr()
    final = train(config(algo="dqn", dqn={"replay_buffers_kept": 2}), 1280, 2, log_dir, True, False)
    err = capsys.readouterr().err
    assert f"warning: cannot read {buffer}" in err and "refills" in err
    model = load_sb3(final)[0]
    assert model.num_timesteps == 1280
    assert model.learning_starts == 1024 + 64  # learning waits for a refilled buffer
    buffers = sorted(p.name for p in (log_dir / "checkpoints").iterdir() if BUFFER_RE.match(p.name))
    assert buffers == ["dqn_replay_buffer_1024_steps.pkl", "dqn_replay_buffer_1280_steps.pkl"]


def test_stale_temporaries_are_removed_and_a_run_without_checkpoints_restarts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "run"
    train(config(), 256, 2, log_dir, progress=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    stale = [
        log_dir / f".ppo-highway-final.zip.{dead_pid}.0badc0de.tmp",
        log_dir / "checkpoints" / f".ppo_512_steps.zip.{dead_pid}.0badc0de.tmp",
    ]
    alive = log_dir / f".notes.txt.{os.getpid()}.0badc0de.tmp"  # a live writer's: kept
    for path in [*stale, alive]:
        path.write_bytes(b"partial")
    for path in (log_dir / "checkpoints").iterdir():
        path.unlink()
    (log_dir / "ppo-highway-final.zip").unlink()
    capsys.readouterr()
    train(config(), 256, 2, log_dir, resume=True, progress=False)
    err = capsys.readouterr().err
    assert not any(p.exists() for p in stale) and alive.exists()
    assert "no checkpoint of this run yet: starting it from step 0" in err
    assert [e["event"] for e in run_record(log_dir)["history"]] == ["start", "restart"]


def test_eval_and_checkpoint_schedules_continue_from_the_restored_step(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    log_dir = tmp_path / "run"
    settings = {"eval_episodes": 2, "eval_every_steps": 384, "checkpoint_every_steps": 384}
    train(config(**settings), 512, 2, log_dir, progress=False)
    train(config(**settings), 1280, 2, log_dir, resume=True, progress=False)
    steps: list[int] = []
    for events in (log_dir / "tb").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        if "eval/mission_success_rate" in accumulator.Tags()["scalars"]:
            steps += [e.step for e in accumulator.Scalars("eval/mission_success_rate")]
    assert sorted(steps) == [384, 512, 768, 1152, 1280]  # every multiple once, plus each end
    saved = sorted(s for s, _ in checkpoints_newest_first(log_dir, "ppo"))
    assert saved == [384, 512, 768, 1152, 1280]
