"""Tiny exported models for the tests: masked PPO trained under the supervisor for about 2k
steps with car_ai_rl (after a short imitation of the heuristic driver), as training runs by
default, exported with car_ai_rl's exporter, and a copy whose metadata claims another
observation schema; and a PPO choosing driving plans (the ``plan`` action mode), trained for a
few hundred steps only, since any plan is one of the heuristic driver's."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

TRAIN_STEPS = 2048


def train_tiny_ppo(out_dir: Path) -> Path:
    """A MaskablePPO zip in ``out_dir`` (discrete actions, 32x32 network)."""
    import torch
    from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
    from car_ai_rl.sim.params import SimParams
    from car_ai_rl.train.config import Kickstart
    from car_ai_rl.train.pretrain import kickstart
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    params = SimParams()
    env = HighwayMissionVecEnv(4, "discrete", safety_supervisor=True, seed=3, params=params)
    model = MaskablePPO(
        "MlpPolicy",
        env,
        n_steps=256,
        batch_size=256,
        n_epochs=2,
        seed=3,
        device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )
    with contextlib.redirect_stderr(io.StringIO()):
        settings = Kickstart(
            rounds=1, envs=32, steps_per_round=150, epochs=4, batch_size=1024, learning_rate=3e-3
        )
        kickstart(model, params, "discrete", settings, supervised=True)
    model.learn(TRAIN_STEPS)
    path = out_dir / "ppo-tiny" / "ppo-highway-final.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


PLAN_TRAIN_STEPS = 256


def train_tiny_plan_ppo(out_dir: Path) -> Path:
    """A PPO zip in ``out_dir`` choosing among the driving plans (32x32 network)."""
    import torch
    from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
    from car_ai_rl.sim.params import SimParams
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = HighwayMissionVecEnv(4, "plan", safety_supervisor=True, seed=5, params=SimParams())
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=256,
        n_epochs=1,
        seed=5,
        device="cpu",
        policy_kwargs={"net_arch": [32, 32]},
    )
    model.learn(PLAN_TRAIN_STEPS)
    path = out_dir / "ppo-plan" / "ppo-highway-final.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def export_tiny(zip_path: Path, n_check: int = 500) -> Path:
    from car_ai_rl.export.onnx_export import export_onnx

    out = zip_path.with_suffix(".onnx")
    export_onnx(zip_path, out, n_check=n_check, log=lambda _: None)
    return out


def with_metadata(src: Path, dst: Path, **changes: str) -> Path:
    """A copy of an ONNX model with some metadata values replaced."""
    import onnx

    proto = onnx.load(str(src))
    for entry in proto.metadata_props:
        if entry.key in changes:
            entry.value = changes[entry.key]
    onnx.save(proto, str(dst))
    return dst


def wrong_schema_model(src: Path, dst: Path) -> Path:
    return with_metadata(src, dst, obs_schema_version="highway-mission-obs/0")


def wrong_features_model(src: Path, dst: Path) -> Path:
    import onnx

    proto = onnx.load(str(src))
    features = json.loads(next(e.value for e in proto.metadata_props if e.key == "obs_features"))
    features[3], features[4] = features[4], features[3]
    return with_metadata(src, dst, obs_features=json.dumps(features))
