"""Train PPO or DQN on the batched highway env, with checkpoints, evaluation and resume."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from car_ai_rl.atomic_io import write_json_atomic
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.errors import UserError
from car_ai_rl.train import reproducibility, run_dir
from car_ai_rl.train.callbacks import CurriculumCallback, EvalMetricsCallback
from car_ai_rl.train.checkpoints import (
    CheckpointCallback,
    checkpoint_path,
    load_newest,
    save_checkpoint,
    save_model_atomic,
)
from car_ai_rl.train.config import MAX_ENVS, TrainConfig
from car_ai_rl.train.curriculum import params_at
from car_ai_rl.train.imitation import DEMOS_FILE, ImitationCallback, load_demos, save_demos
from car_ai_rl.train.masked_dqn import MaskedDQN
from car_ai_rl.train.pretrain import kickstart
from car_ai_rl.train.run_dir import final_model_path
from car_ai_rl.train.stop_request import (
    StopOnRequestCallback,
    StopRequest,
    TrainingStopped,
    stop_requests,
)

ALGO_CLASSES = {"ppo": PPO, "dqn": DQN}
MASKED_ALGO_CLASSES = {"ppo": MaskablePPO, "dqn": MaskedDQN}


def algo_class(config: TrainConfig) -> type[BaseAlgorithm]:
    """The SB3 class a config trains: the masked variant when the policy runs under the
    supervisor with discrete actions (it then chooses only actions the supervisor allows)."""
    return (MASKED_ALGO_CLASSES if config.masked else ALGO_CLASSES)[config.algo]


def learning_rate_schedule(rate: float, kind: str):
    """SB3 calls the schedule with the remaining progress (1 at the start, 0 at the end)."""
    if kind == "constant":
        return rate
    return lambda remaining: rate * remaining


def build_model(config: TrainConfig, env: HighwayMissionVecEnv, tb_dir: Path) -> BaseAlgorithm:
    h = config.ppo if config.algo == "ppo" else config.dqn
    shared = {
        "policy_kwargs": {"net_arch": list(h.net_arch)},
        "tensorboard_log": str(tb_dir),
        "seed": config.seed,
        "device": "cpu",
        "verbose": 0,
    }
    if config.algo == "ppo":
        return algo_class(config)(
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
            **shared,
        )
    return algo_class(config)(
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
        exploration_initial_eps=h.exploration_initial_eps,
        exploration_fraction=h.exploration_fraction,
        exploration_final_eps=h.exploration_final_eps,
        **shared,
    )


def check_run_size(config: TrainConfig, total_steps: int, n_envs: int) -> None:
    """Flag values and the settings that only make sense together with them."""
    if total_steps < 1:
        raise UserError(f"--steps: must be an integer >= 1, got {total_steps}")
    if not 1 <= n_envs <= MAX_ENVS:
        raise UserError(f"--n-envs: must be an integer in [1, {MAX_ENVS}], got {n_envs}")
    if config.algo == "ppo" and config.ppo.n_steps * n_envs < 2:
        raise UserError("ppo.n_steps: n_steps x --n-envs must be at least 2, got 1")
    if config.algo == "dqn" and config.dqn.buffer_size < n_envs:
        raise UserError(
            f"dqn.buffer_size: must be at least --n-envs ({n_envs}), got {config.dqn.buffer_size}"
        )


def keeps_imitating(config: TrainConfig) -> bool:
    """Whether the policy keeps fitting the kickstart's labels during reinforcement learning."""
    k = config.kickstart
    final = k.final_weight(config.algo)
    return k.enabled and (final > 0 or (k.imitation_weight > 0 and k.imitation_until > 0))


def _new_model(
    config: TrainConfig,
    env: HighwayMissionVecEnv,
    run: run_dir.RunDir,
    tb_dir: Path,
    stop: StopRequest,
) -> BaseAlgorithm:
    model = build_model(config, env, tb_dir)
    if config.kickstart.enabled:
        k = config.kickstart
        _, demos = kickstart(
            model,
            config.sim_params(),
            config.action_mode,
            k,
            supervised=config.supervisor,
            stop_requested=lambda: stop.requested,
        )
        if demos is not None and keeps_imitating(config):
            save_demos(run.path / DEMOS_FILE, demos)
    return model


def _imitation_callbacks(
    config: TrainConfig, run: run_dir.RunDir, total_steps: int
) -> list[BaseCallback]:
    """The imitation callback when the policy keeps imitating and the kickstart's labels are
    saved. PPO fits 4 of its minibatches after each rollout; DQN one of its own after each
    `train_freq`, as many as its TD updates."""
    if not keeps_imitating(config):
        return []
    labelled = load_demos(run.path / DEMOS_FILE)
    if labelled is None:
        print(f"no {DEMOS_FILE} in the run: training without imitation", file=sys.stderr)
        return []
    k = config.kickstart
    if config.algo == "dqn":
        batch_size, batches = config.dqn.batch_size, config.dqn.gradient_steps
    else:
        batch_size, batches = config.ppo.batch_size, 4
    return [
        ImitationCallback(
            *labelled,
            k.imitation_weight,
            k.final_weight(config.algo),
            k.imitation_until,
            total_steps,
            batch_size,
            config.masked,
            config.seed,
            batches,
        )
    ]


