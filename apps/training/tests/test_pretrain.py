"""Kickstart: imitation of the heuristic driver makes the policy act like it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from car_ai_rl.envs.actions import N_DISCRETE_ACTIONS
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.config import Kickstart
from car_ai_rl.train.pretrain import drive, kickstart


def fresh_model(action_mode: str, algo_class: type[PPO] = PPO, supervised: bool = False) -> PPO:
    """A small PPO (or sb3-contrib's MaskablePPO) on two envs, before any learning."""
    env = HighwayMissionVecEnv(2, action_mode, supervised, seed=0)
    return algo_class(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=64,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [64, 64]},
    )


def heldout_agreement(model: PPO, action_mode: str) -> tuple[float, float]:
    """On held-out heuristic states: how often the deterministic policy asks for the same lane
    change as the heuristic, and minus the mean size of its error in the longitudinal command
    (discrete: levels apart; continuous: squared error of the Box action). Higher is better."""
    data = drive(None, SimParams(), action_mode, 16, 100, seed=999, gamma=0.99)
    with torch.no_grad():
        dist = model.policy.get_distribution(torch.as_tensor(data.obs)).distribution
    if action_mode == "discrete":
        chosen = dist.logits.argmax(-1).numpy()
        lane_agree = float((chosen % 3 == data.labels % 3).mean())
        return lane_agree, -float(np.abs(chosen // 3 - data.labels // 3).mean())
    mean = dist.mean.numpy()
    lane_agree = float((np.sign(np.round(mean[:, 2])) == np.sign(data.labels[:, 2])).mean())
    return lane_agree, -float(np.mean((mean[:, :2] - data.labels[:, :2]) ** 2))


def test_demonstration_returns_are_discounted_rewards() -> None:
    data = drive(None, SimParams(), "discrete", 4, 30, seed=1, gamma=0.9)
    assert data.obs.shape[0] == data.labels.shape[0] == data.returns.shape[0] == 120
    assert np.isfinite(data.returns).all()
    assert data.labels.min() >= 0 and data.labels.max() < N_DISCRETE_ACTIONS


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_kickstart_imitates_the_heuristic(action_mode: str) -> None:
    model = fresh_model(action_mode)
    before = heldout_agreement(model, action_mode)
    settings = Kickstart(
        teacher="heuristic",
        rounds=2,
        envs=32,
        steps_per_round=100,
        epochs=6,
        batch_size=256,
        learning_rate=1e-3,
    )
    stats, _ = kickstart(model, SimParams(), action_mode, settings)
    after = heldout_agreement(model, action_mode)
    assert after[1] > before[1], (before, after)  # closer longitudinal commands
    assert after[0] > 0.95, (before, after)  # lane requests agree (mostly "keep the lane")
    if action_mode == "discrete":
        assert after[1] > -1.0, (before, after)  # within one level on average
        assert stats["agreement"] > 0.3  # the exact action of 21 (chance: about 0.05)
    else:
        assert torch.allclose(model.policy.log_std, torch.full_like(model.policy.log_std, -1.0))


def test_supervised_kickstart_labels_are_allowed_actions() -> None:
    from car_ai_rl.sim.observation import allowed_actions
    from car_ai_rl.train.pretrain import Teacher

    data = drive(
        None,
        SimParams(),
        "discrete",
        16,
        80,
        seed=5,
        gamma=0.99,
        teacher=Teacher("heuristic", True),
        masked=True,
    )
    allowed = allowed_actions(data.obs)
    assert allowed[np.arange(len(data.obs)), data.labels].all()
    assert (allowed.sum(axis=1) < 21).any(), "no state restricted anything"


def test_dqfd_kickstart_makes_the_teacher_greedy_for_a_masked_dqn() -> None:
    from car_ai_rl.sim.observation import allowed_actions
    from car_ai_rl.train.masked_dqn import MaskedDQN
    from car_ai_rl.train.pretrain import policy_greedy

    env = HighwayMissionVecEnv(2, "discrete", True, seed=0)
    model = MaskedDQN("MlpPolicy", env, seed=0, device="cpu", policy_kwargs={"net_arch": [64, 64]})
    held_out = drive(None, SimParams(), "discrete", 16, 100, seed=999, gamma=0.99)
    before = (policy_greedy(model, held_out.obs, True) == held_out.labels).mean()
    settings = Kickstart(
        teacher="heuristic",
        rounds=2,
        envs=32,
        steps_per_round=100,
        batch_size=256,
        learning_rate=1e-3,
    )
    stats, _ = kickstart(model, SimParams(), "discrete", settings, supervised=True)
    greedy = policy_greedy(model, held_out.obs, True)
    assert allowed_actions(held_out.obs)[np.arange(len(greedy)), greedy].all()
    assert (greedy == held_out.labels).mean() > max(before + 0.2, 0.4), (before, stats)
    # the target network starts equal to the pre-trained one
    for a, b in zip(model.q_net.parameters(), model.q_net_target.parameters(), strict=True):
        assert torch.equal(a, b)


def test_oracle_plan_labels_drive_exactly_as_the_oracle() -> None:
    """In the plan mode the oracle's label is the plan it drives: driving the labels under the
    supervisor reproduces the oracle's own drive step for step."""
    from car_ai_rl.planner.oracle import OraclePlanner
    from car_ai_rl.policies.plans import N_PLANS
    from car_ai_rl.sim import core
    from car_ai_rl.train.pretrain import Teacher

    params = SimParams()
    data = drive(None, params, "plan", 6, 60, seed=5, gamma=0.99, teacher=Teacher("oracle", True))
    assert data.labels.dtype == np.int64
    assert data.labels.min() >= 0 and data.labels.max() < N_PLANS
    assert np.unique(data.labels).size > 1  # the oracle does not just drive the heuristic
    np.testing.assert_array_equal(data.actions, data.labels)
    planner = OraclePlanner()
    state, obs = core.reset(params, core.seeds_from_ints(5, 6))
    for t in range(60):
        np.testing.assert_array_equal(obs, data.obs[t * 6 : (t + 1) * 6])
        state, result = core.step(state, planner.controls(state, params), params)
        obs = result.obs
