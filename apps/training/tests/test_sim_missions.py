"""Missions (set_mission, success and failure rules), episode ends and at-fault collisions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from simkit import (
    controls,
    give_mission,
    lone_ego,
    put_vehicle,
    quiet_params,
)

from car_ai_rl.errors import UserError
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.observation import OBS_FEATURES
from car_ai_rl.sim.params import SimParams

F = {name: k for k, name in enumerate(OBS_FEATURES)}


def _kind_one_hot(obs_row: np.ndarray) -> tuple[float, float, float]:
    return (
        float(obs_row[F["mission_cruise"]]),
        float(obs_row[F["mission_lane"]]),
        float(obs_row[F["mission_exit"]]),
    )


# ------------------------------------------------------------------ set_mission
def test_set_mission_changes_the_mission_immediately() -> None:
    params = SimParams()
    n = 3
    seeds = core.seeds_from_ints(42, n)
    state, _ = core.reset(params, seeds)
    reference, _ = core.reset(params, seeds)
    hold = np.tile([[0.3, 0.0, 0.0]], (n, 1))

    lane = int(state.lane[1, 0])
    target = (lane + 1) % params.n_lanes
    mission_id = state.env[layout.MISSION_ID, 1]
    core.set_mission(state, 1, params, "lane", target_lane=target, target_speed_mps=17.0)
    assert state.mission_kind[1] == layout.LANE_MISSION
    assert state.mission_target_lane[1] == target
    assert state.mission_status[1] == layout.PENDING
    assert state.target_speed_mps[1] == 17.0
    assert state.env[layout.MISSION_ID, 1] == mission_id + 1
    _, r = core.step(state, hold, params)
    _, r_ref = core.step(reference, hold, params)
    assert _kind_one_hot(r.obs[1]) == (0.0, 1.0, 0.0)
    assert r.obs[1, F["target_speed"]] == pytest.approx(17.0 / 40.0)
    assert r.obs[1, F["target_lane_delta"]] == pytest.approx((target - lane) / 4.0)
    assert r.event("mission_kind")[1] == layout.LANE_MISSION
    assert r.event("target_speed_mps")[1] == 17.0
    # the other envs are untouched
    for b in (0, 2):
        np.testing.assert_array_equal(r.obs[b], r_ref.obs[b])
        np.testing.assert_array_equal(state.veh[:, b], reference.veh[:, b])

    core.set_mission(state, 1, params, "cruise", target_speed_mps=24.0)
    _, r = core.step(state, hold, params)
    assert _kind_one_hot(r.obs[1]) == (1.0, 0.0, 0.0)
    assert r.obs[1, F["target_speed"]] == pytest.approx(24.0 / 40.0)
    assert r.obs[1, F["target_lane_delta"]] == 0.0

    x = state.x_m[1, 0]
    core.set_mission(state, 1, params, "exit", exit_distance_m=600.0)
    assert state.exit_x_m[1] == x + 600.0
    assert state.mission_target_lane[1] == params.n_lanes - 1
    _, r = core.step(state, hold, params)
    assert _kind_one_hot(r.obs[1]) == (0.0, 0.0, 1.0)
    travelled = state.x_m[1, 0] - x
    assert r.obs[1, F["exit_distance"]] == pytest.approx((600.0 - travelled) / 1000.0, abs=1e-6)
    # the target speed is kept when a new mission does not give one
    assert r.obs[1, F["target_speed"]] == pytest.approx(24.0 / 40.0)


def test_set_mission_restarts_a_resolved_mission() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=25.0)
    core.set_mission(state, 0, p, "lane", target_lane=1)
    for _ in range(10):
        core.step(state, controls(), p)
    assert state.mission_status[0] == layout.SUCCEEDED
    core.set_mission(state, 0, p, "lane", target_lane=0)
    assert state.mission_status[0] == layout.PENDING
    _, r = core.step(state, controls(), p)
    assert r.obs[0, F["mission_hold"]] == 0.0


def test_an_exit_mission_without_a_distance_uses_the_next_exit_ahead() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=0, speed_mps=25.0)
    state.exit_x_m[0] = 400.0
    core.set_mission(state, 0, p, "exit")
    assert state.exit_x_m[0] == 400.0  # still ahead: kept
    assert state.mission_kind[0] == layout.EXIT
    assert state.mission_target_lane[0] == p.n_lanes - 1
    state.exit_x_m[0] = -500.0  # already passed: the next one
    core.set_mission(state, 0, p, "exit")
    assert state.exit_x_m[0] > state.x_m[0, 0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "fly"}, "kind"),
        ({"kind": "cruise", "target_speed_mps": -1.0}, "target_speed_mps"),
        ({"kind": "cruise", "target_speed_mps": 0.0}, "target_speed_mps"),
        ({"kind": "cruise", "target_speed_mps": math.nan}, "target_speed_mps"),
        ({"kind": "cruise", "target_speed_mps": 99.0}, "target_speed_mps"),
        ({"kind": "lane"}, "target_lane"),
        ({"kind": "lane", "target_lane": 3}, "target_lane"),
        ({"kind": "lane", "target_lane": -1}, "target_lane"),
        ({"kind": "exit", "exit_distance_m": 10.0}, "exit_distance_m"),
        ({"kind": "exit", "exit_distance_m": math.inf}, "exit_distance_m"),
    ],
)
def test_bad_set_mission_arguments_name_the_field(kwargs: dict, field: str) -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(0, 1))
    before = state.copy()
    with pytest.raises(UserError, match=field) as exc:
        core.set_mission(state, 0, params, **kwargs)
    assert str(exc.value).startswith(field)
    # a refused mission leaves the state as it was
    np.testing.assert_array_equal(state.env, before.env)
    np.testing.assert_array_equal(state.veh, before.veh)


# ------------------------------------------------------------------ exit missions
def _exit_scene(distance_m: float = 100.0, speed: float = 25.0):
    p = quiet_params()
    state = lone_ego(p, lane=p.n_lanes - 1, speed_mps=speed)
    give_mission(state, p, "exit", exit_distance_m=distance_m, target_speed_mps=speed)
    return state, p


def test_taking_the_exit_ends_the_episode_with_success() -> None:
    state, p = _exit_scene()
    exit_x = state.exit_x_m[0]
    started_at = None
    ys = []
    for t in range(200):
        in_zone = exit_x <= state.x_m[0, 0] <= exit_x + p.exit_ramp_length_m
        x_before = state.x_m[0, 0]
        _, r = core.step(state, controls(lane=1.0), p)
        if r.done[0]:
            break
        ys.append(state.y_m[0, 0])
        if started_at is None:
            # a right request before the exit zone is a request toward a missing lane
            assert bool(r.event("lane_change_started")[0]) == in_zone, (t, x_before, exit_x)
            if in_zone:
                started_at = t
                assert r.obs[0, F["exit_available"]] == 0.0  # the ramp is being taken
        assert not r.event("mission_success")[0]
    else:
        pytest.fail("the ego never left on the ramp")
    assert started_at is not None
    # the ego moved steadily onto the ramp and left when it got there
    moving = np.array(ys[started_at:])
    assert np.all(np.diff(moving) > 0.0) and moving[-1] < p.n_lanes * p.lane_width_m
    assert r.terminated[0] and not r.truncated[0]
    assert r.event("exited")[0] == 1.0
    assert r.event("mission_success")[0] == 1.0
    assert r.event("mission_failure")[0] == 0.0
    assert r.event("collision")[0] == 0.0
    assert r.term("mission_success")[0] == p.reward.mission_success
    # the final observation is the exit; the slot restarted with a fresh episode
    assert _kind_one_hot(r.final_obs[0]) == (0.0, 0.0, 1.0)
    assert state.step_count[0] == 0 and state.env[layout.EXITED, 0] == 0.0


def test_exit_available_is_observed_only_in_the_exit_zone() -> None:
    state, p = _exit_scene(distance_m=60.0)
    exit_x = state.exit_x_m[0]
    for _ in range(20):
        _, r = core.step(state, controls(), p)
        x = state.x_m[0, 0]
        in_zone = exit_x <= x <= exit_x + p.exit_ramp_length_m
        assert r.obs[0, F["exit_available"]] == (1.0 if in_zone else 0.0)
        # while the ramp is available, the right-lane block reports an existing empty lane
        if in_zone:
            assert r.obs[0, F["right_lane_exists"]] == 1.0
            assert r.obs[0, F["right_front_gap"]] == 1.0


def test_passing_the_exit_fails_an_exit_mission() -> None:
    state, p = _exit_scene(distance_m=100.0)
    end_of_zone = state.exit_x_m[0] + p.exit_ramp_length_m
    failed_at_x = None
    for _ in range(100):
        x_before = state.x_m[0, 0]
        _, r = core.step(state, controls(), p)
        assert not r.terminated[0]
        if r.event("mission_failure")[0]:
            failed_at_x = (x_before, state.x_m[0, 0])
            break
        assert state.x_m[0, 0] <= end_of_zone
    assert failed_at_x is not None, "passing the exit did not fail the mission"
    assert failed_at_x[0] <= end_of_zone < failed_at_x[1]
    assert state.mission_status[0] == layout.FAILED
    assert r.term("mission_failure")[0] == -p.reward.mission_failure
    # resolved once: no second failure
    for _ in range(5):
        _, r = core.step(state, controls(), p)
        assert r.event("mission_failure")[0] == 0.0


def _take_the_ramp(state, p: SimParams, max_steps: int = 30):
    """Ask for the right lane every step until the episode ends; the last step's result."""
    for _ in range(max_steps):
        _, r = core.step(state, controls(lane=1.0), p)
        if r.done[0]:
            return r
    pytest.fail("the ego never left on the ramp")


