"""The typed views: the ego frame and the drawn vehicles read the state they name, lane
neighbours agree with the traffic kernels' leader and follower search, step events are the
kernel's flags as booleans, and every adapter reports the same info keys."""

from __future__ import annotations

import numpy as np
import pytest

from car_ai_rl.envs.highway_env import HighwayMissionEnv
from car_ai_rl.envs.sb3_vec_env import HighwayMissionVecEnv
from car_ai_rl.envs.vector import HighwayMissionVectorEnv
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.sim import core, layout, neighbours, views
from car_ai_rl.sim.params import SimParams


@pytest.fixture(scope="module")
def rolled() -> tuple[core.SimState, SimParams]:
    """A batch of 16 envs after 40 heuristic steps, dense enough for lane changes."""
    params = SimParams(traffic_density=30.0)
    state, _ = core.reset(params, core.seeds_from_ints(7, 16))
    for _ in range(40):
        core.step(state, heuristic_controls(state, params), params)
    return state, params


def test_ego_frame_reads_the_ego(rolled) -> None:
    state, params = rolled
    envs = [3, 0, 11]
    ego = views.ego_frame(state, params, envs)
    np.testing.assert_array_equal(ego.x_m, state.x_m[envs, 0])
    np.testing.assert_array_equal(ego.speed_mps, state.speed_mps[envs, 0])
    np.testing.assert_array_equal(ego.lane, state.lane[envs, 0].astype(int))
    np.testing.assert_array_equal(ego.mission_kind, state.mission_kind[envs])
    np.testing.assert_array_equal(ego.exit_distance_m, state.exit_x_m[envs] - state.x_m[envs, 0])
    assert ego.lane.dtype == np.int64 and ego.changing_lane.dtype == bool
    progress = np.abs(state.y_m[envs, 0] - state.lane[envs, 0] * params.lane_width_m)
    expected = np.where(ego.changing_lane, progress / params.lane_width_m, 0.0)
    np.testing.assert_allclose(ego.lane_change_progress, expected)


def test_drawn_vehicles_are_the_active_others(rolled) -> None:
    state, _ = rolled
    envs = np.array([5, 2, 9])
    drawn = views.drawn_vehicles(state, envs)
    assert drawn.rows.dtype == np.float32 and drawn.rows.shape[1] == len(views.VEHICLE_FIELDS)
    for i, b in enumerate(envs):
        rows = drawn.of(i)
        ids = rows[:, 0].astype(int)
        expected = [j for j in range(1, state.n_vehicles) if state.active[b, j]]
        assert ids.tolist() == expected
        np.testing.assert_allclose(rows[:, 1], state.x_m[b, ids] - state.x_m[b, 0], atol=1e-3)
        np.testing.assert_allclose(rows[:, 5], state.speed_mps[b, ids], rtol=1e-6)
        np.testing.assert_array_equal(rows[:, 6], state.veh[layout.HEAVY, b, ids])
        assert np.all(rows[rows[:, 6] == 1, 3] == state.veh[layout.LENGTH_M, b, ids].max())
    assert drawn.offsets[-1] == len(drawn.rows)


def test_lane_neighbours_agree_with_the_traffic_kernels(rolled) -> None:
    state, params = rolled
    envs = np.repeat(np.arange(state.n_envs), params.n_lanes)
    lanes = np.tile(np.arange(params.n_lanes), state.n_envs)
    near = views.lane_neighbours(state, envs, lanes)
    checked = 0
    for i, (b, lane) in enumerate(zip(envs.tolist(), lanes.tolist(), strict=True)):
        x = float(state.x_m[b, 0])
        ring = float(state.env[layout.RING_LENGTH_M, b])
        lead = neighbours.leader_in_lane(state.veh, b, float(lane), x, 0, ring)
        follow = neighbours.follower_in_lane(state.veh, b, float(lane), x, 0, ring)
        assert near.leader[i] == lead and near.follower[i] == follow
        if lead != neighbours.NO_VEHICLE:
            gap = neighbours.bumper_gap_m(state.veh, b, 0, lead, ring)
            assert near.leader_gap_m[i] == pytest.approx(gap)
            closing = state.speed_mps[b, 0] - state.speed_mps[b, lead]
            assert near.leader_closing_mps[i] == pytest.approx(closing)
            checked += 1
        else:
            assert np.isinf(near.leader_gap_m[i])
        if follow != neighbours.NO_VEHICLE:
            gap = neighbours.bumper_gap_m(state.veh, b, follow, 0, ring)
            assert near.follower_gap_m[i] == pytest.approx(gap)
            checked += 1
    assert checked > 40


def test_step_events_are_the_kernel_flags() -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(1, 8))
    controls = np.tile([1.0, 0.0, 1.0], (8, 1))
    seen = np.zeros(len(views.EVENT_FLAGS), dtype=bool)
    for _ in range(60):
        _, result = core.step(state, controls, params)
        events = views.step_events(result)
        assert events.flags.dtype == bool
        for k, name in enumerate(views.EVENT_FLAGS):
            np.testing.assert_array_equal(events.flags[:, k], result.event(name) > 0.5)
        np.testing.assert_array_equal(events.done, result.done)
        seen |= events.flags.any(axis=0)
    assert seen[views.EVENT_FLAGS.index("lane_change_started")]


def test_every_adapter_reports_the_same_info_keys() -> None:
    single = HighwayMissionEnv(safety_supervisor=True)
    single.reset(seed=0)
    info_single = single.step(14)[4]
    vector = HighwayMissionVectorEnv(2, safety_supervisor=True)
    vector.reset(seed=0)
    info_vector = vector.step(np.full(2, 14))[4]
    sb3 = HighwayMissionVecEnv(2, safety_supervisor=True)
    sb3.reset()
    sb3.step_async(np.full(2, 14))
    info_sb3 = sb3.step_wait()[3][0]
    keys = set(info_single)
    assert keys == set(info_vector) == set(info_sb3)
    assert {"collision", "exited", "supervisor_reasons", "mission_kind"} <= keys
    assert isinstance(info_single["collision"], bool)
    assert isinstance(info_single["supervisor_reasons"], tuple)
    assert info_vector["collision"].dtype == bool
    assert isinstance(info_vector["supervisor_reasons"][0], tuple)
    for b in range(2):
        assert info_vector["supervisor_intervened"][b] == bool(info_vector["supervisor_reasons"][b])


def test_views_read_the_layout_through_its_names() -> None:
    assert set(views.EVENT_FLAGS) <= set(layout.EVENT_NAMES)
    assert views.VEHICLE_FIELDS[0] == "id" and "dx_m" in views.VEHICLE_FIELDS
