"""Imitation kept up during PPO: the weight's schedule, and the updates it makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.logger import configure
from test_pretrain import fresh_model

from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.imitation import (
    ImitationCallback,
    imitation_weight,
    load_demos,
    save_demos,
)
from car_ai_rl.train.pretrain import Teacher, drive, imitation_loss


def test_weight_falls_linearly_to_zero_at_the_given_fraction() -> None:
    assert imitation_weight(2.0, 0.5, 0, 1000) == 2.0
    assert imitation_weight(2.0, 0.5, 250, 1000) == pytest.approx(1.0)
    assert imitation_weight(2.0, 0.5, 500, 1000) == 0.0
    assert imitation_weight(2.0, 0.5, 900, 1000) == 0.0
    assert imitation_weight(2.0, 0.0, 0, 1000) == 0.0


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


def callback_for(model: MaskablePPO, demos, weight: float, steps: int) -> ImitationCallback:
    callback = ImitationCallback(
        demos.obs, demos.labels, weight, 0.5, 100_000, 256, masked=True, seed=0
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
