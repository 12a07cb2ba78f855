"""load_policy: the heuristic, SB3 zips and ONNX files behind one interface."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile

import numpy as np
import onnx
import pytest
from test_policies_support import (
    MODEL_NAMES,
    RUN_PARAMS,
    TinyModels,
    action_mode_of,
    rollout_obs,
    tiny_models,
)

from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.errors import UserError
from car_ai_rl.policies import HeuristicPolicy, Policy, load_policy
from car_ai_rl.policies.plans import plan_controls
from car_ai_rl.sim import core
from car_ai_rl.sim.observation import OBS_SCHEMA_VERSION
from car_ai_rl.sim.params import SimParams


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return tiny_models(tmp_path_factory)


@pytest.fixture(scope="module")
def obs() -> np.ndarray:
    return rollout_obs()


def test_heuristic_policy_acts_on_the_state():
    policy = load_policy("heuristic")
    assert isinstance(policy, HeuristicPolicy) and isinstance(policy, Policy)
    assert policy.name == "heuristic"
    identity = policy.identity()
    assert identity["kind"] == "heuristic" and identity["path"] is None
    assert identity["sha256"] is None
    params = SimParams()
    state, observations = core.reset(params, core.seeds_from_ints(3, 5))
    controls = policy.act(observations, state, params)
    assert controls.shape == (5, 3) and controls.dtype == np.float64


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_sb3_policy_identity(models, name):
    path = models.zips[name]
    policy = load_policy(str(path))
    identity = policy.identity()
    assert identity["kind"] == "sb3"
    assert identity["path"] == str(path)
    assert identity["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    meta = identity["metadata"]
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["algo"] == ("dqn" if name.startswith("dqn") else "ppo")
    assert meta["action_mode"] == action_mode_of(name)
    assert meta["action_mask"] == ("supervisor verdicts" if "masked" in name else "none")
    assert int(meta["train_steps"]) >= 512
    assert meta["obs_schema_version"] == OBS_SCHEMA_VERSION


def test_sb3_params_come_from_run_json_one_level_up(models):
    policy = load_policy(str(models.zips["ppo_continuous"]))
    assert policy.sim_params == SimParams(**RUN_PARAMS)
    assert policy.identity()["metadata"]["sim_params_source"].endswith("run.json")
    lone = load_policy(str(models.zips["dqn"]))
    assert lone.sim_params == SimParams()
    assert lone.identity()["metadata"]["sim_params_source"] == "defaults"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnx_policy_matches_sb3_policy_on_rollout_obs(models, obs, name):
    sb3 = load_policy(str(models.zips[name]))
    exported = load_policy(str(models.onnx[name]))
    assert exported.identity()["kind"] == "onnx"
    assert exported.action_mode == sb3.action_mode
    assert exported.sim_params == sb3.sim_params
    state, _ = core.reset(SimParams(), core.seeds_from_ints(0, len(obs)))
    a = sb3.act(obs, state, SimParams())
    b = exported.act(obs, state, SimParams())
    assert a.shape == b.shape == (len(obs), 3) and b.dtype == np.float64
    if sb3.action_mode == "plan":  # both drive the graph's plans with the heuristic driver
        np.testing.assert_array_equal(b, a)
        np.testing.assert_array_equal(b, plan_controls(state, SimParams(), sb3.predict(obs)))
    elif sb3.action_mode == "discrete":
        np.testing.assert_allclose(b, a, atol=1e-7)
    else:
        raw = sb3.predict(obs)
        settled = np.abs(np.abs(raw[:, 2]) - 0.5) > 1e-5  # lane threshold ties may round either way
        np.testing.assert_allclose(b[settled], a[settled], atol=1e-5)


def test_onnx_identity_carries_the_export_metadata(models):
    path = models.onnx["dqn"]
    identity = load_policy(str(path)).identity()
    assert identity["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    meta = identity["metadata"]
    assert meta["obs_schema_version"] == OBS_SCHEMA_VERSION
    assert meta["algo"] == "dqn" and meta["sim_params_hash"] == SimParams().digest()


def test_onnx_and_sb3_policies_run_episodes(models):
    seeds = np.arange(6) + 40
    a = run_episodes(load_policy(str(models.zips["dqn"])), SimParams(), seeds, True)
    b = run_episodes(load_policy(str(models.onnx["dqn"])), SimParams(), seeds, True)
    for key in ("steps", "collision", "supervisor_interventions"):
        np.testing.assert_array_equal(a.per_episode[key], b.per_episode[key])
    # the graph's float32 controls (0.4 vs 0.4f) move the car by micrometres
    np.testing.assert_allclose(a.per_episode["distance_m"], b.per_episode["distance_m"], rtol=1e-6)


def _with_metadata(source, target, **changes: str | None):
    proto = onnx.load(str(source))
    kept = {p.key: p.value for p in proto.metadata_props}
    kept.update(changes)
    del proto.metadata_props[:]
    for key, value in kept.items():
        if value is not None:
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(proto, str(target))
    return target


def test_onnx_for_another_obs_schema_is_refused(models, tmp_path):
    path = _with_metadata(
        models.onnx["dqn"], tmp_path / "old.onnx", obs_schema_version="highway-mission-obs/0"
    )
    with pytest.raises(UserError) as info:
        load_policy(str(path))
    assert info.value.exit_code == 2
    assert str(path) in str(info.value) and "highway-mission-obs/0" in str(info.value)
    bare = _with_metadata(models.onnx["dqn"], tmp_path / "bare.onnx", obs_schema_version=None)
    with pytest.raises(UserError, match="no obs_schema_version"):
        load_policy(str(bare))


def _incompatible_sb3_zip(path):
    import gymnasium as gym
    from stable_baselines3 import PPO

    PPO("MlpPolicy", gym.make("CartPole-v1"), n_steps=8, batch_size=8, device="cpu").save(path)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing.zip", "not found"),
        ("missing.onnx", "not found"),
        ("no_suffix", "not found"),
        ("text.zip", "not a zip"),
        ("truncated.zip", "corrupted"),
        ("foreign.zip", "not an SB3 model zip"),
        ("garbage.onnx", "not a loadable ONNX model"),
        ("cartpole.zip", "incompatible model"),
    ],
)
def test_bad_models_raise_user_errors_naming_the_file(models, tmp_path, kind, message):
    path = tmp_path / kind
    if kind == "text.zip":
        path.write_text("plain text")
    elif kind == "truncated.zip":
        path.write_bytes(models.zips["dqn"].read_bytes()[:2000])
    elif kind == "foreign.zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("data", json.dumps({"hello": 1}))
    elif kind == "garbage.onnx":
        path.write_bytes(b"\x08\x07garbage" * 50)
    elif kind == "cartpole.zip":
        _incompatible_sb3_zip(path)
    with pytest.raises(UserError) as info:
        load_policy(str(path))
    assert info.value.exit_code == 2
    assert str(path) in str(info.value) and message in str(info.value)


def test_renamed_onnx_without_suffix_is_detected(models, tmp_path):
    path = tmp_path / "model"
    shutil.copy(models.onnx["ppo_discrete"], path)
    assert load_policy(str(path)).identity()["kind"] == "onnx"


def test_in_memory_sb3_model_runs_like_its_zip(models):
    from car_ai_rl.policies.sb3_policy import SB3Policy

    loaded = load_policy(str(models.zips["ppo_discrete"]))
    in_memory = SB3Policy(loaded.model)
    assert in_memory.action_mode == "discrete" and in_memory.identity()["path"] is None
    seeds = np.arange(4) + 900
    a = run_episodes(loaded, SimParams(), seeds, False)
    b = run_episodes(in_memory, SimParams(), seeds, False)
    for key, values in a.per_episode.items():
        np.testing.assert_array_equal(values, b.per_episode[key], err_msg=key)