def _restore(
    config: TrainConfig, env: HighwayMissionVecEnv, run: run_dir.RunDir, tb_dir: Path
) -> BaseAlgorithm | None:
    """This run's newest loadable checkpoint, or None when it has none yet."""
    algo_cls = algo_class(config)

    def load(path: Path) -> BaseAlgorithm:
        return algo_cls.load(path, env=env, device="cpu", tensorboard_log=str(tb_dir))

    restored = load_newest(load, run.path, config.algo)
    if restored is None:
        return None
    model = restored.model
    if config.algo == "dqn" and not restored.buffer_loaded:
        model.learning_starts = model.num_timesteps + config.dqn.learning_starts
    print(f"resuming from {restored.checkpoint} at {model.num_timesteps} steps", file=sys.stderr)
    run.note(
        "resume",
        checkpoint=restored.checkpoint.name,
        from_steps=model.num_timesteps,
        replay_buffer=restored.buffer_loaded if config.algo == "dqn" else None,
        total_timesteps=run.record["total_timesteps"],
    )
    return model


def train(
    config: TrainConfig,
    total_steps: int,
    n_envs: int,
    log_dir: Path,
    resume: bool = False,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Run (or resume) training; returns the path of the final model."""
    check_run_size(config, total_steps, n_envs)
    log_dir = Path(log_dir)
    run = run_dir.claim(log_dir, config, total_steps, n_envs, resume, force)
    try:
        if run.moved_to is not None:
            print(f"moved the previous run to {run.moved_to}", file=sys.stderr)
        return _train(config, total_steps, n_envs, run, progress)
    finally:
        run.release()


def _train(
    config: TrainConfig, total_steps: int, n_envs: int, run: run_dir.RunDir, progress: bool
) -> Path:
    reproducibility.configure(config.torch_threads)
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
    log_dir, algo = run.path, config.algo
    tb_dir = log_dir / "tb"
    buffers_kept = config.dqn.replay_buffers_kept

    def save(model: BaseAlgorithm) -> Path:
        return save_checkpoint(model, log_dir, algo, buffers_kept)

    with stop_requests() as stop:
        model = _restore(config, env, run, tb_dir) if run.resumed else None
        continuing = model is not None
        if model is None:
            if run.resumed:
                print("no checkpoint of this run yet: starting it from step 0", file=sys.stderr)
                run.note("restart", total_timesteps=total_steps, n_envs=n_envs)
            model = _new_model(config, env, run, tb_dir, stop)
            if stop.requested:
                run.set_status("stopped", stopped_at_steps=0)
                raise TrainingStopped(
                    "interrupted before the first checkpoint: nothing saved; --resume starts "
                    "the run again",
                    stop.exit_code,
                )
            if config.kickstart.enabled:
                save(model)  # the kickstart's result: a resume need not repeat it

        checkpoints = CheckpointCallback(config.checkpoint_every_steps, save)
        evaluator = EvalMetricsCallback(
            target_params, config.action_mode, config.eval_episodes, config.eval_every_steps
        )
        remaining = total_steps - model.num_timesteps
        callbacks = CallbackList(
            [
                StopOnRequestCallback(stop),
                checkpoints,
                CurriculumCallback(target_params, config.curriculum, total_steps),
                evaluator,
                *_imitation_callbacks(config, run, total_steps),
            ]
        )
        if remaining > 0 and not stop.requested:
            model.learn(
                total_timesteps=remaining,
                callback=callbacks,
                progress_bar=progress,
                reset_num_timesteps=not continuing,
                tb_log_name=algo,
            )
    if stop.requested:
        path = save(model)
        run.set_status("stopped", stopped_at_steps=model.num_timesteps)
        raise TrainingStopped(f"interrupted: saved {path}; continue with --resume", stop.exit_code)
    final = final_model_path(log_dir, algo)
    if remaining <= 0 and final.exists() and run.previous_status == "finished":
        print(
            f"the run already has {model.num_timesteps} steps: nothing to do ({final})",
            file=sys.stderr,
        )
        run.set_status("finished")
        return final
    if not checkpoint_path(log_dir, algo, model.num_timesteps).exists():
        save(model)
    if config.eval_episodes > 0:
        if evaluator.last_steps == model.num_timesteps:
            metrics = evaluator.last_metrics  # just evaluated at this very step
        elif remaining > 0:
            metrics = evaluator.evaluate()
        else:
            metrics, _ = evaluator.measure(model)
        write_json_atomic(log_dir / "final_eval.json", metrics)
    save_model_atomic(model, final)
    run.set_status("finished", final_steps=model.num_timesteps, finished_at=run_dir.now())
    print(f"saved {final} after {model.num_timesteps} steps", file=sys.stderr)
    return final