def test_leaving_on_the_ramp_during_a_cruise_mission_fails_it() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=p.n_lanes - 1, speed_mps=25.0)
    give_mission(state, p, "cruise", target_speed_mps=35.0)  # still pending when it exits
    state.exit_x_m[0] = -10.0  # the ego is in the exit zone now
    r = _take_the_ramp(state, p)
    assert r.terminated[0] and r.event("exited")[0] == 1.0
    assert r.event("mission_failure")[0] == 1.0 and r.event("mission_success")[0] == 0.0


def test_an_exit_mission_still_pending_at_the_time_limit_fails() -> None:
    p = quiet_params(episode_duration_s=6.0)
    state = lone_ego(p, lane=0, speed_mps=20.0)
    give_mission(state, p, "exit", exit_distance_m=2000.0)
    for t in range(1, p.max_steps + 1):
        _, r = core.step(state, controls(), p)
        assert bool(r.truncated[0]) == (t == p.max_steps)
    assert r.event("mission_failure")[0] == 1.0


# ------------------------------------------------------------------ lane and cruise missions
@pytest.mark.parametrize(("start", "target"), [(0, 2), (2, 0), (1, 2), (3, 0)])
def test_a_lane_mission_succeeds_after_reaching_and_holding_the_lane(
    start: int, target: int
) -> None:
    p = quiet_params(n_lanes=4)
    state = lone_ego(p, lane=start, speed_mps=25.0)
    give_mission(state, p, "lane", target_lane=target)
    direction = 1.0 if target > start else -1.0
    hold_steps = round(p.lane_hold_s * p.decision_hz)
    progress_terms = []
    succeeded_at = reached_at = None
    for t in range(1, 400):
        changing = state.target_lane[0, 0] != state.lane[0, 0]
        request = direction if (not changing and state.lane[0, 0] != target) else 0.0
        _, r = core.step(state, controls(throttle=0.1, lane=request), p)
        assert not r.done[0]
        progress_terms.append(r.term("progress")[0])
        if reached_at is None and state.lane[0, 0] == target:
            reached_at = t
        if r.event("mission_success")[0]:
            succeeded_at = t
            break
    assert reached_at is not None
    # the hold counts from the step the ego arrives in the target lane
    assert succeeded_at == reached_at + hold_steps - 1, (succeeded_at, reached_at)
    assert state.lane[0, 0] == target
    assert state.mission_status[0] == layout.SUCCEEDED
    assert r.term("mission_success")[0] == p.reward.mission_success
    # the shaping term pays for moving toward the target lane
    assert sum(progress_terms) == pytest.approx(p.reward.progress * abs(target - start))
    # resolved once
    _, r = core.step(state, controls(), p)
    assert r.event("mission_success")[0] == 0.0


