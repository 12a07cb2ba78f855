"""Reproducible runs: the same command and seed give bit-identical checkpoints and final models,
the kickstart included, in two separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from car_ai_rl.policies.sb3_model import load_sb3

APP = Path(__file__).resolve().parents[1]
CONFIG = {
    "checkpoint_every_steps": 1024,
    "eval_every_steps": 1024,
    "eval_episodes": 4,
    "ppo": {"n_steps": 256, "batch_size": 128, "n_epochs": 2, "net_arch": [64, 64]},
    "dqn": {"learning_starts": 256, "buffer_size": 4000, "net_arch": [64, 64]},
    "env": {"episode_duration_s": 12.0},
    # two rounds: the second drives with the policy the first round fitted
    "kickstart": {"rounds": 2, "envs": 64, "steps_per_round": 60, "epochs": 2, "batch_size": 256},
}


def train_once(
    tmp_path: Path,
    algo: str,
    name: str,
    steps: int = 3072,
    seed: int = 3,
    config_data: dict | None = None,
    env: dict[str, str] | None = None,
) -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(config_data or CONFIG))
    log_dir = tmp_path / name
    proc = subprocess.run(
        [
            sys.executable,
            f"scripts/train_{algo}.py",
            *("--steps", str(steps), "--n-envs", "4", "--log-dir", str(log_dir)),
            *("--seed", str(seed), "--config", str(config), "--no-progress"),
        ],
        cwd=APP,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return log_dir


def parameters(path: Path, algo: str) -> dict[str, torch.Tensor]:
    model = load_sb3(path)[0]
    return {k: v.clone() for k, v in model.policy.state_dict().items()}


def identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("algo", ["ppo", pytest.param("dqn", marks=pytest.mark.slow)])
def test_two_runs_of_one_command_give_identical_models(tmp_path: Path, algo: str) -> None:
    first, second = (train_once(tmp_path, algo, name) for name in ("a", "b"))
    saved = sorted(p.name for p in (first / "checkpoints").glob("*.zip"))
    assert saved == sorted(p.name for p in (second / "checkpoints").glob("*.zip"))
    if algo == "ppo":
        assert "ppo_0_steps.zip" in saved  # the kickstart's result
    assert len(saved) >= 3
    for name in [*(f"checkpoints/{s}" for s in saved), f"{algo}-highway-final.zip"]:
        assert identical(parameters(first / name, algo), parameters(second / name, algo)), name
    assert (first / "final_eval.json").read_text() == (second / "final_eval.json").read_text()
    # another seed gives another model: the comparison can tell them apart
    other = train_once(tmp_path, algo, "other", steps=1024, seed=4)
    checkpoint = f"checkpoints/{algo}_1024_steps.zip"
    assert not identical(parameters(first / checkpoint, algo), parameters(other / checkpoint, algo))


def test_the_simulators_thread_count_does_not_change_the_model(tmp_path: Path) -> None:
    """Numba's OpenMP layer sets OpenMP's thread count, torch's included, whenever a batch big
    enough to run in parallel is simulated (the kickstart's drives, the evaluations): torch
    must keep ``torch_threads`` (1) all the same, so the model does not depend on
    ``NUMBA_NUM_THREADS``. Networks and batches big enough that torch would split their sums
    over two threads."""
    data = {
        **CONFIG,
        "eval_episodes": 64,
        "ppo": {"n_steps": 512, "batch_size": 2048, "n_epochs": 2, "net_arch": [256, 256]},
    }
    runs = [
        train_once(
            tmp_path, "ppo", f"threads-{n}", 4096, config_data=data, env={"NUMBA_NUM_THREADS": n}
        )
        for n in ("1", "2")
    ]
    for name in ("checkpoints/ppo_2048_steps.zip", "ppo-highway-final.zip"):
        assert identical(parameters(runs[0] / name, "ppo"), parameters(runs[1] / name, "ppo")), name
