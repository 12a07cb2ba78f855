"""Action masks: the verdicts in the observation are what the supervisor allows; masked
policies (MaskablePPO, the masked DQN, their ONNX graphs) choose only allowed actions."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.dqn.policies import QNetwork
from test_policies_support import TinyModels, rollout_obs, tiny_models

from car_ai_rl.envs.actions import DISCRETE_CONTROLS
from car_ai_rl.envs.highway_env import HighwayMissionEnv
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.export.actor import build_actor
from car_ai_rl.policies import load_policy
from car_ai_rl.policies.sb3_model import load_sb3
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.controls import nearest_discrete_action
from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.masked_dqn import random_allowed_actions


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def test_vec_env_masks_are_what_the_supervisor_passes() -> None:
    env = HighwayMissionVecEnv(8, "discrete", True, seed=5)
    env.reset()
    assert is_masking_supported(env)
    rng = np.random.default_rng(0)
    for _ in range(40):
        masks = get_action_masks(env)
        assert masks.shape == (8, 21) and masks.any(axis=1).all()
        state = env.sim.state
        for a in range(21):
            controls = np.repeat(DISCRETE_CONTROLS[a][None], 8, axis=0)
            safe, _, _ = supervisor.filter(state, controls, env.params)
            unchanged = (safe == controls).all(axis=1)
            np.testing.assert_array_equal(masks[:, a], unchanged, err_msg=f"action {a}")
        env.step(random_allowed_actions(env.sim.obs, rng))


def test_gym_env_masks_follow_its_observation() -> None:
    env = HighwayMissionEnv(safety_supervisor=True)
    obs, _ = env.reset(seed=3)
    np.testing.assert_array_equal(env.action_masks(), allowed_actions(obs))


def test_random_allowed_actions_are_allowed_and_cover_the_choices() -> None:
    obs = rollout_obs(4)
    rng = np.random.default_rng(1)
    allowed = allowed_actions(obs)
    seen = np.zeros_like(allowed)
    for _ in range(30):
        a = random_allowed_actions(obs, rng)
        assert allowed[np.arange(len(obs)), a].all()
        seen[np.arange(len(obs)), a] = True
    assert (seen <= allowed).all() and seen.sum() > 2 * len(obs)


def test_nearest_allowed_action_keeps_the_lane_request_when_allowed() -> None:
    params = SimParams()
    state, obs = core.reset(params, core.seeds_from_ints(9, 64))
    allowed = allowed_actions(obs)
    rng = np.random.default_rng(2)
    controls = DISCRETE_CONTROLS[rng.integers(0, 21, 64)]
    a = nearest_discrete_action(controls, state.speed_mps[:, 0], params, allowed)
    assert allowed[np.arange(64), a].all()
    free = nearest_discrete_action(controls, state.speed_mps[:, 0], params)
    same = allowed[np.arange(64), free]
    np.testing.assert_array_equal(a[same], free[same])  # nothing changes where it was allowed


@pytest.mark.parametrize("name", ["ppo_masked", "dqn_masked"])
def test_masked_policies_never_need_the_supervisor(models, name) -> None:
    """Under the supervisor, a masked policy is never overridden: zero interventions."""
    for source in (models.zips[name], models.onnx[name]):
        policy = load_policy(str(source))
        m = run_episodes(policy, SimParams(), np.arange(16) + 70, True).per_episode
        assert m["steps"].sum() > 1000
        assert m["supervisor_interventions"].sum() == 0, source
        assert m["collision"].sum() == 0


@pytest.mark.parametrize("name", ["ppo_masked", "dqn_masked"])
def test_onnx_applies_the_mask_where_it_binds(models, name) -> None:
    """On observations where the unmasked network would choose a disallowed action, the graph
    chooses the same allowed action as SB3's masked prediction."""
    obs = rollout_obs(24)
    model, info = load_sb3(models.zips[name])
    assert info.masked
    with torch.no_grad():
        if info.algo == "dqn":  # the masked Q-network's own unmasked scores
            scores = QNetwork.forward(model.policy.q_net, torch.as_tensor(obs))
        else:
            scores = build_actor(model, info.algo, info.action_mode).body(torch.as_tensor(obs))
    allowed = allowed_actions(obs)
    binds = ~allowed[np.arange(len(obs)), scores.argmax(1).numpy()]
    assert binds.sum() >= 20, "the mask never binds on these observations"
    session = ort.InferenceSession(str(models.onnx[name]), providers=["CPUExecutionProvider"])
    _, onnx_action = session.run(["controls", "action"], {"obs": obs})
    assert allowed[np.arange(len(obs)), onnx_action].all()
    sb3 = load_policy(str(models.zips[name])).predict(obs)
    np.testing.assert_array_equal(onnx_action[binds], sb3[binds])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["action_mask"].startswith("obs[")


def test_unmasked_exports_say_so(models) -> None:
    session = ort.InferenceSession(
        str(models.onnx["ppo_discrete"]), providers=["CPUExecutionProvider"]
    )
    assert session.get_modelmeta().custom_metadata_map["action_mask"] == "none"