def test_leaving_the_target_lane_before_the_hold_resets_the_hold() -> None:
    p = quiet_params(lane_hold_s=1.0)
    state = lone_ego(p, lane=1, speed_mps=25.0)
    give_mission(state, p, "lane", target_lane=1)
    core.step(state, controls(), p)
    assert state.env[layout.MISSION_HOLD_S, 0] == pytest.approx(p.dt_s)
    _, r = core.step(state, controls(lane=1.0), p)  # a change away starts: not holding
    assert state.env[layout.MISSION_HOLD_S, 0] == 0.0
    assert r.event("mission_success")[0] == 0.0


def test_a_lane_mission_fails_at_its_deadline() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=0, speed_mps=25.0)
    give_mission(state, p, "lane", target_lane=2)
    deadline_steps = round(p.mission_deadline_s * p.decision_hz)
    for t in range(1, deadline_steps + 1):
        _, r = core.step(state, controls(), p)
        assert bool(r.event("mission_failure")[0]) == (t == deadline_steps), t
    assert state.mission_status[0] == layout.FAILED
    assert not r.done[0], "a failed lane mission does not end the episode"


def test_a_cruise_mission_succeeds_after_holding_the_target_speed() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=25.0)
    give_mission(state, p, "cruise", target_speed_mps=25.0 + 0.5 * p.cruise_tolerance_mps)
    hold_steps = round(p.cruise_hold_s * p.decision_hz)
    for t in range(1, hold_steps + 1):
        _, r = core.step(state, controls(), p)
        assert bool(r.event("mission_success")[0]) == (t == hold_steps), t


