"""The compiled decision step of one env, and the batched step/reset loops."""

import math
from typing import NamedTuple

import numpy as np

from car_ai_rl.sim.car_following import traffic_accels
from car_ai_rl.sim.controls import decode_request, pedal_accel_mps2
from car_ai_rl.sim.dynamics import (
    advance_lateral,
    advance_longitudinal,
    ego_at_fault,
    ego_collision,
)
from car_ai_rl.sim.jit import kernel, parallel_kernel, prange
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
    LC_COOLDOWN_S,
    MISSION_KIND,
    MISSION_STATUS,
    MISSION_TARGET_LANE,
    PENDING,
    PREV_ACCEL_MPS2,
    RING_LENGTH_M,
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
from car_ai_rl.sim.mobil import traffic_lane_decisions
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m, rank_of, sort_by_position
from car_ai_rl.sim.observation import observe
from car_ai_rl.sim.reward import lane_potential, write_terms
from car_ai_rl.sim.rng import next_episode_seed
from car_ai_rl.sim.road import ramp_available
from car_ai_rl.sim.scenario import reset_env, update_traffic_boundary


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
    """A lane request starts a change only when none is under way, the ego has cooled down
    from the last one, and the lane exists (the ramp only inside the exit zone)."""
    if request == 0:
        return False
    lane = veh[LANE, b, 0]
    if veh[TARGET_LANE, b, 0] != lane or veh[LC_COOLDOWN_S, b, 0] > 0.0:
        return False
    new_lane = lane + request
    if 0 <= new_lane <= p.n_lanes - 1 or (
        new_lane == p.n_lanes and ramp_available(veh, env, b, 0, p)
    ):
        veh[TARGET_LANE, b, 0] = new_lane
        env[EPISODE_LANE_CHANGES, b] += 1.0
        return True
    return False


@kernel
def ego_headway_s(veh, env, b, near):
    """Time headway to the vehicle ahead of the ego's centre (inf when nobody is ahead);
    ``near`` as ``observe`` leaves it."""
    lead = near[1]
    if lead == NO_VEHICLE:
        return math.inf
    gap = bumper_gap_m(veh, b, 0, lead, env[RING_LENGTH_M, b])
    return max(gap, 0.0) / max(veh[SPEED_MPS, b, 0], 1.0)


@kernel
def step_env(
    veh, env, seeds, order, b, throttle, brake, request, p, scratch, obs_row, terms_row, ev_row
):
    """Advance env b by one decision step. Returns the reward. ``order``: env b's vehicle
    indices sorted by position at the last step (a cache: any permutation gives the same
    result, a nearly sorted one just sorts faster)."""
    n = veh.shape[2]
    dt = p.dt_s
    h = dt / p.substeps
    ring = env[RING_LENGTH_M, b]
    x_start = veh[X_M, b, 0]
    v_start = veh[SPEED_MPS, b, 0]
    target_before = shaping_target_lane(env, b)
    potential_before = lane_potential(veh[Y_M, b, 0] / p.lane_width_m, target_before)

    acc, rank = scratch.acc, scratch.rank
    lc_started = start_ego_lane_change(veh, env, b, request, p)
    sort_by_position(veh, b, order)
    rank_of(order, rank)
    traffic_lane_decisions(veh, env, b, int(env[STEP, b]), p, ring, order, rank)

    collided = False
    at_fault = False
    exited = False
    for s in range(p.substeps):
        if s > 0:  # the first substep uses the order sorted for the lane decisions
            sort_by_position(veh, b, order)
            rank_of(order, rank)
        acc[0] = pedal_accel_mps2(throttle, brake, veh[SPEED_MPS, b, 0], p)
        traffic_accels(veh, env, b, p, ring, order, rank, acc)
        for j in range(n):
            if veh[ACTIVE, b, j] > 0.5:
                advance_longitudinal(veh, b, j, acc[j], h, p.speed_max_mps)
                cooldown = p.ego_lane_change_cooldown_s if j == 0 else p.lane_change_cooldown_s
                advance_lateral(veh, b, j, h, p, cooldown)
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
        update_traffic_boundary(veh, env, seeds, b, p)

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
        ego_headway_s(veh, env, b, scratch.near),
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


class Scratch(NamedTuple):
    """Per-thread work arrays of the step kernel."""

    acc: np.ndarray
    rank: np.ndarray  # each vehicle's place in the sorted order
    near: np.ndarray  # one vehicle's neighbours, see neighbours.neighbors


@kernel
def make_scratch(n_vehicles, n_lanes):
    return Scratch(
        np.empty(n_vehicles),
        np.empty(n_vehicles, dtype=np.int64),
        np.empty(6, dtype=np.int64),
    )


@kernel
def step_one(
    veh, env, seeds, order, controls, p, obs, final_obs, rewards, terms, events, b, scratch
):
    """Step env b; a finished env starts a fresh episode from the next seed of its slot."""
    request = decode_request(controls[b, LANE_REQUEST])
    rewards[b] = step_env(
        veh,
        env,
        seeds,
        order[b],
        b,
        controls[b, THROTTLE],
        controls[b, BRAKE],
        request,
        p,
        scratch,
        obs[b],
        terms[b],
        events[b],
    )
    if events[b, EV_TERMINATED] > 0.5 or events[b, EV_TRUNCATED] > 0.5:
        final_obs[b, :] = obs[b, :]
        seeds[b] = next_episode_seed(seeds[b])
        reset_env(veh, env, seeds, b, p)
        observe(veh, env, b, p, obs[b], scratch.near)


@kernel
def step_range(veh, env, seeds, order, controls, p, obs, final_obs, rewards, terms, events, lo, hi):
    scratch = make_scratch(veh.shape[2], p.n_lanes)
    for b in range(lo, hi):
        step_one(
            veh, env, seeds, order, controls, p, obs, final_obs, rewards, terms, events, b, scratch
        )


@kernel
def step_batch(veh, env, seeds, order, controls, pv, obs, final_obs, rewards, terms, events):
    """Step every env, one after the other (``pv``: the params record array)."""
    n_envs = veh.shape[1]
    step_range(
        veh, env, seeds, order, controls, pv[0], obs, final_obs, rewards, terms, events, 0, n_envs
    )


@parallel_kernel
def step_batch_parallel(
    veh, env, seeds, order, controls, pv, obs, final_obs, rewards, terms, events
):
    """Step every env in chunks spread over the CPU cores (envs are independent: identical
    results to ``step_batch``)."""
    n_envs = veh.shape[1]
    n_chunks = 8
    size = (n_envs + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * size
        hi = min(n_envs, lo + size)
        if lo < hi:
            p = pv[0]
            step_range(
                veh, env, seeds, order, controls, p, obs, final_obs, rewards, terms, events, lo, hi
            )


@kernel
def reset_batch(veh, env, seeds, mask, pv, obs):
    """Reset the envs where ``mask`` is true from their seeds, writing their observations."""
    p = pv[0]
    near = np.empty(6, dtype=np.int64)
    for b in range(veh.shape[1]):
        if mask[b]:
            reset_env(veh, env, seeds, b, p)
            observe(veh, env, b, p, obs[b], near)
