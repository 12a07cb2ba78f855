"""The heuristic driver: a mission-aware IDM and lane-choice driver for the ego, batched.

Longitudinal: a proportional speed controller toward the mission's target speed, capped by the
IDM interaction with the leader of every lane the ego occupies (or is about to enter).
Lateral: lane and exit missions move toward their lane as soon as the supervisor's gap check
allows (changing speed to open a gap when it does not); cruise missions overtake a slower
leader and keep right when that costs nothing. The driver sees the road through the same
neighbour search and safety predicates as the supervisor, and turns its wanted acceleration
into pedals with the simulator's own car model.
"""

import numpy as np

from car_ai_rl.safety.checks import lane_change_safe, near_slot
from car_ai_rl.safety.supervisor import supervisor_neighbours
from car_ai_rl.sim.controls import pedals_for_accel
from car_ai_rl.sim.idm import desired_gap_m, interaction_accel
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    BRAKE,
    CRUISE,
    EXIT,
    LANE,
    LANE_MISSION,
    LANE_REQUEST,
    LC_COOLDOWN_S,
    MISSION_KIND,
    MISSION_STATUS,
    MISSION_TARGET_LANE,
    PENDING,
    RING_LENGTH_M,
    SPEED_MPS,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    THROTTLE,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m
from car_ai_rl.sim.road import ramp_available

HEADWAY_S = 1.5
MIN_GAP_M = 4.0
ACCEL_MPS2 = 2.0
COMFORT_DECEL_MPS2 = 3.0
SPEED_GAIN_PER_S = 0.8
OVERTAKE_GAIN_MPS = 2.0
LOOKAHEAD_M = 80.0
GAP_SEEK_MPS = 3.0


@kernel
def follow_accel(veh, b, lead, desired_mps, ring_m, headway_s):
    """The ego's wanted acceleration behind ``lead``: a speed controller capped by IDM with
    time headway ``headway_s``."""
    v = veh[SPEED_MPS, b, 0]
    free = max(-COMFORT_DECEL_MPS2, min(ACCEL_MPS2, SPEED_GAIN_PER_S * (desired_mps - v)))
    if lead == NO_VEHICLE:
        return free
    s_star = desired_gap_m(
        v, v - veh[SPEED_MPS, b, lead], headway_s, ACCEL_MPS2, COMFORT_DECEL_MPS2, MIN_GAP_M
    )
    gap = bumper_gap_m(veh, b, 0, lead, ring_m)
    return min(free, ACCEL_MPS2 + interaction_accel(ACCEL_MPS2, s_star, gap))


@kernel
def lane_speed(veh, b, lead, desired_mps, ring_m):
    """The speed the ego could keep behind ``lead``: its speed if it is near, else desired."""
    if lead == NO_VEHICLE or bumper_gap_m(veh, b, 0, lead, ring_m) > LOOKAHEAD_M:
        return desired_mps
    return min(desired_mps, veh[SPEED_MPS, b, lead])


@kernel
def choose_lane(veh, env, b, accel, p, near):
    """The lane request for env b (-1, 0 or +1)."""
    lane = veh[LANE, b, 0]
    if veh[TARGET_LANE, b, 0] != lane or veh[LC_COOLDOWN_S, b, 0] > 0.0:
        return 0
    ring = env[RING_LENGTH_M, b]
    kind = int(env[MISSION_KIND, b])
    pending = env[MISSION_STATUS, b] == PENDING
    desired = env[TARGET_SPEED_MPS, b]
    if kind == EXIT and pending:
        to_ramp = ramp_available(veh, env, b, 0, p)
        if (to_ramp or lane < p.n_lanes - 1) and lane_change_safe(
            veh, b, lane + 1, accel, p, ring, near, lane
        ):
            return 1
        return 0
    if kind == LANE_MISSION:
        target = env[MISSION_TARGET_LANE, b]
        if target != lane:
            direction = 1 if target > lane else -1
            if lane_change_safe(veh, b, lane + direction, accel, p, ring, near, lane):
                return direction
        return 0
    # cruise: overtake a slower leader, keep right when it costs nothing
    here = lane_speed(veh, b, near[1], desired, ring)
    if lane > 0 and here < desired - OVERTAKE_GAIN_MPS:
        if lane_speed(veh, b, near[0], desired, ring) > here + OVERTAKE_GAIN_MPS:
            if lane_change_safe(veh, b, lane - 1, accel, p, ring, near, lane):
                return -1
    if lane < p.n_lanes - 1 and here < desired - OVERTAKE_GAIN_MPS:
        if lane_speed(veh, b, near[2], desired, ring) > here + OVERTAKE_GAIN_MPS:
            if lane_change_safe(veh, b, lane + 1, accel, p, ring, near, lane):
                return 1
    if lane < p.n_lanes - 1 and kind == CRUISE:
        right = lane_speed(veh, b, near[2], desired, ring)
        lead = near[2]
        clear = lead == NO_VEHICLE or bumper_gap_m(veh, b, 0, lead, ring) > LOOKAHEAD_M
        if (
            right >= here
            and clear
            and lane_change_safe(veh, b, lane + 1, accel, p, ring, near, lane)
        ):
            return 1
    return 0


