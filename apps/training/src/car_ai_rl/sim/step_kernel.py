"""The compiled decision step of one env, and the batched step/reset loops."""

import math
from typing import NamedTuple

import numpy as np

from car_ai_rl.sim.dynamics import (
    advance_lateral,
    advance_longitudinal,
    ego_at_fault,
    ego_collision,
)
from car_ai_rl.sim.jit import kernel, parallel_kernel, prange
from car_ai_rl.sim.kernel_params import unpack_params
from car_ai_rl.sim.layout import (
    ACTIVE,
    BRAKE,
    EPISODE_LANE_CHANGES,
    EV_ACCEL_MPS2,
    EV_AT_FAULT,
    EV_COLLISION,
    EV_DISTANCE_M,
    EV_EXITED,
    EV_LANE_CHANGE_STARTED,
    EV_MISSION_CHANGED,
    EV_MISSION_FAILURE,
    EV_MISSION_KIND,
    EV_MISSION_SUCCESS,
    EV_SPEED_MPS,
    EV_TARGET_SPEED_MPS,
    EV_TERMINATED,
    EV_TRUNCATED,
    EXIT,
    EXITED,
    FAILED,
    LANE,
    LANE_MISSION,
    LANE_REQUEST,
    LC_PROGRESS,
    LENGTH_M,
    MISSION_KIND,
    MISSION_STATUS,
    MISSION_TARGET_LANE,
    PENDING,
    PREV_ACCEL_MPS2,
    SPEED_MPS,
    STEP,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    THROTTLE,
    X_M,
    Y_M,
)
from car_ai_rl.sim.missions import (
    fail_pending_at_time_limit,
    maybe_change_mission,
    update_mission,
)
from car_ai_rl.sim.observation import ego_lane_ref, observe, ramp_available
from car_ai_rl.sim.reward import lane_potential, write_terms
from car_ai_rl.sim.rng import next_episode_seed
from car_ai_rl.sim.scenario import recycle_traffic, reset_env
from car_ai_rl.sim.traffic import (
    NO_VEHICLE,
    build_leader_table,
    leader_in_lane,
    sort_by_position,
    traffic_accels,
    traffic_lane_decisions,
    traffic_model,
)


@kernel
def shaping_target_lane(env, b):
    """Target lane of the shaping potential, or -1 when the mission has none."""
    kind = int(env[MISSION_KIND, b])
    status = env[MISSION_STATUS, b]
    if kind == LANE_MISSION and status != FAILED:
        return env[MISSION_TARGET_LANE, b]
    if kind == EXIT and status == PENDING:
        return env[MISSION_TARGET_LANE, b]
    return -1.0


@kernel
def start_ego_lane_change(veh, env, b, request, p):
    """A lane request starts a change only when none is under way and the lane exists."""
    if request == 0:
        return False
    lane = veh[LANE, b, 0]
    if veh[TARGET_LANE, b, 0] != lane:
        return False
    new_lane = lane + request
    if 0 <= new_lane <= p.n_lanes - 1 or (new_lane == p.n_lanes and ramp_available(veh, env, b, p)):
        veh[TARGET_LANE, b, 0] = new_lane
        veh[LC_PROGRESS, b, 0] = 0.0
        env[EPISODE_LANE_CHANGES, b] += 1.0
        return True
    return False


@kernel
def ego_headway_s(veh, b, p, near):
    """Time headway to the vehicle ahead in the ego's lane (inf when nobody is ahead).
    ``near`` holds the ego's neighbours as ``observe`` left them: reused unless the ego's
    centre is on the ramp, which the observation counts as the rightmost lane."""
    lane = ego_lane_ref(veh, b, p)
    if lane <= p.n_lanes - 1:
        lead = near[1]
    else:
        lead = leader_in_lane(veh, b, lane, veh[X_M, b, 0], 0)
    if lead == NO_VEHICLE:
        return math.inf
    gap = veh[X_M, b, lead] - veh[X_M, b, 0] - 0.5 * (veh[LENGTH_M, b, lead] + veh[LENGTH_M, b, 0])
    return max(gap, 0.0) / max(veh[SPEED_MPS, b, 0], 1.0)


