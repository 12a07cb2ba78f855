"""Analytic checks of the simulator physics against hand computations.

IDM car-following (Treiber & Kesting's equations), MOBIL lane choice, lane-change kinematics,
the ego's car model (brake override, power limit, drag), braking distance, speed limits and the
lane-request rules of the ego.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from simkit import (
    controls,
    lane_change_time_s,
    lone_ego,
    mobil_choice,
    put_vehicle,
    quiet_params,
    traffic_accel,
)

from car_ai_rl.sim import controls as car
from car_ai_rl.sim import core, dynamics, idm, layout
from car_ai_rl.sim.params import SimParams

# ------------------------------------------------------------------------------ IDM
P = SimParams()
A, B, S0, BRAKE = (
    P.traffic_accel_max_mps2,
    P.traffic_decel_comfort_mps2,
    P.traffic_min_gap_m,
    P.traffic_brake_max_mps2,
)


def textbook_idm(v: float, v0: float, s: float, dv: float, t: float) -> float:
    """Treiber & Kesting (2013), eq. 11.3-11.4, written out independently of the simulator."""
    s_star = S0 + max(0.0, v * t + v * dv / (2.0 * math.sqrt(A * B)))
    free = 1.0 - (v / v0) ** 4
    return A * (free - (s_star / s) ** 2) if math.isfinite(s) else A * free


def sim_idm(v: float, v0: float, s: float, dv: float, t: float) -> float:
    return idm.idm_accel(v, v0, s, dv, t, A, B, S0, BRAKE)


def test_idm_matches_the_textbook_equations() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5000):
        v, v0 = rng.uniform(0.0, 40.0), rng.uniform(5.0, 40.0)
        s, dv, t = rng.uniform(1.0, 200.0), rng.uniform(-15.0, 15.0), rng.uniform(0.5, 2.5)
        expected = min(max(textbook_idm(v, v0, s, dv, t), -BRAKE), A)
        assert sim_idm(v, v0, s, dv, t) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_idm_free_road_limits() -> None:
    # standing start on a free road: the full IDM acceleration
    assert sim_idm(0.0, 30.0, math.inf, 0.0, 1.5) == pytest.approx(A)
    # at the desired speed on a free road: no acceleration
    assert sim_idm(30.0, 30.0, math.inf, 0.0, 1.5) == pytest.approx(0.0, abs=1e-12)
    # above the desired speed: it slows down
    assert sim_idm(35.0, 30.0, math.inf, 0.0, 1.5) < 0.0
    # half the desired speed: a * (1 - 0.5^4)
    assert sim_idm(15.0, 30.0, math.inf, 0.0, 1.5) == pytest.approx(A * (1.0 - 0.5**4))


@pytest.mark.parametrize("speed", [5.0, 15.0, 25.0])
def test_idm_equilibrium_gap_gives_zero_acceleration(speed: float) -> None:
    """Behind a leader at the same speed, IDM's equilibrium gap s*/sqrt(1-(v/v0)^4) holds."""
    desired, headway = 30.0, 1.4
    gap = idm.equilibrium_gap_m(speed, desired, headway, S0)
    assert gap == pytest.approx((S0 + speed * headway) / math.sqrt(1.0 - (speed / desired) ** 4))
    assert sim_idm(speed, desired, gap, 0.0, headway) == pytest.approx(0.0, abs=1e-9)
    # closer than equilibrium: it brakes; further: it accelerates
    assert sim_idm(speed, desired, 0.8 * gap, 0.0, headway) < 0.0
    assert sim_idm(speed, desired, 1.25 * gap, 0.0, headway) > 0.0
    # and the inverse: the equilibrium speed of that gap is the speed
    assert idm.equilibrium_speed_mps(gap, desired, headway, S0) == pytest.approx(speed, abs=1e-9)


def test_idm_braking_is_bounded() -> None:
    assert sim_idm(30.0, 30.0, 0.2, 30.0, 1.5) == pytest.approx(-BRAKE)


@pytest.mark.parametrize(
    ("speed", "gap"), [(10.0, 20.0), (20.0, 60.0), (30.0, 150.0), (35.0, 200.0), (40.0, 120.0)]
)
def test_idm_follower_stops_short_of_a_stopped_car(speed: float, gap: float) -> None:
    """Traffic vehicle 1 approaches stopped vehicle 2 in its lane; it must stop behind it, at
    about the IDM minimum gap, without ever touching it."""
    p = quiet_params()
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
    p = quiet_params()
    state = lone_ego(p, lane=0)
    put_vehicle(state, 1, 0.0, 1, 25.0, p, target_lane=2, lc_progress=0.3)
    free = traffic_accel(state, 1, p)
    put_vehicle(state, 2, 15.0, 2, 5.0, p)
    assert traffic_accel(state, 1, p) < min(free, -1.0)