def test_a_cruise_mission_outside_the_tolerance_does_not_succeed() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    give_mission(state, p, "cruise", target_speed_mps=20.0 + 2.0 * p.cruise_tolerance_mps)
    deadline_steps = round(p.mission_deadline_s * p.decision_hz)
    for _ in range(deadline_steps):
        _, r = core.step(state, controls(), p)
        assert r.event("mission_success")[0] == 0.0
    assert r.event("mission_failure")[0] == 1.0


def test_random_mission_changes_happen_in_training_episodes() -> None:
    params = SimParams(mission_change_min_s=5.0, mission_change_max_s=8.0)
    n = 16
    state, _ = core.reset(params, core.seeds_from_ints(1, n))
    changed = np.zeros(n, bool)
    for _ in range(60):
        _, r = core.step(state, np.tile([[0.3, 0.0, 0.0]], (n, 1)), params)
        changed |= r.event("mission_changed") > 0.5
    assert changed.all()
    # and never when they are switched off
    params = params.replace(mission_changes=False)
    state, _ = core.reset(params, core.seeds_from_ints(1, n))
    for _ in range(60):
        _, r = core.step(state, np.tile([[0.3, 0.0, 0.0]], (n, 1)), params)
        assert not np.any(r.event("mission_changed") > 0.5)


# ------------------------------------------------------------------ collisions and fault
def _crash(state, p, request_first: float = 0.0, throttle: float = 0.0, max_steps: int = 30):
    for t in range(max_steps):
        _, r = core.step(
            state, controls(throttle=throttle, lane=request_first if t == 0 else 0.0), p
        )
        if r.event("collision")[0]:
            return r
        assert not r.done[0]
    pytest.fail("no collision happened")


def _assert_collision_ends_episode(r, p) -> None:
    assert r.terminated[0] and not r.truncated[0]
    assert r.term("collision")[0] == -p.reward.collision