@kernel
def step_env(veh, env, seeds, b, throttle, brake, request, p, scratch, obs_row, terms_row, ev_row):
    """Advance env b by one decision step. Returns the reward."""
    n = veh.shape[2]
    dt = p.dt_s
    h = dt / p.substeps
    x_start = veh[X_M, b, 0]
    v_start = veh[SPEED_MPS, b, 0]
    target_before = shaping_target_lane(env, b)
    potential_before = lane_potential(veh[Y_M, b, 0] / p.lane_width_m, target_before)

    acc, order, lead_tab = scratch.acc, scratch.order, scratch.lead
    for j in range(n):
        order[j] = j
    lc_started = start_ego_lane_change(veh, env, b, request, p)
    model = traffic_model(p)
    traffic_lane_decisions(veh, b, int(env[STEP, b]), p, model, scratch.near)
    ego_accel = throttle * p.ego_accel_max_mps2 - brake * p.ego_brake_max_mps2

    collided = False
    at_fault = False
    exited = False
    for _ in range(p.substeps):
        acc[0] = ego_accel
        sort_by_position(veh, b, order)
        build_leader_table(veh, b, p.n_lanes, order, lead_tab)
        traffic_accels(veh, b, model, lead_tab, acc)
        for j in range(n):
            if veh[ACTIVE, b, j] > 0.5:
                advance_longitudinal(veh, b, j, acc[j], h, p.speed_max_mps)
                advance_lateral(veh, b, j, h, p)
        other = ego_collision(veh, b)
        if other != NO_VEHICLE:
            collided = True
            at_fault = ego_at_fault(veh, b, other)
            break
        if veh[LANE, b, 0] == p.n_lanes:
            exited = True
            env[EXITED, b] = 1.0
            break

    env[STEP, b] += 1.0
    if not (collided or exited):
        recycle_traffic(veh, env, seeds, b, p)

    succeeded, failed = update_mission(veh, env, b, exited, p)
    terminated = collided or exited
    truncated = (not terminated) and env[STEP, b] >= p.max_steps
    if truncated and fail_pending_at_time_limit(env, b):
        failed = True
    potential_after = lane_potential(veh[Y_M, b, 0] / p.lane_width_m, target_before)
    mission_changed = False
    if not (terminated or truncated):
        mission_changed = maybe_change_mission(veh, env, seeds, b, p)

    accel = (veh[SPEED_MPS, b, 0] - v_start) / dt
    jerk = (accel - env[PREV_ACCEL_MPS2, b]) / dt
    env[PREV_ACCEL_MPS2, b] = accel
    observe(veh, env, b, p, obs_row, scratch.near)
    reward = write_terms(
        terms_row,
        veh[SPEED_MPS, b, 0],
        env[TARGET_SPEED_MPS, b],
        potential_before,
        potential_after,
        succeeded,
        failed,
        collided,
        lc_started,
        jerk,
        ego_headway_s(veh, b, p, scratch.near),
        p,
    )
    ev_row[EV_COLLISION] = 1.0 if collided else 0.0
    ev_row[EV_AT_FAULT] = 1.0 if at_fault else 0.0
    ev_row[EV_MISSION_SUCCESS] = 1.0 if succeeded else 0.0
    ev_row[EV_MISSION_FAILURE] = 1.0 if failed else 0.0
    ev_row[EV_TERMINATED] = 1.0 if terminated else 0.0
    ev_row[EV_TRUNCATED] = 1.0 if truncated else 0.0
    ev_row[EV_EXITED] = 1.0 if exited else 0.0
    ev_row[EV_LANE_CHANGE_STARTED] = 1.0 if lc_started else 0.0
    ev_row[EV_SPEED_MPS] = veh[SPEED_MPS, b, 0]
    ev_row[EV_MISSION_KIND] = env[MISSION_KIND, b]
    ev_row[EV_MISSION_CHANGED] = 1.0 if mission_changed else 0.0
    ev_row[EV_ACCEL_MPS2] = accel
    ev_row[EV_DISTANCE_M] = veh[X_M, b, 0] - x_start
    ev_row[EV_TARGET_SPEED_MPS] = env[TARGET_SPEED_MPS, b]
    return reward


