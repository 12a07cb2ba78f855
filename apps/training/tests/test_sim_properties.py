"""Property tests of the batched simulator: batch independence, determinism, bounds, resets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import overlapping_pairs, random_controls, rollout

from car_ai_rl.envs.batch import observation_space
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.params import SimParams

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sim_params(draw: st.DrawFn) -> SimParams:
    """Random but valid scenario parameters, with short episodes now and then so that the
    time limit and the auto-reset happen inside the rollouts."""
    return SimParams(
        n_lanes=draw(st.integers(2, 5)),
        traffic_density=draw(st.floats(0.0, 60.0)),
        heavy_vehicle_share=draw(st.sampled_from([0.0, 0.1, 0.5])),
        traffic_exit_share=draw(st.sampled_from([0.0, 0.15, 1.0])),
        exit_distance_min_m=draw(st.sampled_from([50.0, 350.0])),
        substeps=draw(st.integers(1, 3)),
        episode_duration_s=draw(st.sampled_from([2.0, 4.0, 40.0])),
        lateral_accel_max_mps2=draw(st.sampled_from([1.0, 1.5, 3.0])),
        mission_change_min_s=draw(st.sampled_from([1.0, 10.0])),
        mission_change_max_s=25.0,
        mission_deadline_s=draw(st.sampled_from([1.0, 20.0])),
    )


seeds_st = st.integers(0, 2**62)


def _assert_same(a, b, slots_a=None, slots_b=None) -> None:
    """Two rollouts produced bit-identical outputs (optionally for the given env slots)."""
    sa = slice(None) if slots_a is None else slots_a
    sb = slice(None) if slots_b is None else slots_b
    np.testing.assert_array_equal(a.obs0[sa], b.obs0[sb])
    for name in ("obs", "reward", "terms", "events", "controls"):
        np.testing.assert_array_equal(a.stacked(name)[:, sa], b.stacked(name)[:, sb], err_msg=name)
    done_a = a.done()[:, sa]
    np.testing.assert_array_equal(done_a, b.done()[:, sb])
    fa, fb = a.stacked("final_obs")[:, sa], b.stacked("final_obs")[:, sb]
    np.testing.assert_array_equal(fa[done_a], fb[done_a], err_msg="final_obs")
    np.testing.assert_array_equal(a.stacked("veh")[:, :, sa], b.stacked("veh")[:, :, sb])
    np.testing.assert_array_equal(a.stacked("env")[:, :, sa], b.stacked("env")[:, :, sb])
    np.testing.assert_array_equal(a.stacked("seeds")[:, sa], b.stacked("seeds")[:, sb])


# ------------------------------------------------------------------ batch independence
@SETTINGS
@given(params=sim_params(), seed=seeds_st, n_envs=st.integers(2, 6), ctl_seed=seeds_st)
def test_batch_equals_each_env_alone(
    params: SimParams, seed: int, n_envs: int, ctl_seed: int
) -> None:
    n_steps = 30
    seeds = core.seeds_from_ints(seed % 2**40, n_envs)
    ctl = random_controls(np.random.default_rng(ctl_seed), n_steps, n_envs)
    mask = np.arange(n_envs) % 2 == 0
    together = rollout(params, seeds, n_steps, ctl, policy="mixed", heuristic_mask=mask)
    for b in range(n_envs):
        alone = rollout(
            params,
            seeds[b : b + 1],
            n_steps,
            ctl[:, b : b + 1],
            policy="mixed",
            heuristic_mask=mask[b : b + 1],
        )
        _assert_same(together, alone, slots_a=slice(b, b + 1))


@pytest.mark.parametrize("seed", [0, 99])
def test_large_batch_equals_each_env_alone(seed: int) -> None:
    """Large batches may take a different (threaded) path through the kernels: it must give
    the same results as stepping each env on its own."""
    params = SimParams(episode_duration_s=4.0)
    n_envs, n_steps = 96, 30
    assert n_envs >= getattr(core, "PARALLEL_MIN_ENVS", 0)
    seeds = core.seeds_from_ints(seed, n_envs)
    ctl = random_controls(np.random.default_rng(seed), n_steps, n_envs)
    mask = np.arange(n_envs) % 3 == 0
    together = rollout(
        params, seeds, n_steps, ctl, policy="mixed", use_supervisor=True, heuristic_mask=mask
    )
    assert together.done().any()
    for b in range(n_envs):
        alone = rollout(
            params,
            seeds[b : b + 1],
            n_steps,
            ctl[:, b : b + 1],
            policy="mixed",
            use_supervisor=True,
            heuristic_mask=mask[b : b + 1],
        )
        _assert_same(together, alone, slots_a=slice(b, b + 1))


@SETTINGS
@given(params=sim_params(), seed=seeds_st, n_envs=st.integers(1, 5))
def test_heuristic_and_supervisor_are_batch_independent(
    params: SimParams, seed: int, n_envs: int
) -> None:
    """The heuristic driver and the supervisor read each env's state only: the controls they
    give env b do not depend on the other envs in the batch."""
    n_steps = 30
    seeds = core.seeds_from_ints(seed % 2**40, n_envs)
    together = rollout(params, seeds, n_steps, policy="heuristic", use_supervisor=True)
    for b in range(n_envs):
        alone = rollout(params, seeds[b : b + 1], n_steps, policy="heuristic", use_supervisor=True)
        _assert_same(together, alone, slots_a=slice(b, b + 1))


@SETTINGS
@given(params=sim_params(), seed=seeds_st, n_envs=st.integers(2, 6), data=st.data())
def test_an_episode_seed_gives_the_same_trajectory_in_any_slot(
    params: SimParams, seed: int, n_envs: int, data: st.DataObject
) -> None:
    perm = np.array(data.draw(st.permutations(list(range(n_envs)))))
    n_steps = 25
    seeds = core.seeds_from_ints(seed % 2**40, n_envs)
    ctl = random_controls(np.random.default_rng(seed), n_steps, n_envs)
    mask = np.arange(n_envs) % 2 == 1
    a = rollout(params, seeds, n_steps, ctl, policy="mixed", heuristic_mask=mask)
    b = rollout(
        params, seeds[perm], n_steps, ctl[:, perm], policy="mixed", heuristic_mask=mask[perm]
    )
    _assert_same(a, b, slots_a=perm, slots_b=slice(None))


# ------------------------------------------------------------------ determinism
@SETTINGS
@given(params=sim_params(), seed=seeds_st, n_envs=st.integers(1, 4))
def test_seeded_runs_repeat_exactly(params: SimParams, seed: int, n_envs: int) -> None:
    n_steps = 30
    seeds = core.seeds_from_ints(seed % 2**40, n_envs)
    ctl = random_controls(np.random.default_rng(seed), n_steps, n_envs)
    first = rollout(params, seeds, n_steps, ctl, policy="mixed", use_supervisor=True)
    second = rollout(params, seeds, n_steps, ctl, policy="mixed", use_supervisor=True)
    _assert_same(first, second)


def test_different_seeds_give_different_episodes() -> None:
    params = SimParams()
    state, obs = core.reset(params, core.seeds_from_ints(0, 16))
    assert len({o.tobytes() for o in obs}) == 16
    assert len(set(np.round(state.exit_x_m, 6))) == 16
    x = state.x_m[:, 1:]
    assert len({row.tobytes() for row in x}) == 16


def test_seeds_from_ints_is_a_pure_function() -> None:
    a = core.seeds_from_ints([5, 6, 7])
    np.testing.assert_array_equal(a, core.seeds_from_ints(5, 3))
    assert a.dtype == np.uint64 and len(set(a.tolist())) == 3


def test_reset_envs_restarts_only_the_masked_envs() -> None:
    params = SimParams()
    seeds = core.seeds_from_ints(10, 4)
    state, _ = core.reset(params, seeds)
    for _ in range(5):
        core.step(state, np.tile([[0.5, 0.0, 0.0]], (4, 1)), params)
    before = state.copy()
    new_seeds = core.seeds_from_ints([77])
    obs = core.reset_envs(state, np.array([False, True, False, False]), new_seeds, params)
    fresh, fresh_obs = core.reset(params, new_seeds)
    np.testing.assert_array_equal(state.veh[:, 1], fresh.veh[:, 0])
    np.testing.assert_array_equal(obs[1], fresh_obs[0])
    for b in (0, 2, 3):
        np.testing.assert_array_equal(state.veh[:, b], before.veh[:, b])
        np.testing.assert_array_equal(state.env[:, b], before.env[:, b])


# ------------------------------------------------------------------ bounds
def _check_state_bounds(params: SimParams, veh: np.ndarray, env: np.ndarray) -> None:
    assert np.all(np.isfinite(veh)), "non-finite vehicle state"
    assert np.all(np.isfinite(env)), "non-finite env state"
    active = veh[layout.ACTIVE] > 0.5
    speed = veh[layout.SPEED_MPS][active]
    assert speed.min() >= 0.0, f"negative speed {speed.min()}"
    assert speed.max() <= params.speed_max_mps, f"speed {speed.max()} above the cap"
    lane = veh[layout.LANE][active]
    target = veh[layout.TARGET_LANE][active]
    assert np.all(lane == np.round(lane)) and np.all(target == np.round(target))
    assert np.all(np.abs(target - lane) <= 1), "a lane change skips a lane"
    # nobody leaves the road; the ramp is lane n_lanes
    assert np.all(lane >= 0) and np.all(target <= params.n_lanes)
    y = veh[layout.Y_M][active]
    assert np.all(y >= -1e-9) and np.all(y <= params.n_lanes * params.lane_width_m + 1e-9)
    # sideways motion only within a lane change, and within its limits
    vy = veh[layout.LAT_SPEED_MPS][active]
    assert np.all(np.abs(vy) <= params.lateral_speed_max_mps + 1e-9)
    assert np.all(vy[lane == target] == 0.0)
    between = np.minimum(lane, target) * params.lane_width_m - 1e-9
    assert np.all(y >= between) and np.all(
        y <= np.maximum(lane, target) * params.lane_width_m + 1e-9
    )
    assert np.all(veh[layout.LC_COOLDOWN_S][active] >= 0.0)
    # heavy vehicles keep out of the leftmost lane of three or more
    heavy = (veh[layout.HEAVY] > 0.5) & active
    assert set(np.unique(veh[layout.HEAVY])) <= {0.0, 1.0}
    if params.n_lanes >= 3:
        assert not np.any(heavy & ((veh[layout.LANE] == 0) | (veh[layout.TARGET_LANE] == 0)))
    # every vehicle of the episode keeps its representative on the segment around the ego
    ring = env[layout.RING_LENGTH_M][:, None]
    rel = veh[layout.X_M] - veh[layout.X_M][:, :1]
    on_road = active & (veh[layout.LANE] < params.n_lanes)
    assert np.all(rel[on_road] >= -params.traffic_window_behind_m - 1e-6)
    assert np.all((rel - ring + params.traffic_window_behind_m)[on_road] < 1e-6)


@SETTINGS
@given(params=sim_params(), seed=seeds_st, n_envs=st.integers(1, 8))
def test_every_value_is_finite_and_within_bounds(params: SimParams, seed: int, n_envs: int) -> None:
    n_steps = 40
    seeds = core.seeds_from_ints(seed % 2**40, n_envs)
    ctl = random_controls(np.random.default_rng(seed), n_steps, n_envs)
    # extreme commands too: flat-out and full braking
    ctl[5:10, :, :2] = [1.0, 0.0]
    ctl[20:25, :, :2] = [0.0, 1.0]
    space = observation_space()
    for use_supervisor in (False, True):
        out = rollout(params, seeds, n_steps, ctl, policy="mixed", use_supervisor=use_supervisor)
        assert out.obs0.dtype == np.float32 and out.obs0.shape == (n_envs, OBS_DIM)
        for row in out.obs0:
            assert space.contains(row), row
        done = out.done()
        for t in range(n_steps):
            _check_state_bounds(params, out.veh[t], out.env[t])
            assert np.all(np.isfinite(out.reward[t])) and np.all(np.isfinite(out.terms[t]))
            np.testing.assert_allclose(out.terms[t].sum(axis=1), out.reward[t], atol=1e-12)
            assert np.all(np.isfinite(out.events[t]))
            for b in range(n_envs):
                assert space.contains(out.obs[t][b]), out.obs[t][b]
                if done[t, b]:
                    assert space.contains(out.final_obs[t][b]), out.final_obs[t][b]
            ev = out.events[t]
            speed = ev[:, layout.EV_SPEED_MPS]
            assert np.all((speed >= 0.0) & (speed <= params.speed_max_mps))
            # flags are 0/1 and consistent
            for k in (
                layout.EV_COLLISION,
                layout.EV_AT_FAULT,
                layout.EV_TERMINATED,
                layout.EV_TRUNCATED,
            ):
                assert set(np.unique(ev[:, k])) <= {0.0, 1.0}
            assert not np.any((ev[:, layout.EV_AT_FAULT] > 0) & (ev[:, layout.EV_COLLISION] == 0))
            assert not np.any((ev[:, layout.EV_TERMINATED] > 0) & (ev[:, layout.EV_TRUNCATED] > 0))
            assert np.all(ev[ev[:, layout.EV_COLLISION] > 0, layout.EV_TERMINATED] == 1.0)


def test_the_time_limit_truncates_at_exactly_max_steps() -> None:
    params = SimParams(episode_duration_s=3.0, traffic_density=0.0)
    state, _ = core.reset(params, core.seeds_from_ints(3, 2))
    for t in range(1, params.max_steps + 1):
        _, r = core.step(state, np.zeros((2, 3)), params)
        assert bool(r.truncated.all()) == (t == params.max_steps)
        assert not r.terminated.any()
    # after the auto-reset the step counter starts again
    assert np.all(state.step_count == 0)


# ------------------------------------------------------------------ reset
@SETTINGS
@given(
    n_lanes=st.integers(2, 5),
    # up to the room limit of the fullest case: 3 lanes with half the traffic heavy (78.7)
    density=st.floats(0.0, 78.0),
    heavy_share=st.sampled_from([0.0, 0.1, 0.5]),
    seed=seeds_st,
)
def test_no_overlap_at_reset(n_lanes: int, density: float, heavy_share: float, seed: int) -> None:
    params = SimParams(n_lanes=n_lanes, traffic_density=density, heavy_vehicle_share=heavy_share)
    n_envs = 8
    state, obs = core.reset(params, core.seeds_from_ints(seed % 2**40, n_envs))
    _check_state_bounds(params, state.veh, state.env)
    for b in range(n_envs):
        assert overlapping_pairs(state, b) == [], f"overlap at reset in env {b}"
        assert state.active[b, 0], "the ego is always active"
    # the ego starts in a lane, at rest laterally, with a pending mission
    assert np.all(state.target_lane[:, 0] == state.lane[:, 0])
    assert np.all(state.mission_status == layout.PENDING)
    # nobody collides during the first step of a calm drive
    _, r = core.step(state, np.tile([[0.2, 0.0, 0.0]], (n_envs, 1)), params)
    assert not np.any(r.event("collision") > 0.5)


@pytest.mark.parametrize(
    "changes",
    [
        {"n_lanes": 2, "traffic_density": 100.0},
        {"n_lanes": 5, "traffic_density": 80.0, "heavy_vehicle_share": 0.5},
        {"n_lanes": 3, "traffic_density": 40.0, "vehicle_length_m": 12.0},
    ],
)
def test_no_overlap_at_reset_in_dense_valid_configs(changes: dict) -> None:
    params = SimParams(**changes)
    state, _ = core.reset(params, core.seeds_from_ints(0, 8))
    bad = {b: overlapping_pairs(state, b) for b in range(8)}
    assert all(not pairs for pairs in bad.values()), bad


def _unavoidable_starts(params: SimParams, n_envs: int, seed: int) -> list[tuple]:
    """Envs whose ego starts closing on its leader faster than full braking can absorb, even
    if the leader just keeps its speed: (env, gap m, ego speed, leader speed)."""
    state, _ = core.reset(params, core.seeds_from_ints(seed, n_envs))
    bad = []
    for b in range(n_envs):
        ahead = [
            j
            for j in range(1, state.n_vehicles)
            if state.active[b, j]
            and state.lane[b, j] == state.lane[b, 0]
            and state.x_m[b, j] > state.x_m[b, 0]
        ]
        if not ahead:
            continue
        lead = min(ahead, key=lambda j: state.x_m[b, j])
        gap = (
            state.x_m[b, lead]
            - state.x_m[b, 0]
            - 0.5 * (state.length_m[b, lead] + state.length_m[b, 0])
        )
        closing = state.speed_mps[b, 0] - state.speed_mps[b, lead]
        if closing > 0 and gap < closing**2 / (2.0 * params.ego_brake_max_mps2) + 1.0:
            bad.append((b, round(gap, 1), state.speed_mps[b, 0], state.speed_mps[b, lead]))
    return bad


@SETTINGS
@given(
    n_lanes=st.integers(2, 5),
    density=st.floats(0.0, 100.0),
    seed=seeds_st,
)
def test_the_ego_never_starts_in_an_unavoidable_collision(
    n_lanes: int, density: float, seed: int
) -> None:
    params = SimParams(n_lanes=n_lanes, traffic_density=density)
    assert _unavoidable_starts(params, 32, seed % 2**40) == []


def test_the_ego_never_starts_in_an_unavoidable_collision_with_a_wide_speed_range() -> None:
    params = SimParams(traffic_speed_min_mps=10.0, traffic_speed_max_mps=40.0, traffic_density=30.0)
    assert _unavoidable_starts(params, 500, 5) == []


# ------------------------------------------------------------------ neighbour search
@SETTINGS
@given(params=sim_params(), seed=seeds_st, ctl_seed=seeds_st, n_steps=st.integers(0, 60))
def test_neighbors_match_the_sorted_tables_and_lane_scans(
    params: SimParams, seed: int, ctl_seed: int, n_steps: int
) -> None:
    """``neighbours.neighbors`` (the observation, the supervisor), the walks along the sorted
    order (car-following, MOBIL) and the single-lane scans all agree, around the periodic
    segment."""
    from simkit import sorted_order

    from car_ai_rl.sim import neighbours

    n_envs = 3
    state, _ = core.reset(params, core.seeds_from_ints(seed, n_envs))
    controls = random_controls(np.random.default_rng(ctl_seed % 2**32), n_steps, n_envs)
    for t in range(n_steps):
        core.step(state, controls[t], params)
    near = np.empty(6, dtype=np.int64)
    veh = state.veh
    for b in range(n_envs):
        ring = float(state.env[layout.RING_LENGTH_M, b])
        order, rank = sorted_order(state, b)
        for i in range(state.n_vehicles):
            if veh[layout.ACTIVE, b, i] < 0.5:
                continue
            lane = int(veh[layout.LANE, b, i])
            neighbours.neighbors(veh, b, i, lane, near, ring)
            x = veh[layout.X_M, b, i]
            for k in range(3):
                other = lane - 1 + k
                if 0 <= other <= params.n_lanes:
                    walk = neighbours.nearest_in_lane
                    assert near[k] == walk(veh, b, order, rank, i, other, True)
                    assert near[3 + k] == walk(veh, b, order, rank, i, other, False)
                    assert near[k] == neighbours.leader_in_lane(veh, b, other, x, i, ring)
                    assert near[3 + k] == neighbours.follower_in_lane(veh, b, other, x, i, ring)


# ------------------------------------------------------------------ density
@pytest.mark.parametrize("n_lanes", [2, 3, 5])
@pytest.mark.parametrize("density", [5.0, 16.0, 45.0])
def test_every_vehicle_of_the_episode_stays_in_play(n_lanes: int, density: float) -> None:
    """The vehicle count is conserved: each vehicle is on the road, on the ramp, or (briefly,
    after leaving on the ramp) waiting to re-enter; waiting ones are few."""
    params = SimParams(n_lanes=n_lanes, traffic_density=density, traffic_exit_share=0.5)
    n_envs = 16
    state, _ = core.reset(params, core.seeds_from_ints(4, n_envs))
    n = params.vehicle_count
    waiting = []
    for _ in range(300):
        core.step(state, np.tile([[0.4, 0.0, 0.0]], (n_envs, 1)), params)
        assert np.all(state.env[layout.VEHICLE_COUNT] == n)
        waiting.append((~state.active[:, :n]).sum(axis=1).mean())
    assert max(waiting) <= 0.1 * n + 1
