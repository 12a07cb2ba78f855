"""The safety supervisor: its rules, its invariants, and zero at-fault collisions at scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import controls, lone_ego, put_vehicle, quiet_params, random_controls, rollout

from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.params import SimParams

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _filter(state, c, params):
    """Run the filter and check what holds for every call: purity and output shape."""
    c = np.asarray(c, dtype=np.float64)
    c_before = c.copy()
    veh, env, seeds = state.veh.copy(), state.env.copy(), state.seeds.copy()
    safe, intervened, reasons = supervisor.filter(state, c, params)
    np.testing.assert_array_equal(c, c_before, err_msg="the filter changed its input")
    np.testing.assert_array_equal(state.veh, veh, err_msg="the filter changed the state")
    np.testing.assert_array_equal(state.env, env)
    np.testing.assert_array_equal(state.seeds, seeds)
    assert safe.shape == c.shape and intervened.shape == (state.n_envs,)
    np.testing.assert_array_equal(intervened, reasons != 0)
    changed = np.any(safe != c, axis=1)
    assert not np.any(changed & ~intervened), "a control changed without an intervention"
    return safe, intervened, reasons


# ------------------------------------------------------------------ rules, one by one
def test_emergency_brake_before_a_stopped_car() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=30.0)
    put_vehicle(state, 1, 45.0, 1, 0.0, p, desired_mps=0.0)
    safe, intervened, reasons = _filter(state, controls(throttle=1.0), p)
    assert intervened[0]
    assert supervisor.reason_names(reasons[0]) == ["emergency_brake"]
    assert safe[0, 0] == 0.0 and safe[0, 1] == 1.0


def test_a_lane_change_into_a_car_alongside_is_dropped() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=25.0)
    put_vehicle(state, 1, 2.0, 2, 25.0, p)
    safe, intervened, reasons = _filter(state, controls(throttle=0.2, lane=1.0), p)
    assert intervened[0] and supervisor.reason_names(reasons[0]) == ["unsafe_gap"]
    np.testing.assert_array_equal(safe[0], [0.2, 0.0, 0.0])
    # the left lane is free: that change passes untouched
    safe, intervened, _ = _filter(state, controls(throttle=0.2, lane=-1.0), p)
    assert not intervened[0]
    np.testing.assert_array_equal(safe[0], [0.2, 0.0, -1.0])


def test_a_lane_change_in_front_of_a_fast_car_is_dropped() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=20.0)
    put_vehicle(state, 1, -25.0, 0, 35.0, p)
    safe, intervened, reasons = _filter(state, controls(lane=-1.0), p)
    assert intervened[0] and "unsafe_gap" in supervisor.reason_names(reasons[0])
    assert safe[0, 2] == 0.0


@pytest.mark.parametrize("n_lanes", [2, 3, 5])
def test_requests_off_the_road_are_dropped(n_lanes: int) -> None:
    p = quiet_params(n_lanes=n_lanes)
    for lane, request in ((0, -1.0), (n_lanes - 1, 1.0)):
        state = lone_ego(p, lane=lane)
        safe, intervened, reasons = _filter(state, controls(throttle=0.5, lane=request), p)
        assert intervened[0] and supervisor.reason_names(reasons[0]) == ["lane_limit"]
        np.testing.assert_array_equal(safe[0], [0.5, 0.0, 0.0])


def test_the_ramp_is_allowed_only_in_the_exit_zone() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=p.n_lanes - 1, speed_mps=25.0)
    state.exit_x_m[0] = -20.0  # inside the exit zone
    safe, intervened, _ = _filter(state, controls(lane=1.0), p)
    assert not intervened[0] and safe[0, 2] == 1.0
    state.exit_x_m[0] = 50.0  # the zone starts ahead
    safe, intervened, reasons = _filter(state, controls(lane=1.0), p)
    assert intervened[0] and supervisor.reason_names(reasons[0]) == ["lane_limit"]


def test_rear_guard_eases_hard_braking_during_a_lane_change() -> None:
    p = quiet_params()
    state = lone_ego(p, lane=1, speed_mps=25.0)
    state.veh[layout.TARGET_LANE, 0, 0] = 2
    state.veh[layout.Y_M, 0, 0] = 1.3 * p.lane_width_m
    put_vehicle(state, 1, -30.0, 2, 25.0, p)
    safe, intervened, reasons = _filter(state, controls(brake=1.0), p)
    assert intervened[0] and supervisor.reason_names(reasons[0]) == ["rear_guard"]
    assert safe[0, 1] < 1.0 and safe[0, 1] * p.ego_brake_max_mps2 == pytest.approx(4.0)


def test_reason_names() -> None:
    assert supervisor.reason_names(0) == []
    assert supervisor.reason_names(supervisor.LANE_LIMIT | supervisor.EMERGENCY_BRAKE) == [
        "lane_limit",
        "emergency_brake",
    ]


# ------------------------------------------------------------------ invariants
@st.composite
def free_road_scene(draw: st.DrawFn):
    """An ego with every other vehicle far away (>= 120 m bumper gap): any throttle, brake or
    lane change into an existing lane is safe there."""
    n_lanes = draw(st.integers(2, 5))
    n_traffic = draw(st.integers(0, 6))
    p = quiet_params(n_lanes=n_lanes)
    lane = draw(st.integers(0, n_lanes - 1))
    speed = draw(st.floats(15.0, 35.0))
    state = lone_ego(p, lane=lane, speed_mps=speed)
    state.exit_x_m[0] = draw(st.sampled_from([5_000.0, -5_000.0]))  # never in the exit zone
    if draw(st.booleans()):  # a lane change under way
        targets = [t for t in (lane - 1, lane + 1) if 0 <= t < n_lanes]
        target = draw(st.sampled_from(targets))
        state.veh[layout.TARGET_LANE, 0, 0] = target
        state.veh[layout.Y_M, 0, 0] = (lane + (target - lane) * draw(st.floats(0.0, 0.9))) * (
            p.lane_width_m
        )
    length = p.vehicle_length_m
    for j in range(1, n_traffic + 1):
        gap = draw(st.floats(120.0, 400.0))
        if draw(st.booleans()):
            x, v = gap + length, draw(st.floats(0.0, 40.0))
        else:
            x, v = -(gap + length), draw(st.floats(0.0, speed + 5.0))
        put_vehicle(state, j, x, draw(st.integers(0, n_lanes - 1)), v, p)
    return state, p


@SETTINGS
@given(scene=free_road_scene(), data=st.data())
def test_the_supervisor_leaves_safe_controls_exactly_as_they_were(scene, data) -> None:
    state, p = scene
    lane = int(state.lane[0, 0])
    requests = [0.0] + [float(d) for d in (-1, 1) if 0 <= lane + d < p.n_lanes]
    c = np.array(
        [
            [
                data.draw(st.floats(0.0, 1.0)),
                data.draw(st.floats(0.0, 1.0)),
                data.draw(st.sampled_from(requests)),
            ]
        ]
    )
    safe, intervened, reasons = _filter(state, c, p)
    assert not intervened[0], supervisor.reason_names(reasons[0])
    np.testing.assert_array_equal(safe, c)
    # the heuristic driver's controls in that scene are left alone too
    h = heuristic_controls(state, p)
    safe, intervened, _ = _filter(state, h, p)
    assert not intervened[0]
    np.testing.assert_array_equal(safe, h)


@SETTINGS
@given(
    n_lanes=st.integers(2, 5),
    density=st.floats(0.0, 40.0),
    seed=st.integers(0, 2**40),
    n_steps=st.integers(0, 40),
)
def test_requests_toward_missing_lanes_are_always_dropped(
    n_lanes: int, density: float, seed: int, n_steps: int
) -> None:
    """In any reachable state where a lane change could start, a request off the road comes
    back as 0 (lane_limit), and the rest of the control is judged as if no lane change had been
    asked for. (While a change is under way or cooling down, any request does nothing and
    passes as it is.)"""
    params = SimParams(n_lanes=n_lanes, traffic_density=density)
    n_envs = 16
    rng = np.random.default_rng(seed)
    state, _ = core.reset(params, core.seeds_from_ints(seed, n_envs))
    for _ in range(n_steps):
        c, _, _ = supervisor.filter(state, heuristic_controls(state, params), params)
        c[:, 2] = np.where(rng.uniform(size=n_envs) < 0.1, rng.integers(-1, 2, n_envs), 0)
        core.step(state, c, params)
    lane = state.lane[:, 0]
    holding = (state.target_lane[:, 0] == lane) & (state.veh[layout.LC_COOLDOWN_S][:, 0] <= 0.0)
    in_zone = (state.x_m[:, 0] >= state.exit_x_m) & (
        state.x_m[:, 0] <= state.exit_x_m + params.exit_ramp_length_m
    )
    c = random_controls(rng, 1, n_envs)[0]
    c[:, 2] = np.where(lane == 0, -1.0, np.where(lane == n_lanes - 1, 1.0, 0.0))
    off_road = holding & (c[:, 2] != 0) & ~((c[:, 2] == 1.0) & in_zone)
    safe, _, reasons = _filter(state, c, params)
    for b in np.nonzero(off_road)[0]:
        assert safe[b, 2] == 0.0
        assert "lane_limit" in supervisor.reason_names(reasons[b])
    no_request = c.copy()
    no_request[off_road, 2] = 0.0
    safe_ref, _, reasons_ref = supervisor.filter(state, no_request, params)
    np.testing.assert_array_equal(safe[off_road], safe_ref[off_road])
    np.testing.assert_array_equal(reasons[off_road] & ~supervisor.LANE_LIMIT, reasons_ref[off_road])


@SETTINGS
@given(seed=st.integers(0, 2**40), n_steps=st.integers(1, 60))
def test_supervised_controls_stay_valid_controls(seed: int, n_steps: int) -> None:
    params = SimParams()
    n_envs = 8
    ctl = random_controls(np.random.default_rng(seed), n_steps, n_envs)
    out = rollout(params, core.seeds_from_ints(seed, n_envs), n_steps, ctl, use_supervisor=True)
    for c in out.controls:
        assert np.all((c[:, :2] >= 0.0) & (c[:, :2] <= 1.0))
        assert np.all(np.isin(c[:, 2], (-1.0, 0.0, 1.0)))
    ev = out.stacked("events")
    assert not np.any(ev[..., layout.EV_AT_FAULT] > 0.5)


def test_the_heuristic_driver_rarely_needs_the_supervisor() -> None:
    params = SimParams()
    n_envs, n_steps = 200, 100
    state, _ = core.reset(params, core.seeds_from_ints(5, n_envs))
    interventions = 0
    for _ in range(n_steps):
        c = heuristic_controls(state, params)
        safe, intervened, _ = supervisor.filter(state, c, params)
        interventions += int(intervened.sum())
        core.step(state, safe, params)
    rate = interventions / (n_envs * n_steps)
    print(f"heuristic intervention rate: {rate:.4f}")
    assert rate < 0.05


# ------------------------------------------------------------------ at scale
def _run_episodes(
    policy: str,
    use_supervisor: bool,
    min_episodes: int,
    seed: int,
    params: SimParams | None = None,
    n_envs: int = 500,
) -> dict:
    """Step ``n_envs`` envs until ``min_episodes`` episodes have finished; count what
    happened."""
    params = params or SimParams()
    rng = np.random.default_rng(seed)
    state, _ = core.reset(params, core.seeds_from_ints(seed * 1_000_003, n_envs))
    buffers = core.StepBuffers(n_envs)
    totals = {"episodes": 0, "steps": 0, "collisions": 0, "at_fault": 0, "interventions": 0}
    held = random_controls(rng, 1, n_envs)[0]
    while totals["episodes"] < min_episodes:
        if policy == "heuristic":
            c = heuristic_controls(state, params)
        elif policy == "random":
            c = random_controls(rng, 1, n_envs)[0]
        else:  # "sticky_random": each env holds a random control for ~10 steps
            switch = rng.uniform(size=n_envs) < 0.1
            held[switch] = random_controls(rng, 1, n_envs)[0][switch]
            c = held.copy()
        if use_supervisor:
            c, intervened, _ = supervisor.filter(state, c, params)
            totals["interventions"] += int(intervened.sum())
        _, r = core.step(state, c, params, buffers)
        totals["steps"] += n_envs
        totals["collisions"] += int((r.event("collision") > 0.5).sum())
        totals["at_fault"] += int((r.event("at_fault") > 0.5).sum())
        totals["episodes"] += int(r.done.sum())
        assert totals["steps"] < 20_000_000
    totals["intervention_rate"] = totals["interventions"] / totals["steps"]
    return totals


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["heuristic", "random", "sticky_random"])
def test_supervisor_gives_zero_at_fault_collisions_over_2000_episodes(policy: str) -> None:
    totals = _run_episodes(policy, use_supervisor=True, min_episodes=2000, seed=11)
    print(
        f"{policy} + supervisor: {totals['episodes']} episodes, {totals['steps']} steps, "
        f"{totals['collisions']} collisions ({totals['at_fault']} at fault), "
        f"intervention rate {totals['intervention_rate']:.4f}"
    )
    assert totals["episodes"] >= 2000
    assert totals["at_fault"] == 0, totals
    assert totals["interventions"] > 0


@pytest.mark.slow
def test_without_the_supervisor_the_random_policies_do_collide() -> None:
    """The control experiment: the zero above is the supervisor's doing. A control held for a
    second or so (sticky) crashes in most episodes; one redrawn every step brakes a third of
    the time, and braking overrides the throttle, so it mostly crawls, yet it still crashes."""
    for policy, share in (("random", 0.05), ("sticky_random", 0.5)):
        totals = _run_episodes(policy, use_supervisor=False, min_episodes=500, seed=11)
        print(f"{policy}, no supervisor: {totals}")
        assert totals["at_fault"] >= share * totals["episodes"], totals


@pytest.mark.slow
@pytest.mark.parametrize(
    "changes",
    [
        {"n_lanes": 2, "traffic_density": 40.0},
        {"n_lanes": 5, "traffic_density": 40.0},
        {"traffic_density": 60.0, "heavy_vehicle_share": 0.3, "traffic_exit_share": 0.5},
        {"substeps": 4, "traffic_density": 30.0},
        {"decision_hz": 2.0, "traffic_density": 30.0},
        {"decision_hz": 10.0},
        {"lateral_accel_max_mps2": 0.8, "traffic_density": 30.0},
        {"ego_brake_max_mps2": 4.0},
    ],
)
def test_supervisor_holds_in_other_valid_configs(changes: dict) -> None:
    """Dense traffic, other lane counts, timing and braking limits: still no at-fault
    collision for the heuristic or a sticky random policy."""
    params = SimParams(**changes)
    for policy in ("heuristic", "sticky_random"):
        totals = _run_episodes(policy, True, 400, seed=3, params=params, n_envs=400)
        print(f"{changes} {policy}: {totals}")
        assert totals["at_fault"] == 0, totals


# ------------------------------------------------------------------ verdicts in the observation
@SETTINGS
@given(
    n_lanes=st.integers(2, 5),
    density=st.floats(0.0, 70.0),
    seed=st.integers(0, 2**40),
    n_steps=st.integers(0, 60),
)
def test_the_observed_verdicts_are_the_supervisors_own(
    n_lanes: int, density: float, seed: int, n_steps: int
) -> None:
    """Verdict a in the observation is 1 exactly when the supervisor passes discrete action a
    unchanged (or, when it changes every action, for its fallback: full braking in the lane)."""
    from car_ai_rl.safety.verdicts import FALLBACK_ACTION
    from car_ai_rl.sim.controls import DISCRETE_CONTROLS, N_DISCRETE_ACTIONS
    from car_ai_rl.sim.observation import VERDICT_START

    params = SimParams(n_lanes=n_lanes, traffic_density=density, exit_distance_min_m=60.0)
    n_envs = 12
    rng = np.random.default_rng(seed)
    state, obs = core.reset(params, core.seeds_from_ints(seed, n_envs))
    for _ in range(n_steps):
        c = heuristic_controls(state, params)
        c[:, 2] = np.where(rng.uniform(size=n_envs) < 0.2, rng.integers(-1, 2, n_envs), c[:, 2])
        _, r = core.step(state, supervisor.filter(state, c, params)[0], params)
        obs = r.obs
    verdicts = obs[:, VERDICT_START : VERDICT_START + N_DISCRETE_ACTIONS]
    expected = np.zeros((n_envs, N_DISCRETE_ACTIONS))
    for a in range(N_DISCRETE_ACTIONS):
        c = np.tile(DISCRETE_CONTROLS[a], (n_envs, 1))
        safe, _, _ = supervisor.filter(state, c, params)
        expected[:, a] = np.all(safe == c, axis=1)
    none_pass = expected.sum(axis=1) == 0
    expected[none_pass, FALLBACK_ACTION] = 1.0
    np.testing.assert_array_equal(verdicts, expected)