# ------------------------------------------------------------------------------ MOBIL
def _mobil_scene(left_car: tuple[float, float] | None) -> tuple:
    """Vehicle 1 in lane 1 at 25 m/s wanting 30 m/s, stuck behind a 12 m/s truck 20 m ahead.
    Lane 2 is blocked by a car right alongside; ``left_car`` = (x, speed) puts a car in lane 0."""
    p = quiet_params()
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
    p = quiet_params()
    state = lone_ego(p, lane=0)
    state.veh[layout.X_M, 0, 0] = -400.0
    put_vehicle(state, 1, 0.0, 1, 30.0, p, desired_mps=30.0)
    # free road at the desired speed: keep-right bias alone is below the threshold
    assert p.mobil_keep_right_bias_mps2 < p.mobil_threshold_mps2
    assert mobil_choice(state, 1, p) == 0


def test_mobil_never_leaves_the_road() -> None:
    """A blocked vehicle in the leftmost lane with the right lane blocked stays put."""
    p = quiet_params()
    state = lone_ego(p, lane=2)
    state.veh[layout.X_M, 0, 0] = -400.0
    put_vehicle(state, 1, 0.0, 0, 25.0, p, desired_mps=30.0)
    put_vehicle(state, 2, 20.0, 0, 10.0, p)
    put_vehicle(state, 3, 0.5, 1, 25.0, p)
    assert mobil_choice(state, 1, p) == 0


# ------------------------------------------------------------------------------ lane changes
def _drive_lane_change(p: SimParams, speed: float, direction: int, max_steps: int = 400):
    """The ego at constant speed (no resistance) changes one lane; (steps taken, y, vy)."""
    state = lone_ego(p, lane=1, speed_mps=speed)
    ys, vys = [state.y_m[0, 0]], [0.0]
    target = 1 + direction
    _, r = core.step(state, controls(lane=float(direction)), p)
    assert r.event("lane_change_started")[0] == 1.0
    steps = 1
    ys.append(state.y_m[0, 0])
    vys.append(state.veh[layout.LAT_SPEED_MPS, 0, 0])
    while state.lane[0, 0] != target and steps < max_steps:
        _, r = core.step(state, controls(), p)
        assert not r.done[0]
        steps += 1
        ys.append(state.y_m[0, 0])
        vys.append(state.veh[layout.LAT_SPEED_MPS, 0, 0])
        if state.lane[0, 0] != target:
            assert state.target_lane[0, 0] == target
            assert 0.0 < r.obs[0, 3] < 1.0  # the observation reports the change under way
            assert r.obs[0, 4] == direction
    return steps, np.array(ys), np.array(vys), state


def _constant_speed(**changes: object) -> SimParams:
    return quiet_params(ego_drag_coefficient_per_m=0.0, ego_rolling_resistance_mps2=0.0, **changes)


@pytest.mark.parametrize("speed", [3.0, 8.0, 15.0, 25.0, 35.0])
@pytest.mark.parametrize("direction", [-1, 1])
@pytest.mark.parametrize("substeps", [1, 4])
def test_lane_change_kinematics_follow_the_speed_and_comfort_limits(
    speed: float, direction: int, substeps: int
) -> None:
    p = _constant_speed(substeps=substeps)
    steps, ys, vys, state = _drive_lane_change(p, speed, direction)
    limit = min(p.lateral_speed_max_mps, speed * math.tan(p.lane_change_heading_max_rad))
    # bounded lateral speed and (at this constant speed) bounded lateral acceleration; the
    # arrival in the lane centre ends the sideways motion within one step
    assert np.all(np.abs(vys) <= limit + 1e-9)
    assert np.all(np.abs(np.diff(vys[:-1])) <= p.lateral_accel_max_mps2 * p.dt_s + 1e-9)
    assert abs(vys[-2]) <= max(limit, p.lateral_accel_max_mps2 * p.dt_s) + 1e-9
    # monotonic, no jump, ends centred in the target lane at rest sideways
    dy = np.diff(ys) * direction
    assert np.all(dy >= 0.0)
    assert np.all(dy <= limit * p.dt_s + 1e-9)
    assert ys[-1] == (1 + direction) * p.lane_width_m and vys[-1] == 0.0
    # the duration of the accelerate-cruise-brake profile, to within a decision step
    expected = lane_change_time_s(p, speed)
    assert abs(steps * p.dt_s - expected) <= p.dt_s + 1e-9, (steps * p.dt_s, expected)


