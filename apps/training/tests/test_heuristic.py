"""The heuristic driver: valid controls, mission completion alone on the road and in traffic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from simkit import give_mission, lane_change_time_s, lone_ego, put_vehicle, quiet_params

from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.params import SimParams


def _drive(state, params, max_steps: int):
    """Step one env with the heuristic until its mission resolves or the episode ends."""
    for t in range(1, max_steps + 1):
        c = heuristic_controls(state, params)
        _, r = core.step(state, c, params)
        if r.event("mission_success")[0] or r.event("mission_failure")[0] or r.done[0]:
            return t, r
    pytest.fail("the mission did not resolve")


def test_heuristic_controls_are_valid_controls() -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(0, 64))
    for _ in range(50):
        c = heuristic_controls(state, params)
        assert c.shape == (64, 3)
        assert np.all((c[:, :2] >= 0.0) & (c[:, :2] <= 1.0))
        assert np.all((c[:, 0] == 0.0) | (c[:, 1] == 0.0)), "throttle and brake at once"
        assert np.all(np.isin(c[:, 2], (-1.0, 0.0, 1.0)))
        core.step(state, c, params)


@pytest.mark.parametrize("start_lane", [0, 1, 2])
def test_heuristic_takes_the_exit_on_an_empty_road(start_lane: int) -> None:
    p = quiet_params()
    state = lone_ego(p, lane=start_lane, speed_mps=25.0)
    give_mission(state, p, "exit", exit_distance_m=400.0, target_speed_mps=25.0)
    _, r = _drive(state, p, 200)
    assert r.terminated[0] and r.event("exited")[0] == 1.0
    assert r.event("mission_success")[0] == 1.0


@pytest.mark.parametrize(("start_lane", "target"), [(0, 2), (2, 0), (1, 0)])
def test_heuristic_completes_a_lane_mission_on_an_empty_road(start_lane: int, target: int) -> None:
    p = quiet_params()
    state = lone_ego(p, lane=start_lane, speed_mps=25.0)
    give_mission(state, p, "lane", target_lane=target)
    t, r = _drive(state, p, 200)
    assert r.event("mission_success")[0] == 1.0 and not r.done[0]
    lc_steps = math.ceil(lane_change_time_s(p, 25.0) * p.decision_hz)
    cooldown_steps = round(p.ego_lane_change_cooldown_s * p.decision_hz)
    hold_steps = round(p.lane_hold_s * p.decision_hz)
    # no dawdling: at most one step of hesitation per lane change (speed stays near 25 m/s)
    changes = abs(target - start_lane)
    assert t <= changes * (lc_steps + 2) + (changes - 1) * cooldown_steps + hold_steps


@pytest.mark.parametrize("target_speed", [20.0, 31.0])
def test_heuristic_reaches_and_holds_the_cruise_speed(target_speed: float) -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=25.0)
    give_mission(state, p, "cruise", target_speed_mps=target_speed)
    _, r = _drive(state, p, 150)
    assert r.event("mission_success")[0] == 1.0
    assert abs(state.speed_mps[0, 0] - target_speed) <= p.cruise_tolerance_mps


def test_heuristic_slows_behind_a_slow_car_it_cannot_pass() -> None:
    """Boxed in (slow car ahead, cars alongside on both sides): it follows, it does not hit."""
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=28.0)
    give_mission(state, p, "cruise", target_speed_mps=30.0)
    put_vehicle(state, 1, 40.0, 1, 15.0, p, desired_mps=15.0, cooldown_s=1e9)
    put_vehicle(state, 2, 0.0, 0, 15.0, p, desired_mps=15.0, cooldown_s=1e9)
    put_vehicle(state, 3, 0.0, 2, 15.0, p, desired_mps=15.0, cooldown_s=1e9)
    for _ in range(100):
        _, r = core.step(state, heuristic_controls(state, p), p)
        assert r.event("collision")[0] == 0.0
    gap = state.x_m[0, 1] - state.x_m[0, 0] - p.vehicle_length_m
    assert gap > 5.0
    assert state.speed_mps[0, 0] == pytest.approx(15.0, abs=1.0)


def test_heuristic_completes_most_missions_in_traffic() -> None:
    """500 episodes (the first of each of 500 slots), no supervisor. An episode succeeds when
    it has no collision, no mission failure and at least one mission success."""
    params = SimParams()
    n = 500
    state, _ = core.reset(params, core.seeds_from_ints(2024, n))
    finished = np.zeros(n, bool)
    collided = np.zeros(n, bool)
    failed = np.zeros(n, bool)
    succeeded = np.zeros(n, bool)
    by_kind = np.zeros((3, 2))  # (kind, [successes, failures])
    buffers = core.StepBuffers(n)
    while not finished.all():
        _, r = core.step(state, heuristic_controls(state, params), params, buffers)
        live = ~finished
        ok = live & (r.event("mission_success") > 0.5)
        bad = live & (r.event("mission_failure") > 0.5)
        collided |= live & (r.event("collision") > 0.5)
        failed |= bad
        succeeded |= ok
        kind = r.event("mission_kind").astype(int)
        for k in range(3):
            by_kind[k, 0] += np.sum(ok & (kind == k))
            by_kind[k, 1] += np.sum(bad & (kind == k))
        finished |= r.done
    success_rate = float(np.mean(succeeded & ~failed & ~collided))
    collision_rate = float(np.mean(collided))
    kind_rates = by_kind[:, 0] / np.maximum(by_kind.sum(axis=1), 1)
    print(
        f"heuristic: success {success_rate:.3f}, collisions {collision_rate:.3f}, "
        f"mission success by kind (cruise, lane, exit) {np.round(kind_rates, 3)} "
        f"over {by_kind.sum(axis=1)} missions"
    )
    assert success_rate >= 0.8
    assert collision_rate <= 0.01
    assert np.all(by_kind.sum(axis=1) >= 30), "every mission kind is exercised"
    assert kind_rates[layout.CRUISE] >= 0.9
    assert kind_rates[layout.LANE_MISSION] >= 0.7
    assert kind_rates[layout.EXIT] >= 0.75
