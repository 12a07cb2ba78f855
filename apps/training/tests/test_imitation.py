"""Imitation kept up during PPO and DQN: the weight's schedule, and the updates it makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.logger import configure
from test_pretrain import fresh_model

from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.imitation import (
    ImitationCallback,
    imitation_weight,
    load_demos,
    save_demos,
)
from car_ai_rl.train.masked_dqn import MaskedDQN
from car_ai_rl.train.pretrain import Teacher, drive, imitation_loss, large_margin_loss


def test_weight_moves_linearly_to_the_final_weight_at_the_given_fraction() -> None:
    assert imitation_weight(2.0, 0.0, 0.5, 0, 1000) == 2.0
    assert imitation_weight(2.0, 0.0, 0.5, 250, 1000) == pytest.approx(1.0)
    assert imitation_weight(2.0, 0.0, 0.5, 500, 1000) == 0.0
    assert imitation_weight(2.0, 0.0, 0.5, 900, 1000) == 0.0
    assert imitation_weight(2.0, 0.0, 0.0, 0, 1000) == 0.0
    assert imitation_weight(2.0, 1.0, 0.5, 250, 1000) == pytest.approx(1.5)
    assert imitation_weight(2.0, 1.0, 0.5, 900, 1000) == 1.0  # kept after the fraction
    assert imitation_weight(1.0, 1.0, 0.5, 900, 1000) == 1.0  # constant (DQN's default)


def test_final_weight_defaults_per_algorithm() -> None:
    from car_ai_rl.train.config import Kickstart

    assert Kickstart().final_weight("ppo") == 0.0
    assert Kickstart(imitation_weight=0.7).final_weight("dqn") == 0.7
    assert Kickstart(imitation_final_weight=0.2).final_weight("ppo") == 0.2


def supervised_demos(seed: int):
    return drive(
        None,
        SimParams(),
        "discrete",
        16,
        60,
        seed=seed,
        gamma=0.99,
        teacher=Teacher("heuristic", True),
        masked=True,
    )


def masked_loss(model: MaskablePPO, demos) -> float:
    with torch.no_grad():
        return imitation_loss(
            model.policy,
            torch.as_tensor(demos.obs),
            torch.as_tensor(demos.labels),
            allowed_actions(demos.obs),
        ).item()


def margin_loss(model: MaskedDQN, demos) -> float:
    with torch.no_grad():
        q = model.policy.q_net(torch.as_tensor(demos.obs))
        return large_margin_loss(q, torch.as_tensor(demos.labels)).item()


def callback_for(model, demos, weight: float, steps: int) -> ImitationCallback:
    callback = ImitationCallback(
        demos.obs, demos.labels, weight, 0.0, 0.5, 100_000, 256, masked=True, seed=0
    )
    callback.init_callback(model)
    model.set_logger(configure(None, []))
    model.num_timesteps = steps
    return callback


@pytest.fixture
def model() -> MaskablePPO:
    return fresh_model("discrete", MaskablePPO, supervised=True)


def test_updates_move_the_policy_toward_the_teacher_on_held_out_states(model) -> None:
    demos, held_out = supervised_demos(1), supervised_demos(2)
    before = masked_loss(model, held_out)
    callback = callback_for(model, demos, 1.0, 0)
    for _ in range(10):
        callback.on_rollout_end()
    assert masked_loss(model, held_out) < before - 0.3, before


def test_dqn_updates_make_the_teachers_allowed_action_greedy_on_held_out_states() -> None:
    env = HighwayMissionVecEnv(2, "discrete", True, seed=0)
    model = MaskedDQN(
        "MlpPolicy", env, learning_rate=5e-4, seed=0, device="cpu", policy_kwargs={"net_arch": [64]}
    )
    demos, held_out = supervised_demos(1), supervised_demos(2)
    before = margin_loss(model, held_out)
    target = [p.detach().clone() for p in model.q_net_target.parameters()]
    callback = callback_for(model, demos, 1.0, 0)
    for _ in range(30):
        callback.on_rollout_end()
    assert margin_loss(model, held_out) < 0.75 * before, before
    with torch.no_grad():  # the greedy masked choice is always allowed
        greedy = model.policy.q_net(torch.as_tensor(held_out.obs)).argmax(1).numpy()
    assert allowed_actions(held_out.obs)[np.arange(len(greedy)), greedy].all()
    for old, new in zip(target, model.q_net_target.parameters(), strict=True):
        assert torch.equal(old, new)  # the target network follows DQN's own schedule


def test_no_update_once_the_weight_reached_zero(model) -> None:
    demos = supervised_demos(1)
    callback = callback_for(model, demos, 1.0, 50_000)  # until 0.5 of 100,000 steps
    params = [p.detach().clone() for p in model.policy.parameters()]
    callback.on_rollout_end()
    for old, new in zip(params, model.policy.parameters(), strict=True):
        assert torch.equal(old, new)


def test_demonstrations_round_trip(tmp_path: Path) -> None:
    demos = supervised_demos(3)
    path = tmp_path / "demos.npz"
    assert load_demos(path) is None
    save_demos(path, demos)
    loaded = load_demos(path)
    assert loaded is not None
    np.testing.assert_array_equal(loaded[0], demos.obs)
    np.testing.assert_array_equal(loaded[1], demos.labels)
    assert [p.name for p in tmp_path.iterdir()] == ["demos.npz"]  # no temporary left behind
