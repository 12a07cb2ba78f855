"""Analytic checks of the simulator physics against hand computations.

IDM car-following, MOBIL lane choice, lane-change timing and lateral motion, braking distance,
speed limits and the lane-request rules of the ego.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from simkit import (
    controls,
    lone_ego,
    mobil_choice,
    put_vehicle,
    quiet_params,
    traffic_accel,
)

from car_ai_rl.sim import core, dynamics, layout, traffic
from car_ai_rl.sim.params import SimParams


# ------------------------------------------------------------------------------ IDM
def test_idm_free_road_limits() -> None:
    kp = traffic.traffic_model(SimParams().kernel_params)
    a = kp.accel_max_mps2
    # standing start on a free road: the full IDM acceleration
    assert traffic.idm_accel(0.0, 30.0, math.inf, 0.0, 1.5, kp) == pytest.approx(a)
    # at the desired speed on a free road: no acceleration
    assert traffic.idm_accel(30.0, 30.0, math.inf, 0.0, 1.5, kp) == pytest.approx(0.0, abs=1e-12)
    # above the desired speed: it slows down
    assert traffic.idm_accel(35.0, 30.0, math.inf, 0.0, 1.5, kp) < 0.0
    # half the desired speed: a * (1 - 0.5^4)
    assert traffic.idm_accel(15.0, 30.0, math.inf, 0.0, 1.5, kp) == pytest.approx(
        a * (1.0 - 0.5**4)
    )


@pytest.mark.parametrize("speed", [5.0, 15.0, 25.0])
def test_idm_equilibrium_gap_gives_zero_acceleration(speed: float) -> None:
    """Behind a leader at the same speed, IDM's equilibrium gap s*/sqrt(1-(v/v0)^4) holds."""
    kp = traffic.traffic_model(SimParams().kernel_params)
    desired, headway = 30.0, 1.4
    s_star = kp.min_gap_m + speed * headway
    gap = s_star / math.sqrt(1.0 - (speed / desired) ** 4)
    acc = traffic.idm_accel(speed, desired, gap, 0.0, headway, kp)
    assert acc == pytest.approx(0.0, abs=1e-9)
    # closer than equilibrium: it brakes; further: it accelerates
    assert traffic.idm_accel(speed, desired, 0.8 * gap, 0.0, headway, kp) < 0.0
    assert traffic.idm_accel(speed, desired, 1.25 * gap, 0.0, headway, kp) > 0.0


def test_idm_braking_is_bounded() -> None:
    kp = traffic.traffic_model(SimParams().kernel_params)
    acc = traffic.idm_accel(30.0, 30.0, 0.2, 30.0, 1.5, kp)
    assert acc == pytest.approx(-kp.brake_max_mps2)


@pytest.mark.parametrize(
    ("speed", "gap"), [(10.0, 20.0), (20.0, 60.0), (30.0, 150.0), (35.0, 200.0), (40.0, 120.0)]
)
def test_idm_follower_stops_short_of_a_stopped_car(speed: float, gap: float) -> None:
    """Traffic vehicle 1 approaches stopped vehicle 2 in its lane; it must stop behind it, at
    about the IDM minimum gap, without ever touching it."""
    p = quiet_params(n_vehicles=3)
    state = lone_ego(p, lane=0)  # the ego stays out of the way in lane 0
    length = p.vehicle_length_m
    put_vehicle(state, 1, 0.0, 2, speed, p, desired_mps=speed, headway_s=1.5)
    put_vehicle(state, 2, gap + length, 2, 0.0, p)
    h = p.dt_s / p.substeps
    gaps = []
    for _ in range(int(90.0 / h)):
        acc = traffic_accel(state, 1, p)
        assert acc >= -p.traffic_brake_max_mps2 - 1e-12
        dynamics.advance_longitudinal(state.veh, 0, 1, acc, h, p.speed_max_mps)
        gaps.append(state.x_m[0, 2] - state.x_m[0, 1] - length)
        assert state.speed_mps[0, 1] >= 0.0
    assert min(gaps) > 0.0, f"IDM follower hit the stopped car (min gap {min(gaps):.3f} m)"
    assert state.speed_mps[0, 1] == pytest.approx(0.0, abs=0.05)
    assert gaps[-1] == pytest.approx(p.traffic_min_gap_m, abs=0.25)


def test_idm_follows_the_leader_of_the_lane_it_is_entering() -> None:
    """During a lane change a vehicle brakes for a slow car in its target lane as well."""
    p = quiet_params(n_vehicles=3)
    state = lone_ego(p, lane=0)
    put_vehicle(state, 1, 0.0, 1, 25.0, p, target_lane=2, lc_progress=0.3)
    free = traffic_accel(state, 1, p)
    put_vehicle(state, 2, 15.0, 2, 5.0, p)
    assert traffic_accel(state, 1, p) < min(free, -1.0)


