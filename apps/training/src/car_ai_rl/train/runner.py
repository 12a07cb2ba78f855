"""Train PPO or DQN on the batched highway env, with checkpoints, evaluation and resume."""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from pathlib import Path

import torch
import yaml
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback

from car_ai_rl import __version__
from car_ai_rl.atomic_io import write_json_atomic, write_text_atomic
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.errors import UserError
from car_ai_rl.train.callbacks import CurriculumCallback, EvalMetricsCallback
from car_ai_rl.train.config import TrainConfig
from car_ai_rl.train.curriculum import params_at
from car_ai_rl.train.pretrain import kickstart
from car_ai_rl.train.stop_request import StopOnRequestCallback, TrainingStopped, stop_requests

ALGO_CLASSES = {"ppo": PPO, "dqn": DQN}
CHECKPOINT_RE = re.compile(r"_(\d+)_steps\.zip$")


def final_model_path(log_dir: Path, algo: str) -> Path:
    return log_dir / f"{algo}-highway-final.zip"


def prepare_log_dir(log_dir: Path) -> None:
    """Create the log dir and check it is writable, with a clear message when not."""
    try:
        (log_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        probe = log_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--log-dir: cannot write to {log_dir}: {exc.strerror or exc}") from None


def save_atomic(model: BaseAlgorithm, path: Path) -> None:
    """Save an SB3 model through a temporary zip and a rename: never a half-written file."""
    tmp = path.with_name(f".{path.stem}.partial.zip")
    model.save(tmp)
    os.replace(tmp, path)


def replay_buffer_path(checkpoint: Path) -> Path:
    """The replay buffer saved beside ``checkpoint``, named as SB3's CheckpointCallback names it
    (``dqn_replay_buffer_<steps>_steps.pkl`` beside ``dqn_<steps>_steps.zip``)."""
    return checkpoint.with_name(CHECKPOINT_RE.sub(r"_replay_buffer_\1_steps.pkl", checkpoint.name))


def save_checkpoint(model: BaseAlgorithm, log_dir: Path, prefix: str, with_buffer: bool) -> Path:
    """Save a checkpoint named like CheckpointCallback's, so ``--resume`` finds it."""
    path = log_dir / "checkpoints" / f"{prefix}_{model.num_timesteps}_steps.zip"
    save_atomic(model, path)
    if with_buffer:
        model.save_replay_buffer(replay_buffer_path(path))
    return path


def newest_checkpoint(log_dir: Path) -> Path | None:
    """The readable checkpoint with the most steps in ``log_dir/checkpoints``."""
    best: tuple[int, Path] | None = None
    for path in (log_dir / "checkpoints").glob("*.zip"):
        match = CHECKPOINT_RE.search(path.name)
        if not match or not zipfile.is_zipfile(path):
            continue
        if best is None or int(match.group(1)) > best[0]:
            best = (int(match.group(1)), path)
    return best[1] if best else None


def learning_rate_schedule(rate: float, kind: str):
    """SB3 calls the schedule with the remaining progress (1 at the start, 0 at the end)."""
    if kind == "constant":
        return rate
    return lambda remaining: rate * remaining


def build_model(config: TrainConfig, env: HighwayMissionVecEnv, tb_dir: Path) -> BaseAlgorithm:
    if config.algo == "ppo":
        h = config.ppo
        return PPO(
            "MlpPolicy",
            env,
            n_steps=h.n_steps,
            batch_size=h.batch_size,
            n_epochs=h.n_epochs,
            learning_rate=learning_rate_schedule(h.learning_rate, h.lr_schedule),
            gamma=h.gamma,
            gae_lambda=h.gae_lambda,
            clip_range=h.clip_range,
            ent_coef=h.ent_coef,
            vf_coef=h.vf_coef,
            max_grad_norm=h.max_grad_norm,
            policy_kwargs={"net_arch": list(h.net_arch)},
            tensorboard_log=str(tb_dir),
            seed=config.seed,
            device="cpu",
            verbose=0,
        )
    h = config.dqn
    return DQN(
        "MlpPolicy",
        env,
        learning_rate=h.learning_rate,
        buffer_size=h.buffer_size,
        learning_starts=h.learning_starts,
        batch_size=h.batch_size,
        gamma=h.gamma,
        train_freq=h.train_freq,
        gradient_steps=h.gradient_steps,
        target_update_interval=h.target_update_interval,
        exploration_fraction=h.exploration_fraction,
        exploration_final_eps=h.exploration_final_eps,
        policy_kwargs={"net_arch": list(h.net_arch)},
        tensorboard_log=str(tb_dir),
        seed=config.seed,
        device="cpu",
        verbose=0,
    )


def write_run_record(log_dir: Path, config: TrainConfig, total_steps: int, n_envs: int) -> None:
    """The resolved config, the command line and the package version, next to the outputs."""
    record = {
        "algo": config.algo,
        "action_mode": config.action_mode,
        "total_timesteps": total_steps,
        "n_envs": n_envs,
        "sim_params": config.sim_params().to_dict(),
        "sim_params_hash": config.sim_params().digest(),
        "config": config.to_dict(),
        "command_line": [sys.executable, *sys.argv],
        "version": __version__,
        "torch_version": torch.__version__,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json_atomic(log_dir / "run.json", record)
    write_text_atomic(
        log_dir / "config.yaml", yaml.safe_dump(_plain(config.to_dict()), sort_keys=False)
    )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def train(
    config: TrainConfig,
    total_steps: int,
    n_envs: int,
    log_dir: Path,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Run (or resume) training; returns the path of the final model."""
    if total_steps < 1:
        raise UserError(f"--steps: must be >= 1, got {total_steps}")
    if n_envs < 1:
        raise UserError(f"--n-envs: must be >= 1, got {n_envs}")
    log_dir = Path(log_dir)
    prepare_log_dir(log_dir)
    torch.set_num_threads(config.torch_threads)
    # SB3 builds a distribution object per step; checking its arguments every time is pure cost
    torch.distributions.Distribution.set_default_validate_args(False)
    target_params = config.sim_params()
    start_params = params_at(0.0, target_params, config.curriculum)
    env = HighwayMissionVecEnv(
        n_envs,
        config.action_mode,
        config.supervisor,
        seed=config.seed,
        params=start_params,
        vehicle_capacity=target_params.vehicle_count,
    )
    tb_dir = log_dir / "tb"
    algo_cls = ALGO_CLASSES[config.algo]
    if resume:
        checkpoint = newest_checkpoint(log_dir)
        if checkpoint is None:
            raise UserError(f"--resume: no checkpoint in {log_dir / 'checkpoints'}")
        try:
            model = algo_cls.load(checkpoint, env=env, device="cpu", tensorboard_log=str(tb_dir))
        except Exception as exc:  # a corrupted or foreign zip
            raise UserError(f"--resume: cannot load {checkpoint}: {exc}") from None
        buffer = replay_buffer_path(checkpoint)
        if config.algo == "dqn" and buffer.exists():
            model.load_replay_buffer(buffer)
        print(f"resuming from {checkpoint} at {model.num_timesteps} steps", file=sys.stderr)
    else:
        model = build_model(config, env, tb_dir)
        if config.algo == "ppo" and config.kickstart.enabled:
            k = config.kickstart
            kickstart(
                model,
                target_params,
                config.action_mode,
                k.rounds,
                k.envs,
                k.steps_per_round,
                k.epochs,
                k.batch_size,
                k.learning_rate,
            )
    write_run_record(log_dir, config, total_steps, n_envs)

    prefix = config.algo
    checkpoints = CheckpointCallback(
        save_freq=max(config.checkpoint_every_steps // n_envs, 1),
        save_path=str(log_dir / "checkpoints"),
        name_prefix=prefix,
        save_replay_buffer=config.algo == "dqn",
    )
    evaluator = EvalMetricsCallback(
        target_params, config.action_mode, config.eval_episodes, config.eval_every_steps
    )
    remaining = total_steps - model.num_timesteps
    with stop_requests() as stop:
        callbacks = CallbackList(
            [
                StopOnRequestCallback(stop),
                checkpoints,
                CurriculumCallback(target_params, config.curriculum, total_steps),
                evaluator,
            ]
        )
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=callbacks,
                progress_bar=progress,
                reset_num_timesteps=not resume,
                tb_log_name=prefix,
            )
    if stop.requested:
        path = save_checkpoint(model, log_dir, prefix, config.algo == "dqn")
        raise TrainingStopped(f"interrupted: saved {path}; continue with --resume", stop.exit_code)
    if config.eval_episodes > 0:
        metrics = evaluator.evaluate()
        write_json_atomic(log_dir / "final_eval.json", metrics)
    final = final_model_path(log_dir, config.algo)
    save_atomic(model, final)
    print(f"saved {final} after {model.num_timesteps} steps", file=sys.stderr)
    return final
