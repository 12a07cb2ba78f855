"""The Gymnasium Env and VectorEnv, the SB3 VecEnv, actions, info, rendering and seeding."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from simkit import put_vehicle

import car_ai_rl.envs  # noqa: F401 - registers the env id
from car_ai_rl.envs import ENV_ID
from car_ai_rl.envs.actions import DISCRETE_CONTROLS, N_DISCRETE_ACTIONS, decode_actions
from car_ai_rl.envs.highway_env import HighwayMissionEnv
from car_ai_rl.envs.render import CRASH, EGO
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.envs.vector import HighwayMissionVectorEnv
from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.policies.plans import N_PLANS, PLAN_NAMES, PLANS, plan_controls
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.controls import (
    DISCRETE_ACTION_NAMES,
    controls_to_continuous,
    nearest_discrete_action,
)
from car_ai_rl.sim.observation import OBS_DIM, OBS_FEATURES
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.reward import REWARD_TERMS
from car_ai_rl.sim.rng import episode_seed, next_episode_seed

MODES = [(mode, supervised) for mode in ("discrete", "continuous", "plan") for supervised in (0, 1)]
COAST = DISCRETE_ACTION_NAMES.index("coast_keep")  # no throttle, no brake, no lane request
FULL_RIGHT = DISCRETE_ACTION_NAMES.index("throttle_full_right")
FULL_KEEP = DISCRETE_ACTION_NAMES.index("throttle_full_keep")
F = {name: k for k, name in enumerate(OBS_FEATURES)}


# ------------------------------------------------------------------ checkers and registration
@pytest.mark.parametrize(("mode", "supervised"), MODES)
def test_gymnasium_check_env_passes(mode: str, supervised: bool) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID, action_mode=mode, safety_supervisor=supervised)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


@pytest.mark.parametrize(("mode", "supervised"), MODES)
def test_sb3_check_env_passes(mode: str, supervised: bool) -> None:
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(HighwayMissionEnv(action_mode=mode, safety_supervisor=supervised), warn=True)


def test_gym_make_passes_sim_params_through() -> None:
    env = gym.make(ENV_ID, action_mode="continuous", n_lanes=4, traffic_density=25.0)
    assert env.unwrapped.params.n_lanes == 4
    assert env.unwrapped.params.traffic_density == 25.0
    assert env.observation_space.shape == (OBS_DIM,)
    assert env.observation_space.dtype == np.float32
    assert isinstance(env.action_space, gym.spaces.Box) and env.action_space.shape == (3,)
    obs, info = env.reset(seed=1)
    assert obs.dtype == np.float32 and obs.shape == (OBS_DIM,)
    assert isinstance(info, dict)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(reward, float) and isinstance(terminated, bool)
    discrete = gym.make(ENV_ID)
    assert discrete.action_space == gym.spaces.Discrete(N_DISCRETE_ACTIONS)


def test_gym_make_vec_uses_the_native_vector_env() -> None:
    venv = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(venv.unwrapped, HighwayMissionVectorEnv)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, OBS_DIM)
    obs, reward, terminated, truncated, _ = venv.step(np.full(3, COAST))
    assert reward.shape == terminated.shape == truncated.shape == (3,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"action_mode": "joystick"}, "action_mode"),
        ({"n_lanes": 9}, "n_lanes"),
        ({"no_such_param": 1}, "no_such_param"),
        ({"traffic_density": float("nan")}, "traffic_density"),
    ],
)
def test_bad_env_arguments_name_the_field(kwargs: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        HighwayMissionEnv(**kwargs)
    with pytest.raises(UserError, match=match):
        HighwayMissionVecEnv(2, **kwargs)
    with pytest.raises(UserError, match=match):
        HighwayMissionVectorEnv(2, **kwargs)


def test_bad_sim_params_through_gym_make() -> None:
    with pytest.raises(ConfigError, match="^n_lanes"):
        gym.make(ENV_ID, n_lanes=-1)


# ------------------------------------------------------------------ actions
def test_both_action_modes_decode_to_the_same_controls() -> None:
    n = N_DISCRETE_ACTIONS
    from_discrete = decode_actions(np.arange(n), "discrete", n)
    np.testing.assert_array_equal(from_discrete, DISCRETE_CONTROLS)
    box = controls_to_continuous(DISCRETE_CONTROLS)
    assert np.all(np.abs(box) <= 1.0)
    np.testing.assert_allclose(decode_actions(box, "continuous", n), DISCRETE_CONTROLS)
    # the nearest discrete action of each discrete action's controls is itself, at any speed
    for speed in (0.0, 12.0, 30.0, 40.0):
        speeds = np.full(n, speed)
        np.testing.assert_array_equal(
            nearest_discrete_action(DISCRETE_CONTROLS, speeds, SimParams()), np.arange(n)
        )
    # every discrete action is a valid control; all lane requests and a brake/throttle range
    assert set(DISCRETE_CONTROLS[:, 2]) == {-1.0, 0.0, 1.0}
    assert DISCRETE_CONTROLS[:, 0].max() == 1.0 and DISCRETE_CONTROLS[:, 1].max() == 1.0


def test_plans_decode_to_the_heuristic_driver_and_its_variations() -> None:
    params = SimParams()
    n = 64
    state, _ = core.reset(params, core.seeds_from_ints(7, n))
    differs = np.zeros(N_PLANS, dtype=bool)  # each variation changes what the driver does
    for _ in range(100):
        plain = heuristic_controls(state, params)
        for k in range(N_PLANS):
            differs[k] |= np.any(plan_controls(state, params, np.full(n, k)) != plain)
        state, _ = core.step(state, plain, params)
    assert differs[1:].all() and not differs[0], differs
    with pytest.raises(ValueError, match="state"):
        decode_actions(np.zeros(n, dtype=np.int64), "plan", n)
    # plan 0 is the driver itself
    plain = decode_actions(np.zeros(n, dtype=np.int64), "plan", n, state, params)
    np.testing.assert_array_equal(plain, heuristic_controls(state, params))
    # every other plan is the driver with that plan's variation
    for k, plan in enumerate(PLANS):
        ones = np.ones(n)
        expected = heuristic_controls(
            state,
            params,
            plan.speed_offset_mps * ones,
            np.full(n, plan.hold_lane),
            plan.headway_s * ones,
        )
        got = decode_actions(np.full(n, k), "plan", n, state, params)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got, plan_controls(state, params, np.full(n, k)))
    # one batch may mix plans: each env gets its own
    mixed = np.arange(n) % N_PLANS
    rows = decode_actions(mixed, "plan", n, state, params)
    for k in range(N_PLANS):
        alone = plan_controls(state, params, np.full(n, k))
        np.testing.assert_array_equal(rows[mixed == k], alone[mixed == k])
    assert len(set(PLAN_NAMES)) == N_PLANS and PLAN_NAMES[0] == "heuristic"


def test_continuous_lane_threshold() -> None:
    a = np.array([[0.0, -1.0, 0.49], [0.0, -1.0, 0.51], [0.0, -1.0, -0.51], [1.0, -1.0, -0.2]])
    c = decode_actions(a, "continuous", 4)
    np.testing.assert_array_equal(c[:, 2], [0.0, 1.0, -1.0, 0.0])
    np.testing.assert_allclose(c[:, :2], [[0.5, 0.0], [0.5, 0.0], [0.5, 0.0], [1.0, 0.0]])
    # the lower half of the brake axis is "no brake"; the upper half brakes proportionally
    b = decode_actions(
        np.array([[0.0, -0.3, 0.0], [0.0, 0.0, 0.0], [0.0, 0.6, 0.0]]), "continuous", 3
    )
    np.testing.assert_allclose(b[:, 1], [0.0, 0.0, 0.6])


@pytest.mark.parametrize(
    ("mode", "action"),
    [
        ("continuous", np.array([np.nan, 0.0, 0.0], dtype=np.float32)),
        ("continuous", np.array([0.0, np.inf, 0.0], dtype=np.float32)),
        ("continuous", np.array([1.5, 0.0, 0.0], dtype=np.float32)),
        ("continuous", np.array([0.0, 0.0, -2.0], dtype=np.float32)),
        ("continuous", np.array([0.0, 0.0], dtype=np.float32)),
        ("discrete", N_DISCRETE_ACTIONS),
        ("discrete", -1),
        ("discrete", 2.5),
        ("discrete", np.nan),
        ("plan", N_PLANS),
        ("plan", -1),
        ("plan", 1.5),
    ],
)
def test_bad_actions_raise_value_error_naming_action(mode: str, action) -> None:
    env = HighwayMissionEnv(action_mode=mode)
    env.reset(seed=0)
    before = env.state.copy()
    with pytest.raises(ValueError, match="action"):
        env.step(action)
    np.testing.assert_array_equal(env.state.veh, before.veh)  # nothing moved
    venv = HighwayMissionVectorEnv(2, action_mode=mode)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        venv.step(np.stack([np.asarray(action)] * 2))
    vec = HighwayMissionVecEnv(2, action_mode=mode)
    vec.reset()
    with pytest.raises(ValueError, match="action"):
        vec.step(np.stack([np.asarray(action)] * 2))


# ------------------------------------------------------------------ single env behaviour
def test_reset_seed_is_honoured() -> None:
    env = HighwayMissionEnv(action_mode="discrete")
    a, _ = env.reset(seed=123)
    for _ in range(5):
        env.step(COAST)
    b, _ = env.reset(seed=123)
    c, _ = env.reset(seed=124)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # whole trajectories repeat, and an unseeded reset after a seeded one is reproducible
    rng = np.random.default_rng(0)
    actions = rng.integers(0, N_DISCRETE_ACTIONS, 30)

    def trajectory(seed: int) -> list:
        env.reset(seed=seed)
        out = [(env.reset()[0], None, None, None)]
        for act in actions:
            o, r, term, trunc, _ = env.step(int(act))
            out.append((o, r, term, trunc))
        return out

    first, second = trajectory(9), trajectory(9)
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(np.asarray(x[0]), np.asarray(y[0]))
        assert x[1:] == y[1:]


def test_env_matches_the_core_simulator() -> None:
    """The Gym env is the core sim with decoded actions: same seed, same numbers."""
    env = HighwayMissionEnv(action_mode="continuous")
    obs, info = env.reset(seed=77)
    params = env.params
    seeds = np.array([episode_seed(77)], dtype=np.uint64)
    assert info["episode_seed"] == int(seeds[0])
    state, obs_core = core.reset(params, seeds)
    np.testing.assert_array_equal(obs, obs_core[0])
    rng = np.random.default_rng(1)
    for _ in range(40):
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(a)
        _, r = core.step(state, decode_actions(a[None], "continuous", 1), params)
        expected = r.final_obs[0] if r.done[0] else r.obs[0]
        np.testing.assert_array_equal(obs, expected)
        assert reward == r.reward[0]
        assert terminated == bool(r.terminated[0]) and truncated == bool(r.truncated[0])
        if terminated or truncated:
            break


def test_info_has_the_required_keys_and_reward_terms() -> None:
    env = HighwayMissionEnv(action_mode="discrete", safety_supervisor=True)
    env.reset(seed=5)
    required = {
        "collision",
        "at_fault",
        "mission_success",
        "mission_failure",
        "supervisor_intervened",
        "speed_mps",
    } | {f"reward_{name}" for name in REWARD_TERMS}
    for _ in range(20):
        obs, reward, _, _, info = env.step(FULL_RIGHT)
        assert required <= set(info), required - set(info)
        assert sum(info[f"reward_{name}"] for name in REWARD_TERMS) == pytest.approx(reward)
        assert info["speed_mps"] == pytest.approx(obs[F["speed"]] * 40.0, abs=1e-4)
        assert isinstance(info["supervisor_intervened"], bool)


def test_supervised_env_intervenes_and_reports_it() -> None:
    """Full throttle with a right lane request keeps hitting the lane limit or a gap check."""
    env = HighwayMissionEnv(action_mode="discrete", safety_supervisor=True)
    env.reset(seed=0)
    seen = set()
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(FULL_RIGHT)
        assert not info["at_fault"]
        if info["supervisor_intervened"]:
            assert info["supervisor_reasons"]
            seen.update(info["supervisor_reasons"])
        if terminated or truncated:
            env.reset()
    assert "lane_limit" in seen


def test_env_set_mission() -> None:
    env = HighwayMissionEnv()
    env.reset(seed=3)
    env.set_mission("exit", exit_distance_m=500.0)
    obs, *_ = env.step(COAST)
    assert obs[F["mission_exit"]] == 1.0 and obs[F["mission_cruise"]] == 0.0
    assert obs[F["exit_distance"]] == pytest.approx(0.5, abs=0.01)
    env.set_mission("cruise", target_speed_mps=22.0)
    obs, *_ = env.step(COAST)
    assert obs[F["mission_cruise"]] == 1.0
    assert obs[F["target_speed"]] == pytest.approx(22.0 / 40.0)
    with pytest.raises(UserError, match="target_lane"):
        env.set_mission("lane", target_lane=7)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "teleport"}, "kind"),
        ({"kind": "lane", "target_lane": 7}, "target_lane"),
        ({"kind": "cruise", "target_speed_mps": float("nan")}, "target_speed_mps"),
    ],
)
def test_env_set_mission_rejects_bad_arguments(kwargs: dict, field: str) -> None:
    env = HighwayMissionEnv()
    env.reset(seed=3)
    with pytest.raises(UserError, match=f"^{field}"):
        env.set_mission(**kwargs)
    vec = HighwayMissionVecEnv(2)
    vec.reset()
    with pytest.raises(UserError, match=f"^{field}"):
        vec.env_method("set_mission", **kwargs, indices=[0])


def test_render_draws_the_ego_in_green() -> None:
    env = HighwayMissionEnv(render_mode="rgb_array")
    env.reset(seed=0)
    for _ in range(3):
        img = env.render()
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8
        assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] > 10 and img.shape[1] > 10
        assert np.any(np.all(img == EGO, axis=-1)), "no ego pixels"
        assert EGO == (40, 200, 90)
        env.step(COAST)
    assert HighwayMissionEnv().render() is None


def test_render_shows_a_crash() -> None:
    env = HighwayMissionEnv(render_mode="rgb_array", traffic_density=5.0)
    env.reset(seed=0)
    state, params = env.state, env.params
    lane = int(state.lane[0, 0])
    put_vehicle(state, 1, 6.0, lane, 0.0, params, desired_mps=0.0, cooldown_s=1e9)
    _, _, terminated, _, info = env.step(FULL_KEEP)
    assert terminated and info["collision"]
    img = env.render()
    assert np.any(np.all(img == CRASH, axis=-1))


# ------------------------------------------------------------------ vector adapters
def test_vector_env_same_step_autoreset_gives_final_obs() -> None:
    n, seed, duration = 3, 7, 2.0
    venv = HighwayMissionVectorEnv(n, episode_duration_s=duration)
    singles = [HighwayMissionEnv(episode_duration_s=duration) for _ in range(n)]
    obs, _ = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=seed + i)
        np.testing.assert_array_equal(obs[i], o)
    max_steps = venv.params.max_steps
    for t in range(1, max_steps + 1):
        obs, reward, terminated, truncated, infos = venv.step(np.full(n, COAST))
        outs = [env.step(COAST) for env in singles]
        done = terminated | truncated
        assert done.all() == (t == max_steps)
        if t < max_steps:
            assert "final_obs" not in infos
            for i, (o, r, *_rest) in enumerate(outs):
                np.testing.assert_array_equal(obs[i], o)
                assert reward[i] == np.float32(r)
    assert truncated.all() and not terminated.any()
    assert infos["_final_obs"].all()
    params = venv.params
    for i, (o, *_rest) in enumerate(outs):
        np.testing.assert_array_equal(infos["final_obs"][i], o)
        # the slot restarted with the next episode of its seed, in the same step
        # (pass the seed as uint64: the compiled kernel would type a Python int as int64)
        next_seed = next_episode_seed(np.uint64(episode_seed(seed + i)))
        _, fresh = core.reset(params, np.array([next_seed], dtype=np.uint64))
        np.testing.assert_array_equal(obs[i], fresh[0])
        assert not np.array_equal(obs[i], infos["final_obs"][i])


def test_vector_env_infos_and_render() -> None:
    venv = HighwayMissionVectorEnv(4, render_mode="rgb_array", safety_supervisor=True)
    venv.reset(seed=0)
    _, reward, _, _, infos = venv.step(np.full(4, 14))
    for key in ("collision", "at_fault", "mission_success", "mission_failure"):
        assert infos[key].shape == (4,)
    assert infos["supervisor_intervened"].shape == (4,)
    total = sum(infos[f"reward_{name}"] for name in REWARD_TERMS)
    np.testing.assert_allclose(total, reward, rtol=1e-6)
    frames = venv.render()
    assert len(frames) == 4 and all(f.dtype == np.uint8 for f in frames)


def test_sb3_vec_env_fills_terminal_observation_and_time_limit() -> None:
    n = 6
    vec = HighwayMissionVecEnv(n, episode_duration_s=2.0, seed=3)
    obs = vec.reset()
    assert obs.shape == (n, OBS_DIM) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    truncations = 0
    for _ in range(25):
        obs, rewards, dones, infos = vec.step(rng.integers(0, N_DISCRETE_ACTIONS, n))
        assert rewards.dtype == np.float32 and dones.dtype == bool
        step = vec.last_step.result
        for b in range(n):
            if dones[b]:
                term = infos[b]["terminal_observation"]
                assert term.shape == (OBS_DIM,) and term.dtype == np.float32
                np.testing.assert_array_equal(term, step.final_obs[b])
                assert not np.array_equal(term, obs[b])
                expected = bool(step.truncated[b] and not step.terminated[b])
                assert infos[b]["TimeLimit.truncated"] == expected
                truncations += expected
            else:
                assert "terminal_observation" not in infos[b]
                assert "TimeLimit.truncated" not in infos[b]
    assert truncations >= n


def test_sb3_vec_env_marks_a_collision_as_not_truncated() -> None:
    vec = HighwayMissionVecEnv(2, traffic_density=5.0, episode_duration_s=2.0)
    vec.reset()
    state, params = vec.sim.state, vec.params
    lane = int(state.lane[1, 0])
    put_vehicle(state, 1, 6.0, lane, 0.0, params, b=1, desired_mps=0.0, cooldown_s=1e9)
    _, _, dones, infos = vec.step(np.array([COAST, 13]))
    assert dones[1] and not dones[0]
    assert infos[1]["collision"] and infos[1]["TimeLimit.truncated"] is False
    assert infos[1]["terminal_observation"].shape == (OBS_DIM,)


def test_sb3_vec_env_seeding() -> None:
    a = HighwayMissionVecEnv(3, seed=0)
    b = HighwayMissionVecEnv(3, seed=0)
    a.seed(11)
    b.seed(11)
    np.testing.assert_array_equal(a.reset(), b.reset())
    b.seed(12)
    assert not np.array_equal(a.reset(), b.reset())


def test_sb3_vec_env_set_mission() -> None:
    a = HighwayMissionVecEnv(3, seed=0)
    a.reset()
    a.env_method("set_mission", "lane", target_lane=0, indices=[1])
    assert a.sim.state.mission_kind[1] == layout.LANE_MISSION
    assert a.sim.state.mission_target_lane[1] == 0
    obs, *_ = a.step(np.full(3, COAST))
    assert obs[1, F["mission_lane"]] == 1.0


def test_sb3_algorithms_run_on_the_vec_env(tmp_path) -> None:
    """DQN on the discrete mode and PPO on the continuous mode train for a few steps."""
    from stable_baselines3 import DQN, PPO

    vec = HighwayMissionVecEnv(4, action_mode="discrete", seed=0)
    model = DQN("MlpPolicy", vec, learning_starts=32, buffer_size=1_000, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    model.save(tmp_path / "dqn")
    vec = HighwayMissionVecEnv(4, action_mode="continuous", seed=0)
    model = PPO("MlpPolicy", vec, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    action, _ = model.predict(vec.reset(), deterministic=True)
    assert action.shape == (4, 3)


def test_importing_the_package_alone_registers_the_env() -> None:
    import subprocess
    import sys

    code = (
        "import gymnasium as gym, car_ai_rl\n"
        "env = gym.make('car_ai_rl/HighwayMission-v0')\n"
        "obs, _ = env.reset(seed=1)\n"
        "print(obs.shape)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"({OBS_DIM},)"
