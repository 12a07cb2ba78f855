"""The lean masked forward pass computes exactly what sb3-contrib's does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.policies.sb3_model import detect_masked, read_zip_data
from car_ai_rl.train.config import TrainConfig
from car_ai_rl.train.maskable_policy import MaskedActorCriticPolicy
from car_ai_rl.train.runner import build_model


@pytest.fixture(scope="module")
def policy_and_batches(tmp_path_factory):
    """A masked PPO policy with trained-looking weights and real observations and masks."""
    env = HighwayMissionVecEnv(6, safety_supervisor=True, seed=3)
    model = build_model(TrainConfig(), env, tmp_path_factory.mktemp("tb"))
    torch.manual_seed(0)
    with torch.no_grad():  # spread the logits: the initial action head is nearly uniform
        for p in model.policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    model.policy.set_training_mode(False)
    obs = env.reset()
    batches = []
    rng = np.random.default_rng(0)
    for _ in range(20):
        masks = env.action_masks()
        batches.append((obs.copy(), masks.copy()))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        obs, *_ = env.step(actions)
    one_allowed = np.zeros_like(masks)
    one_allowed[np.arange(len(masks)), rng.integers(0, masks.shape[1], len(masks))] = True
    batches.append((obs.copy(), one_allowed))
    return model.policy, batches


def _run(forward, policy, batches, deterministic: bool, seed: int):
    """The forward's outputs on every batch from one seed, and the random stream's next draw."""
    torch.manual_seed(seed)
    with torch.no_grad():
        outputs = [
            forward(policy, torch.as_tensor(obs), deterministic=deterministic, action_masks=masks)
            for obs, masks in batches
        ]
    return outputs, torch.rand(4)


@pytest.mark.parametrize("deterministic", [False, True])
def test_forward_is_bit_identical_to_sb3_contrib(policy_and_batches, deterministic):
    policy, batches = policy_and_batches
    assert type(policy) is MaskedActorCriticPolicy
    ours, next_draw = _run(MaskedActorCriticPolicy.forward, policy, batches, deterministic, 11)
    theirs, next_draw_ref = _run(
        MaskableActorCriticPolicy.forward, policy, batches, deterministic, 11
    )
    n_distinct = set()
    for (a, v, lp), (a_ref, v_ref, lp_ref), (_, masks) in zip(ours, theirs, batches, strict=True):
        assert torch.equal(a, a_ref)
        assert torch.equal(v, v_ref)
        assert torch.equal(lp, lp_ref)
        assert masks[np.arange(len(masks)), a.numpy()].all(), "chose a masked action"
        n_distinct.update(a.tolist())
    assert len(n_distinct) > 3, "the batches should exercise several actions"
    assert torch.equal(next_draw, next_draw_ref), "the random stream advanced differently"


def test_sampled_actions_follow_the_masked_probabilities(policy_and_batches):
    policy, batches = policy_and_batches
    obs, masks = batches[5]
    obs_t = torch.as_tensor(np.repeat(obs[:1], 4000, axis=0))
    masks_rep = np.repeat(masks[:1], 4000, axis=0)
    torch.manual_seed(5)
    with torch.no_grad():
        actions, _, log_prob = policy(obs_t, action_masks=masks_rep)
        dist = policy.get_distribution(obs_t[:1], action_masks=masks[:1]).distribution
    expected = dist.probs[0].numpy()
    freq = np.bincount(actions.numpy(), minlength=len(expected)) / len(actions)
    assert np.all(freq[~masks[0]] == 0)
    assert np.abs(freq - expected).max() < 0.03
    np.testing.assert_allclose(log_prob.exp().numpy(), expected[actions.numpy()], rtol=1e-5)


def test_without_masks_it_is_sb3_contribs_forward(policy_and_batches):
    policy, batches = policy_and_batches
    unmasked = [(batches[0][0], None)]
    ours, _ = _run(MaskedActorCriticPolicy.forward, policy, unmasked, False, seed=2)
    theirs, _ = _run(MaskableActorCriticPolicy.forward, policy, unmasked, False, seed=2)
    for x, y in zip(ours[0], theirs[0], strict=True):
        assert torch.equal(x, y)


def test_a_saved_model_keeps_the_policy_and_reads_as_masked(policy_and_batches, tmp_path: Path):
    policy, batches = policy_and_batches
    env = HighwayMissionVecEnv(2, safety_supervisor=True, seed=1)
    model = build_model(TrainConfig(), env, tmp_path / "tb")
    path = tmp_path / "m.zip"
    model.save(path)
    assert detect_masked(read_zip_data(path))
    loaded = MaskablePPO.load(path, device="cpu")
    assert type(loaded.policy) is MaskedActorCriticPolicy
    obs, masks = batches[0]
    a1, _ = model.predict(obs[:2], deterministic=True, action_masks=masks[:2])
    a2, _ = loaded.predict(obs[:2], deterministic=True, action_masks=masks[:2])
    np.testing.assert_array_equal(a1, a2)
