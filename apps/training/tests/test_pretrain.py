"""Kickstart: imitation of the heuristic driver makes the policy act like it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.pretrain import drive, kickstart


def fresh_model(action_mode: str) -> PPO:
    env = HighwayMissionVecEnv(2, action_mode, False, seed=0)
    return PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=64,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [64, 64]},
    )


def heldout_agreement(model: PPO, action_mode: str) -> float:
    """Share of held-out heuristic states where the deterministic policy picks its action."""
    data = drive(None, SimParams(), action_mode, 16, 100, seed=999, gamma=0.99)
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(data.obs)).distribution
    if action_mode == "discrete":
        return float((dist.logits.argmax(-1).numpy() == data.labels).mean())
    return float(-np.mean((dist.mean.numpy() - data.labels) ** 2))


def test_demonstration_returns_are_discounted_rewards() -> None:
    data = drive(None, SimParams(), "discrete", 4, 30, seed=1, gamma=0.9)
    assert data.obs.shape[0] == data.labels.shape[0] == data.returns.shape[0] == 120
    assert np.isfinite(data.returns).all()
    assert data.labels.min() >= 0 and data.labels.max() < 15


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_kickstart_imitates_the_heuristic(action_mode: str) -> None:
    model = fresh_model(action_mode)
    before = heldout_agreement(model, action_mode)
    stats = kickstart(model, SimParams(), action_mode, 2, 32, 100, 6, 256, 1e-3)
    after = heldout_agreement(model, action_mode)
    assert after > before
    if action_mode == "discrete":
        assert stats["agreement"] > 0.6 and after > 0.6  # chance is 1/15
    else:
        assert torch.allclose(model.policy.log_std, torch.full_like(model.policy.log_std, -1.0))
