"""Shared helpers for the export, policy and episode tests: tiny PPO and DQN models trained
once per session, their ONNX exports, and rollout observations.

Not a test module in practice (it defines no tests); the other modules import from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from car_ai_rl.sim.params import SimParams

TRAINING_DIR = Path(__file__).resolve().parents[1]
EXPORT_SCRIPT = TRAINING_DIR / "scripts" / "export_onnx.py"
# the continuous PPO lives in a run dir whose run.json holds non-default params
RUN_PARAMS = {"traffic_density": 12.0, "episode_duration_s": 30.0}
MODEL_NAMES = ("ppo_discrete", "ppo_continuous", "dqn", "ppo_masked", "dqn_masked", "ppo_plan")


def action_mode_of(name: str) -> str:
    """The action mode of the tiny model ``name``."""
    return {"ppo_continuous": "continuous", "ppo_plan": "plan"}.get(name, "discrete")


@dataclass(frozen=True)
class TinyModels:
    zips: dict[str, Path]
    onnx: dict[str, Path]
    exports: dict[str, object]  # ExportResult per model

    @property
    def run_params(self) -> SimParams:
        return SimParams(**RUN_PARAMS)


_CACHE: dict[str, TinyModels] = {}


def _train(name: str, root: Path) -> Path:
    import torch
    from stable_baselines3 import DQN, PPO

    from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv

    torch.set_num_threads(1)
    small = {"net_arch": [32, 32]}
    # the masked models are trained as training runs by default: masked, under the supervisor
    masked = name.endswith("_masked")
    if name.startswith("dqn"):
        from car_ai_rl.train.masked_dqn import MaskedDQN

        seed, steps = (4, 600) if masked else (1, 1_000)
        env = HighwayMissionVecEnv(2, "discrete", masked, seed=seed)
        model = (MaskedDQN if masked else DQN)(
            "MlpPolicy",
            env,
            learning_starts=200,
            buffer_size=2_000,
            train_freq=2,
            target_update_interval=200,
            seed=seed,
            device="cpu",
            policy_kwargs=small,
        )
        model.learn(steps)
        path = root / name.replace("_", "-") / "dqn-highway-final.zip"
    else:
        from sb3_contrib import MaskablePPO

        mode = action_mode_of(name)
        seed, steps = (3, 512) if masked or mode == "plan" else (2, 1_024)
        params = SimParams(**RUN_PARAMS) if mode == "continuous" else SimParams()
        # trained as runs train: masked discrete and plans under the supervisor
        supervised = masked or mode == "plan"
        env = HighwayMissionVecEnv(2, mode, supervised, seed=seed, params=params)
        model = (MaskablePPO if masked else PPO)(
            "MlpPolicy",
            env,
            n_steps=256,
            batch_size=128,
            n_epochs=2,
            seed=seed,
            device="cpu",
            policy_kwargs=small,
        )
        model.learn(steps)
        if mode == "continuous":
            run_dir = root / "ppo-continuous-run"
            path = run_dir / "checkpoints" / "ppo_1024_steps.zip"
            run_dir.mkdir(parents=True)
            record = {
                "algo": "ppo",
                "action_mode": "continuous",
                "sim_params": params.to_dict(),
                "total_timesteps": 1_024,
                "version": "test",
            }
            (run_dir / "run.json").write_text(json.dumps(record))
        else:
            path = root / name.replace("_", "-") / "ppo-highway-final.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Train (once per session) and export the tiny models of ``MODEL_NAMES``."""
    if "models" not in _CACHE:
        from car_ai_rl.export.onnx_export import export_onnx

        root = tmp_path_factory.mktemp("tiny-models")
        zips = {name: _train(name, root) for name in MODEL_NAMES}
        onnx, exports = {}, {}
        for name, zip_path in zips.items():
            onnx[name] = zip_path.with_suffix(".onnx")
            exports[name] = export_onnx(zip_path, onnx[name], log=lambda _: None)
        _CACHE["models"] = TinyModels(zips, onnx, exports)
    return _CACHE["models"]


def rollout_obs(n_episodes: int = 24, seed: int = 500) -> np.ndarray:
    """Observations of real heuristic episodes."""
    from car_ai_rl.episodes.rollout import run_episodes
    from car_ai_rl.policies import load_policy

    metrics = run_episodes(
        load_policy("heuristic"), SimParams(), np.arange(n_episodes) + seed, False, record=True
    )
    assert metrics.traces is not None
    return metrics.traces["obs"]