def test_lane_changes_take_longer_at_low_speed() -> None:
    p = _constant_speed()
    durations = [_drive_lane_change(p, v, 1)[0] for v in (4.0, 8.0, 16.0, 30.0)]
    assert durations == sorted(durations, reverse=True) and durations[0] > durations[-1]


def test_no_lateral_motion_at_a_standstill() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=0.0)
    y0 = state.y_m[0, 0]
    _, r = core.step(state, controls(lane=1.0), p)
    assert r.event("lane_change_started")[0] == 1.0  # committed, but a car cannot crab
    for _ in range(50):
        core.step(state, controls(), p)
        assert state.y_m[0, 0] == y0 and state.veh[layout.LAT_SPEED_MPS, 0, 0] == 0.0
    # once it moves, the change goes on and completes
    for _ in range(100):
        core.step(state, controls(throttle=0.3), p)
    assert state.lane[0, 0] == 2 and state.y_m[0, 0] == 2 * p.lane_width_m


def test_stopping_mid_change_stops_the_lateral_motion() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    core.step(state, controls(lane=1.0), p)
    for _ in range(5):
        core.step(state, controls(), p)
    for _ in range(30):
        core.step(state, controls(brake=1.0), p)
    assert state.speed_mps[0, 0] == 0.0 and state.lane[0, 0] == 1
    y = state.y_m[0, 0]
    for _ in range(10):
        core.step(state, controls(brake=1.0), p)
        assert state.y_m[0, 0] == y


def test_a_lane_change_is_followed_by_a_cooldown() -> None:
    p = quiet_params(n_lanes=4, ego_lane_change_cooldown_s=1.0)
    state = lone_ego(p, lane=0, speed_mps=25.0)
    core.step(state, controls(lane=1.0), p)
    while state.lane[0, 0] != 1:
        core.step(state, controls(), p)
    assert state.veh[layout.LC_COOLDOWN_S, 0, 0] > 0.0
    waited = 0
    while True:
        cooling = state.veh[layout.LC_COOLDOWN_S, 0, 0] > 0.0
        _, r = core.step(state, controls(lane=1.0), p)
        started = r.event("lane_change_started")[0] == 1.0
        assert started != cooling, "a request starts a change exactly when the cooldown is over"
        if started:
            break
        waited += 1
    # the change ends within a step; the cooldown runs out exactly that long after it
    assert waited in (
        round(p.ego_lane_change_cooldown_s * p.decision_hz) - 1,
        round(p.ego_lane_change_cooldown_s * p.decision_hz),
    )
    assert state.target_lane[0, 0] == 2


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
    """A change cannot be aborted or redirected: requests during it are ignored."""
    p = quiet_params(n_lanes=4)
    reference = lone_ego(p, lane=1)
    state = lone_ego(p, lane=1)
    core.step(reference, controls(lane=1.0), p)
    core.step(state, controls(lane=1.0), p)
    assert state.target_lane[0, 0] == 2
    requests = [-1.0, 1.0, -1.0, 1.0, 1.0] * 4
    for request in requests:
        _, r_ref = core.step(reference, controls(), p)
        _, r = core.step(state, controls(lane=request), p)
        if state.lane[0, 0] == 2:
            break
        assert r.event("lane_change_started")[0] == 0.0
        assert state.target_lane[0, 0] == 2, "a request during a change redirected it"
        np.testing.assert_array_equal(state.veh, reference.veh)
    assert state.env[layout.EPISODE_LANE_CHANGES, 0] == 1


def test_a_new_lane_change_can_start_once_the_last_one_is_done() -> None:
    p = quiet_params(n_lanes=4)
    state = lone_ego(p, lane=0)
    for expected_lane in (1, 2, 3):
        _, r = core.step(state, controls(lane=1.0), p)
        assert r.event("lane_change_started")[0] == 1.0
        while state.lane[0, 0] != expected_lane:
            core.step(state, controls(), p)
        while state.veh[layout.LC_COOLDOWN_S, 0, 0] > 0.0:
            core.step(state, controls(), p)
    assert state.y_m[0, 0] == 3 * p.lane_width_m


# ------------------------------------------------------------------------------ longitudinal
@pytest.mark.parametrize("speed", [5.0, 17.3, 30.0, 40.0])
@pytest.mark.parametrize(("brake_max", "substeps"), [(8.0, 1), (8.0, 2), (6.0, 3)])
@pytest.mark.parametrize("brake", [1.0, 0.5])
def test_braking_distance_matches_kinematics(
    speed: float, brake_max: float, substeps: int, brake: float
) -> None:
    p = _constant_speed(ego_brake_max_mps2=brake_max, substeps=substeps)
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


