"""Fault test: SIGKILL training at random moments, including in the middle of checkpoint, replay
buffer and final-model writes, then resume. Every resume continues from the newest checkpoint
that was complete when the process died (so at most one checkpoint interval is lost), the run
ends with a final model that loads, and no temporary file is left behind."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from car_ai_rl.policies.sb3_model import load_sb3
from car_ai_rl.train.checkpoints import BUFFER_RE, checkpoints_newest_first

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[1]
INTERVAL = 512
TOTAL = 8192
CONFIG = {
    "checkpoint_every_steps": INTERVAL,
    "eval_episodes": 0,
    "ppo": {"n_steps": 128, "batch_size": 256, "n_epochs": 1, "net_arch": [256, 256]},
    # a buffer of tens of MB takes a while to write: kills land inside it
    "dqn": {
        "learning_starts": 256,
        "gradient_steps": 8,  # slow enough that a random kill lands before the end
        "buffer_size": 60_000,
        "net_arch": [64],
        "replay_buffers_kept": 1,
    },
    "env": {"episode_duration_s": 10.0},
    "kickstart": {"rounds": 1, "envs": 16, "steps_per_round": 40, "epochs": 1},
}


def temporaries(log_dir: Path) -> list[Path]:
    found = []
    for directory in (log_dir, log_dir / "checkpoints"):
        if directory.is_dir():
            found += [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    return found


def complete_checkpoints(log_dir: Path, algo: str) -> list[int]:
    """Steps of the checkpoints a resume may use (complete zips; temporaries are not)."""
    return [steps for steps, _ in checkpoints_newest_first(log_dir, algo)]


def start(algo: str, log_dir: Path, config: Path, resume: bool) -> subprocess.Popen:
    args = [sys.executable, f"scripts/train_{algo}.py", "--steps", str(TOTAL), "--n-envs", "4"]
    args += ["--log-dir", str(log_dir), "--config", str(config), "--no-progress"]
    if resume:
        args.append("--resume")
    return subprocess.Popen(args, cwd=APP, stderr=subprocess.PIPE, text=True)


def _steps_written(paths: list[Path]) -> set[int]:
    return {int(m[1]) for p in paths if (m := re.search(r"_(\d+)_steps\.", p.name))}


def kill_at(
    proc: subprocess.Popen, log_dir: Path, algo: str, moment: str, rng: random.Random
) -> str:
    """SIGKILL ``proc`` when ``moment`` comes: ``checkpoint`` in the middle of the 2nd to 4th
    checkpoint it writes (zip or replay buffer), ``final`` inside the final model's write,
    ``random`` a random time after the run started. Returns what happened."""
    deadline = time.time() + 240
    before = set(temporaries(log_dir))
    nth = rng.randint(2, 4)
    seen: set[int] = set()
    written: list[Path] = []
    if moment == "random":
        while (
            time.time() < deadline and proc.poll() is None and not (log_dir / "run.json").exists()
        ):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.5, 6.0))
    while moment != "random" and time.time() < deadline and proc.poll() is None:
        fresh = [p for p in temporaries(log_dir) if p not in before]
        if moment == "final":
            written = [p for p in fresh if p.name.startswith(f".{algo}-highway-final.zip.")]
        else:
            checkpoints = [p for p in fresh if p.parent.name == "checkpoints"]
            seen |= _steps_written(checkpoints)
            written = checkpoints if len(seen) >= nth else []
        if written:
            break
        time.sleep(0.001)
    if proc.poll() is not None:
        return "finished"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return f"killed ({moment}; writing {[p.name for p in written] or 'nothing'})"


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_resume_survives_sigkill_at_any_moment(tmp_path: Path, algo: str) -> None:
    rng = random.Random(f"faults-{algo}")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    log_dir = tmp_path / "run"
    events: list[str] = []
    resumed_from: list[int] = []
    moments = ["checkpoint", "random", "checkpoint", "checkpoint", "random", "final", None]
    for moment in moments:
        complete = complete_checkpoints(log_dir, algo)
        # a kill inside the very first write of run.json leaves no run: start it afresh
        proc = start(algo, log_dir, config, resume=(log_dir / "run.json").exists())
        if moment is None:  # the last start runs to the end
            _, err = proc.communicate(timeout=600)
            what = "finished"
        else:
            what = kill_at(proc, log_dir, algo, moment, rng)
            err = proc.stderr.read() if proc.stderr else ""
        events.append(what)
        assert "Traceback" not in err, err
        found = re.search(r"resuming from \S+ at (\d+) steps", err)
        if found:
            # it continued from the newest checkpoint that was complete when the last one died
            assert complete and int(found[1]) == complete[0], (events, complete, err)
            resumed_from.append(int(found[1]))
        else:  # killed before it got as far as restoring: it changed nothing
            assert not complete or (
                what != "finished" and complete_checkpoints(log_dir, algo) == complete
            ), (events, err)
        if what == "finished":
            assert proc.returncode == 0, err
            break
    print(algo, events, resumed_from)
    assert resumed_from == sorted(resumed_from), "the step count went backwards"
    assert sum(e.startswith("killed (checkpoint; writing [") for e in events) >= 2, events
    assert len(set(resumed_from)) >= 3, (events, resumed_from)

    final = load_sb3(log_dir / f"{algo}-highway-final.zip")[0]
    assert final.num_timesteps == TOTAL
    assert temporaries(log_dir) == [], "temporary files left behind"
    buffers = [p for p in (log_dir / "checkpoints").iterdir() if BUFFER_RE.match(p.name)]
    assert len(buffers) == (1 if algo == "dqn" else 0)
    steps = complete_checkpoints(log_dir, algo)
    assert steps[0] == TOTAL and all(s % INTERVAL == 0 for s in steps)
    record = json.loads((log_dir / "run.json").read_text())
    assert record["status"] == "finished" and record["history"][0]["event"] == "start"
    assert os.path.getsize(log_dir / f"{algo}-highway-final.zip") > 0