@kernel
def wanted_direction(veh, env, b, p):
    """The side a pending lane or exit mission needs (-1, +1) or 0."""
    if env[MISSION_STATUS, b] != PENDING:
        return 0
    kind = int(env[MISSION_KIND, b])
    lane = veh[LANE, b, 0]
    if kind == EXIT:
        return 1 if lane < p.n_lanes - 1 else 0
    if kind == LANE_MISSION:
        target = env[MISSION_TARGET_LANE, b]
        if target > lane:
            return 1
        if target < lane:
            return -1
    return 0


@kernel
def gap_seeking_speed(veh, b, lead, follow, desired, p, ring_m):
    """A desired speed that opens a gap next to the nearest vehicle of the lane wanted."""
    if lead == NO_VEHICLE and follow == NO_VEHICLE:
        return desired
    nearest_is_lead = follow == NO_VEHICLE or (
        lead != NO_VEHICLE
        and bumper_gap_m(veh, b, 0, lead, ring_m) < bumper_gap_m(veh, b, follow, 0, ring_m)
    )
    if nearest_is_lead:
        return min(desired, max(veh[SPEED_MPS, b, lead] - GAP_SEEK_MPS, 5.0))
    return min(max(desired, veh[SPEED_MPS, b, follow] + GAP_SEEK_MPS), p.speed_max_mps)


@kernel
def heuristic_env(veh, env, b, out, p, near, speed_offset_mps, hold_lane, headway_s):
    """Write env b's controls (throttle, brake, lane request) into ``out[b]``. The planner
    varies the driver with ``speed_offset_mps`` (added to the mission's target speed, within
    [0, speed_max_mps]), ``hold_lane`` (no new lane change) and ``headway_s`` (the time gap
    it follows at; HEADWAY_S by default)."""
    supervisor_neighbours(veh, env, b, near)
    ring = env[RING_LENGTH_M, b]
    lane = veh[LANE, b, 0]
    target = veh[TARGET_LANE, b, 0]
    desired = min(max(env[TARGET_SPEED_MPS, b] + speed_offset_mps, 0.0), p.speed_max_mps)
    # a pending lane or exit mission whose gap is closed: change speed to open one
    direction = wanted_direction(veh, env, b, p)
    if direction != 0 and target == lane:
        probe = follow_accel(veh, b, near[1], desired, ring, headway_s)
        if not lane_change_safe(veh, b, lane + direction, probe, p, ring, near, lane):
            k = 1 + direction
            desired = gap_seeking_speed(veh, b, near[k], near[3 + k], desired, p, ring)
    accel = follow_accel(veh, b, near[1], desired, ring, headway_s)
    if target != lane:
        accel = min(
            accel, follow_accel(veh, b, near[near_slot(target, lane)], desired, ring, headway_s)
        )
    request = 0 if hold_lane else choose_lane(veh, env, b, accel, p, near)
    if request != 0:
        # once committed, also follow the leader of the lane being entered
        accel = min(accel, follow_accel(veh, b, near[1 + request], desired, ring, headway_s))
    throttle, brake = pedals_for_accel(accel, veh[SPEED_MPS, b, 0], p)
    out[b, THROTTLE] = throttle
    out[b, BRAKE] = brake
    out[b, LANE_REQUEST] = request


@kernel
def heuristic_batch(veh, env, pv, out, speed_offsets_mps, hold_lane, headways_s):
    p = pv[0]
    near = np.empty(6, dtype=np.int64)
    for b in range(veh.shape[1]):
        heuristic_env(veh, env, b, out, p, near, speed_offsets_mps[b], hold_lane[b], headways_s[b])