# ------------------------------------------------------------------------------ MOBIL
def _mobil_scene(left_car: tuple[float, float] | None) -> tuple:
    """Vehicle 1 in lane 1 at 25 m/s wanting 30 m/s, stuck behind a 12 m/s truck 20 m ahead.
    Lane 2 is blocked by a car right alongside; ``left_car`` = (x, speed) puts a car in lane 0."""
    p = quiet_params(n_vehicles=5)
    state = lone_ego(p, lane=0, speed_mps=25.0, exit_x_m=50_000.0)
    state.veh[layout.X_M, 0, 0] = -400.0  # the ego far behind, out of the scene
    put_vehicle(state, 1, 0.0, 1, 25.0, p, desired_mps=30.0, politeness=0.2)
    put_vehicle(state, 2, 20.0, 1, 12.0, p)
    put_vehicle(state, 3, 1.0, 2, 25.0, p)
    if left_car is not None:
        put_vehicle(state, 4, left_car[0], 0, left_car[1], p)
    return state, p


def test_mobil_takes_a_clearly_beneficial_safe_gap() -> None:
    state, p = _mobil_scene(left_car=None)
    assert mobil_choice(state, 1, p) == -1
    # a car far behind in the left lane at the same speed does not make the gap unsafe
    state, p = _mobil_scene(left_car=(-80.0, 25.0))
    assert mobil_choice(state, 1, p) == -1


@pytest.mark.parametrize(
    "left_car",
    [
        (0.5, 25.0),  # right alongside: no gap at all
        (4.0, 25.0),  # overlapping ahead
        (-15.0, 35.0),  # a fast car close behind would have to brake hard
        (8.0, 12.0),  # a slow car just ahead: the mover itself would have to brake hard
    ],
)
def test_mobil_refuses_an_unsafe_gap(left_car: tuple[float, float]) -> None:
    state, p = _mobil_scene(left_car=left_car)
    assert mobil_choice(state, 1, p) == 0


def test_mobil_stays_when_nothing_is_gained() -> None:
    p = quiet_params(n_vehicles=2)
    state = lone_ego(p, lane=0)
    state.veh[layout.X_M, 0, 0] = -400.0
    put_vehicle(state, 1, 0.0, 1, 30.0, p, desired_mps=30.0)
    # free road at the desired speed: keep-right bias alone is below the threshold
    assert p.mobil_keep_right_bias_mps2 < p.mobil_threshold_mps2
    assert mobil_choice(state, 1, p) == 0


def test_mobil_never_leaves_the_road() -> None:
    """A blocked vehicle in the leftmost lane with the right lane blocked stays put."""
    p = quiet_params(n_vehicles=4)
    state = lone_ego(p, lane=2)
    state.veh[layout.X_M, 0, 0] = -400.0
    put_vehicle(state, 1, 0.0, 0, 25.0, p, desired_mps=30.0)
    put_vehicle(state, 2, 20.0, 0, 10.0, p)
    put_vehicle(state, 3, 0.5, 1, 25.0, p)
    assert mobil_choice(state, 1, p) == 0


# ------------------------------------------------------------------------------ lane changes
def _expected_lane_change_steps(p: SimParams) -> int:
    h = p.dt_s / p.substeps
    substeps_needed = math.ceil(p.lane_change_duration_s / h - 1e-6)
    return math.ceil(substeps_needed / p.substeps - 1e-9)


def test_advance_lateral_substeps_are_smooth_and_bounded() -> None:
    p = quiet_params(lane_change_duration_s=2.0, substeps=4)
    state = lone_ego(p, lane=1)
    state.veh[layout.TARGET_LANE, 0, 0] = 2
    h = p.dt_s / p.substeps
    ys = [state.y_m[0, 0]]
    n = 0
    while state.lane[0, 0] != 2:
        dynamics.advance_lateral(state.veh, 0, 0, h, p.kernel_params)
        ys.append(state.y_m[0, 0])
        n += 1
        assert n < 1000
    assert n == round(p.lane_change_duration_s / h)
    dy = np.diff(ys)
    # smoothstep's steepest slope is 1.5 lane widths per duration
    bound = 1.5 * p.lane_width_m * h / p.lane_change_duration_s + 1e-9
    assert np.all(dy >= 0.0) and np.all(dy <= bound), dy
    assert ys[-1] == 2 * p.lane_width_m
    assert state.target_lane[0, 0] == 2
    assert state.veh[layout.LC_PROGRESS, 0, 0] == 0.0