def test_being_rear_ended_while_holding_the_lane_is_not_at_fault() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=10.0)
    put_vehicle(state, 1, -7.0, 1, 30.0, p, desired_mps=30.0, cooldown_s=100.0)
    r = _crash(state, p)
    assert r.event("at_fault")[0] == 0.0
    _assert_collision_ends_episode(r, p)


def test_being_cut_into_while_holding_the_lane_is_not_at_fault() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    put_vehicle(state, 1, 1.0, 0, 20.0, p, target_lane=1, lc_progress=0.4)
    r = _crash(state, p)
    assert r.event("at_fault")[0] == 0.0
    _assert_collision_ends_episode(r, p)


def test_changing_lanes_into_a_car_is_at_fault() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    put_vehicle(state, 1, 0.5, 2, 20.0, p, desired_mps=20.0, cooldown_s=100.0)
    r = _crash(state, p, request_first=1.0)
    assert r.event("at_fault")[0] == 1.0
    _assert_collision_ends_episode(r, p)


def test_rear_ending_a_slower_car_is_at_fault() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=30.0)
    put_vehicle(state, 1, 20.0, 1, 5.0, p, desired_mps=5.0, cooldown_s=100.0)
    r = _crash(state, p, throttle=1.0)
    assert r.event("at_fault")[0] == 1.0
    _assert_collision_ends_episode(r, p)


@pytest.mark.parametrize("slot", [1, 17, 39])
def test_collisions_are_detected_against_every_vehicle(slot: int) -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=30.0, n_vehicles=40)
    put_vehicle(state, slot, 15.0, 1, 2.0, p, desired_mps=2.0, cooldown_s=100.0)
    r = _crash(state, p, throttle=1.0)
    assert r.event("collision")[0] == 1.0


def test_vehicles_in_neighbouring_lanes_do_not_collide() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    put_vehicle(state, 1, 0.0, 0, 20.0, p, cooldown_s=100.0)
    put_vehicle(state, 2, 0.0, 2, 20.0, p, cooldown_s=100.0)
    for _ in range(20):
        _, r = core.step(state, controls(), p)
        assert r.event("collision")[0] == 0.0


# ------------------------------------------------------------------ leaving on the ramp unasked
def test_leaving_on_the_ramp_after_the_mission_succeeded_fails_it() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=p.n_lanes - 1, speed_mps=25.0)
    give_mission(state, p, "cruise", target_speed_mps=25.0)
    for _ in range(round(p.cruise_hold_s * p.decision_hz)):
        _, r = core.step(state, controls(), p)
    assert state.mission_status[0] == layout.SUCCEEDED
    state.exit_x_m[0] = state.x_m[0, 0] - 10.0  # the ego is in the exit zone now
    r = _take_the_ramp(state, p)
    assert r.terminated[0] and r.event("exited")[0] == 1.0
    assert r.event("mission_failure")[0] == 1.0 and r.event("mission_success")[0] == 0.0
    assert r.term("mission_failure")[0] == -p.reward.mission_failure


def test_leaving_on_the_ramp_after_a_failed_mission_does_not_fail_it_twice() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=p.n_lanes - 1, speed_mps=20.0)
    give_mission(state, p, "cruise", target_speed_mps=35.0)
    for _ in range(round(p.mission_deadline_s * p.decision_hz)):
        _, r = core.step(state, controls(), p)
    assert state.mission_status[0] == layout.FAILED
    state.exit_x_m[0] = state.x_m[0, 0] - 10.0
    r = _take_the_ramp(state, p)
    assert r.event("exited")[0] == 1.0
    assert r.event("mission_failure")[0] == 0.0 and r.term("mission_failure")[0] == 0.0


def test_leaving_on_the_ramp_for_an_exit_mission_is_not_charged() -> None:
    state, p = _exit_scene()
    r = _take_the_ramp(state, p, max_steps=200)
    assert r.event("exited")[0] == 1.0 and r.term("mission_failure")[0] == 0.0