@kernel
def decode_request(value):
    if value > 0.5:
        return 1
    if value < -0.5:
        return -1
    return 0


class Scratch(NamedTuple):
    """Per-thread work arrays of the step kernel."""

    acc: np.ndarray
    order: np.ndarray
    lead: np.ndarray
    near: np.ndarray  # one vehicle's neighbours, see traffic.neighbors


@kernel
def make_scratch(n_vehicles, n_lanes):
    return Scratch(
        np.empty(n_vehicles),
        np.empty(n_vehicles, dtype=np.int64),
        np.empty((n_vehicles, n_lanes + 1), dtype=np.int64),
        np.empty(6, dtype=np.int64),
    )


@kernel
def step_one(veh, env, seeds, controls, p, obs, final_obs, rewards, terms, events, b, scratch):
    """Step env b; a finished env starts a fresh episode from the next seed of its slot."""
    throttle = min(max(controls[b, THROTTLE], 0.0), 1.0)
    brake = min(max(controls[b, BRAKE], 0.0), 1.0)
    request = decode_request(controls[b, LANE_REQUEST])
    rewards[b] = step_env(
        veh, env, seeds, b, throttle, brake, request, p, scratch, obs[b], terms[b], events[b]
    )
    if events[b, EV_TERMINATED] > 0.5 or events[b, EV_TRUNCATED] > 0.5:
        final_obs[b, :] = obs[b, :]
        seeds[b] = next_episode_seed(seeds[b])
        reset_env(veh, env, seeds, b, p)
        observe(veh, env, b, p, obs[b], scratch.near)


@kernel
def step_range(veh, env, seeds, controls, p, obs, final_obs, rewards, terms, events, lo, hi):
    scratch = make_scratch(veh.shape[2], p.n_lanes)
    for b in range(lo, hi):
        step_one(veh, env, seeds, controls, p, obs, final_obs, rewards, terms, events, b, scratch)


@kernel
def step_batch(veh, env, seeds, controls, pv, obs, final_obs, rewards, terms, events):
    """Step every env, one after the other (``pv``: params in vector form)."""
    p = unpack_params(pv)
    step_range(
        veh, env, seeds, controls, p, obs, final_obs, rewards, terms, events, 0, veh.shape[1]
    )


@parallel_kernel
def step_batch_parallel(veh, env, seeds, controls, pv, obs, final_obs, rewards, terms, events):
    """Step every env in chunks spread over the CPU cores (envs are independent: identical
    results to ``step_batch``)."""
    n_envs = veh.shape[1]
    n_chunks = 8
    size = (n_envs + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * size
        hi = min(n_envs, lo + size)
        if lo < hi:
            p = unpack_params(pv)  # per chunk: a parfor body cannot capture a NamedTuple
            step_range(veh, env, seeds, controls, p, obs, final_obs, rewards, terms, events, lo, hi)


@kernel
def reset_batch(veh, env, seeds, mask, pv, obs):
    """Reset the envs where ``mask`` is true from their seeds, writing their observations."""
    p = unpack_params(pv)
    near = np.empty(6, dtype=np.int64)
    for b in range(veh.shape[1]):
        if mask[b]:
            reset_env(veh, env, seeds, b, p)
            observe(veh, env, b, p, obs[b], near)