@pytest.mark.parametrize(
    ("duration_s", "substeps", "decision_hz"),
    [(2.0, 2, 5.0), (2.0, 1, 5.0), (1.0, 4, 5.0), (3.0, 1, 5.0), (2.4, 3, 5.0), (1.5, 2, 10.0)],
)
@pytest.mark.parametrize("direction", [-1, 1])
def test_lane_change_takes_the_configured_time(
    duration_s: float, substeps: int, decision_hz: float, direction: int
) -> None:
    p = quiet_params(lane_change_duration_s=duration_s, substeps=substeps, decision_hz=decision_hz)
    state = lone_ego(p, lane=1, speed_mps=20.0)
    target = 1 + direction
    expected = round(duration_s * decision_hz)
    assert expected == _expected_lane_change_steps(p)
    ys = [state.y_m[0, 0]]
    steps = 0
    request = float(direction)
    while state.lane[0, 0] != target:
        _, r = core.step(state, controls(lane=request), p)
        assert r.event("lane_change_started")[0] == (1.0 if steps == 0 else 0.0)
        assert not r.done[0]
        request = 0.0
        steps += 1
        ys.append(state.y_m[0, 0])
        if state.lane[0, 0] != target:
            assert state.target_lane[0, 0] == target
            # the observation reports the change under way
            progress = r.obs[0, 3]
            assert 0.0 < progress < 1.0
            assert r.obs[0, 4] == direction
        assert steps <= expected, "the lane change takes longer than configured"
    assert steps == expected, "the lane change finished before the configured time"
    dy = np.diff(ys) * direction
    bound = 1.5 * p.lane_width_m * p.dt_s / duration_s + 1e-9
    assert np.all(dy > 0.0), "lateral motion must be monotonic"
    assert np.all(dy <= bound), "lateral jump: a vehicle teleported"
    assert ys[-1] == target * p.lane_width_m


def test_lane_change_time_rounds_up_to_a_decision_step() -> None:
    p = quiet_params(lane_change_duration_s=1.3, substeps=2)
    state = lone_ego(p, lane=0)
    core.step(state, controls(lane=1.0), p)
    steps = 1
    while state.lane[0, 0] != 1:
        core.step(state, controls(), p)
        steps += 1
    assert steps == _expected_lane_change_steps(p) == 7


@pytest.mark.parametrize("n_lanes", [2, 3, 4, 5])
def test_lane_request_toward_a_missing_lane_does_nothing(n_lanes: int) -> None:
    p = quiet_params(n_lanes=n_lanes)
    for lane, request in ((0, -1.0), (n_lanes - 1, 1.0)):
        state = lone_ego(p, lane=lane)
        changes = state.env[layout.EPISODE_LANE_CHANGES, 0]
        for _ in range(3):
            _, r = core.step(state, controls(lane=request), p)
            assert r.event("lane_change_started")[0] == 0.0
            assert r.terms[0].sum() == pytest.approx(r.reward[0])
        assert state.lane[0, 0] == lane and state.target_lane[0, 0] == lane
        assert state.y_m[0, 0] == lane * p.lane_width_m
        assert state.env[layout.EPISODE_LANE_CHANGES, 0] == changes


def test_lane_request_during_a_lane_change_does_nothing() -> None:
    p = quiet_params(n_lanes=4, lane_change_duration_s=2.0)
    reference = lone_ego(p, lane=1)
    state = lone_ego(p, lane=1)
    core.step(reference, controls(lane=1.0), p)
    core.step(state, controls(lane=1.0), p)
    assert state.target_lane[0, 0] == 2
    requests = [-1.0, 1.0, -1.0, 1.0, 1.0]
    for request in requests:
        _, r_ref = core.step(reference, controls(), p)
        _, r = core.step(state, controls(lane=request), p)
        if state.lane[0, 0] == 2:
            break
        assert r.event("lane_change_started")[0] == 0.0
        assert state.target_lane[0, 0] == 2, "a request during a change redirected it"
        assert state.y_m[0, 0] == reference.y_m[0, 0]
        assert state.veh[layout.LC_PROGRESS, 0, 0] == reference.veh[layout.LC_PROGRESS, 0, 0]
    assert state.env[layout.EPISODE_LANE_CHANGES, 0] == 1


def test_a_new_lane_change_can_start_once_the_last_one_is_done() -> None:
    p = quiet_params(n_lanes=4)
    state = lone_ego(p, lane=0)
    for expected_lane in (1, 2, 3):
        _, r = core.step(state, controls(lane=1.0), p)
        assert r.event("lane_change_started")[0] == 1.0
        while state.lane[0, 0] != expected_lane:
            core.step(state, controls(), p)
    assert state.y_m[0, 0] == 3 * p.lane_width_m