@pytest.mark.parametrize("throttle", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("brake", [0.05, 0.5, 1.0])
def test_braking_overrides_the_throttle(throttle: float, brake: float) -> None:
    p = quiet_params()
    with_throttle = lone_ego(p, lane=1, speed_mps=25.0)
    brake_only = lone_ego(p, lane=1, speed_mps=25.0)
    core.step(with_throttle, controls(throttle=throttle, brake=brake), p)
    core.step(brake_only, controls(brake=brake), p)
    np.testing.assert_array_equal(with_throttle.veh, brake_only.veh)
    assert with_throttle.speed_mps[0, 0] < 25.0


@pytest.mark.parametrize("speed", [0.0, 10.0, 25.0, 32.0, 39.0])
@pytest.mark.parametrize("throttle", [0.25, 1.0])
def test_acceleration_falls_with_speed_power_limit_and_drag(speed: float, throttle: float) -> None:
    """a = throttle * min(a_max, P/m / v) - c v^2 - rolling resistance (none at a standstill)."""
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=speed)
    _, r = core.step(state, controls(throttle=throttle), p)
    drive = throttle * min(p.ego_accel_max_mps2, p.ego_power_to_mass_w_per_kg / max(speed, 0.5))
    resist = (
        0.0
        if speed == 0.0
        else (p.ego_drag_coefficient_per_m * speed**2 + p.ego_rolling_resistance_mps2)
    )
    assert r.event("accel_mps2")[0] == pytest.approx(drive - resist, rel=1e-9)
    # at 40 m/s full throttle gives well under the standing-start acceleration
    assert car.drive_limit_mps2(40.0, p.kernel_record[0]) < 0.7 * p.ego_accel_max_mps2


def test_a_coasting_car_slows_down_and_a_stopped_one_stays() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=30.0)
    _, r = core.step(state, controls(), p)
    expected = -(p.ego_drag_coefficient_per_m * 30.0**2 + p.ego_rolling_resistance_mps2)
    assert r.event("accel_mps2")[0] == pytest.approx(expected)
    stopped = lone_ego(p, lane=1, speed_mps=0.0)
    core.step(stopped, controls(), p)
    assert stopped.speed_mps[0, 0] == 0.0 and stopped.x_m[0, 0] == 0.0


def test_pedals_for_accel_inverts_the_car_model() -> None:
    p = quiet_params()
    k = p.kernel_record[0]
    rng = np.random.default_rng(1)
    for _ in range(2000):
        v = rng.uniform(0.0, 40.0)
        wanted = rng.uniform(-9.0, 4.0)
        throttle, brake = car.pedals_for_accel(wanted, v, k)
        assert 0.0 <= throttle <= 1.0 and 0.0 <= brake <= 1.0 and throttle * brake == 0.0
        got = car.pedal_accel_mps2(throttle, brake, v, k)
        lo = car.pedal_accel_mps2(0.0, 1.0, v, k)
        hi = car.pedal_accel_mps2(1.0, 0.0, v, k)
        assert got == pytest.approx(min(max(wanted, lo), hi), abs=1e-9)


def test_full_throttle_reaches_and_holds_the_speed_cap_exactly() -> None:
    p = _constant_speed(speed_max_mps=35.0, target_speed_max_mps=32.0, traffic_speed_max_mps=30.0)
    v0 = 33.0
    state = lone_ego(p, lane=1, speed_mps=v0)
    a = p.ego_power_to_mass_w_per_kg / v0  # the power limit holds over this short climb
    assert a < p.ego_accel_max_mps2
    for _ in range(10):
        core.step(state, controls(throttle=1.0), p)
        assert state.speed_mps[0, 0] <= p.speed_max_mps
    assert state.speed_mps[0, 0] == p.speed_max_mps


def test_out_of_range_controls_are_clamped() -> None:
    p = quiet_params()
    a = lone_ego(p, lane=1, speed_mps=20.0)
    b = lone_ego(p, lane=1, speed_mps=20.0)
    core.step(a, controls(throttle=7.0, brake=-3.0, lane=0.2), p)
    core.step(b, controls(throttle=1.0, brake=0.0, lane=0.0), p)
    np.testing.assert_array_equal(a.veh, b.veh)


def test_advance_longitudinal_never_reverses_or_exceeds_the_cap() -> None:
    p = quiet_params()
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