# ------------------------------------------------------------------------------ longitudinal
@pytest.mark.parametrize("speed", [5.0, 17.3, 30.0, 40.0])
@pytest.mark.parametrize(("brake_max", "substeps"), [(8.0, 1), (8.0, 2), (6.0, 3)])
@pytest.mark.parametrize("brake", [1.0, 0.5])
def test_braking_distance_matches_kinematics(
    speed: float, brake_max: float, substeps: int, brake: float
) -> None:
    p = quiet_params(ego_brake_max_mps2=brake_max, substeps=substeps)
    state = lone_ego(p, lane=1, speed_mps=speed)
    x0 = state.x_m[0, 0]
    decel = brake * brake_max
    speeds = []
    for _ in range(int(speed / decel / p.dt_s) + 3):
        _, r = core.step(state, controls(brake=brake), p)
        speeds.append(state.speed_mps[0, 0])
        assert r.event("speed_mps")[0] == state.speed_mps[0, 0]
    assert speeds[-1] == 0.0
    assert np.all(np.diff(speeds) <= 0.0)
    expected = speed * speed / (2.0 * decel)
    assert state.x_m[0, 0] - x0 == pytest.approx(expected, abs=1e-6)
    # braking on at a standstill: no reversing
    x_stop = state.x_m[0, 0]
    for _ in range(5):
        core.step(state, controls(brake=brake), p)
        assert state.speed_mps[0, 0] == 0.0 and state.x_m[0, 0] == x_stop


def test_speed_change_per_step_is_bounded_by_the_limits() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    _, r = core.step(state, controls(throttle=1.0), p)
    assert state.speed_mps[0, 0] == pytest.approx(20.0 + p.ego_accel_max_mps2 * p.dt_s)
    assert r.event("accel_mps2")[0] == pytest.approx(p.ego_accel_max_mps2)
    _, r = core.step(state, controls(brake=1.0), p)
    assert r.event("accel_mps2")[0] == pytest.approx(-p.ego_brake_max_mps2)
    # throttle and brake together: they add
    v = state.speed_mps[0, 0]
    core.step(state, controls(throttle=1.0, brake=0.25), p)
    expected = v + (p.ego_accel_max_mps2 - 0.25 * p.ego_brake_max_mps2) * p.dt_s
    assert state.speed_mps[0, 0] == pytest.approx(expected)


def test_full_throttle_reaches_and_holds_the_speed_cap_exactly() -> None:
    p = quiet_params(speed_max_mps=35.0, target_speed_max_mps=32.0, traffic_speed_max_mps=30.0)
    v0 = 33.0
    state = lone_ego(p, lane=1, speed_mps=v0)
    a = p.ego_accel_max_mps2
    t_total = 0.0
    for _ in range(10):
        core.step(state, controls(throttle=1.0), p)
        t_total += p.dt_s
        assert state.speed_mps[0, 0] <= p.speed_max_mps
    assert state.speed_mps[0, 0] == p.speed_max_mps
    t_cap = (p.speed_max_mps - v0) / a
    expected = 0.5 * (v0 + p.speed_max_mps) * t_cap + p.speed_max_mps * (t_total - t_cap)
    assert state.x_m[0, 0] == pytest.approx(expected, abs=1e-6)


def test_out_of_range_controls_are_clamped() -> None:
    p = quiet_params()
    a = lone_ego(p, lane=1, speed_mps=20.0)
    b = lone_ego(p, lane=1, speed_mps=20.0)
    core.step(a, controls(throttle=7.0, brake=-3.0, lane=0.2), p)
    core.step(b, controls(throttle=1.0, brake=0.0, lane=0.0), p)
    np.testing.assert_array_equal(a.veh, b.veh)


def test_advance_longitudinal_never_reverses_or_exceeds_the_cap() -> None:
    p = quiet_params(n_vehicles=2)
    state = lone_ego(p)
    rng = np.random.default_rng(3)
    for _ in range(2000):
        v0 = rng.uniform(0.0, p.speed_max_mps)
        state.veh[layout.SPEED_MPS, 0, 0] = v0
        x0 = state.x_m[0, 0]
        acc = rng.uniform(-20.0, 20.0)
        dt = rng.uniform(0.01, 1.0)
        dynamics.advance_longitudinal(state.veh, 0, 0, acc, dt, p.speed_max_mps)
        v1 = state.speed_mps[0, 0]
        assert 0.0 <= v1 <= p.speed_max_mps
        assert state.x_m[0, 0] >= x0
        assert state.x_m[0, 0] - x0 <= p.speed_max_mps * dt + 1e-9
