"""The heuristic driver: a mission-aware IDM and lane-choice driver for the ego, batched.

Longitudinal: a proportional speed controller toward the mission's target speed, capped by IDM
toward the leader of every lane the ego occupies. Lateral: lane and exit missions move toward
their lane as soon as the gap check allows (slowing to find a gap when the exit is near);
cruise missions overtake a slower leader and keep right when that costs nothing.
"""

import math

from car_ai_rl.safety.checks import lane_change_safe
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.kernel_params import unpack_params
from car_ai_rl.sim.layout import (
    BRAKE,
    CRUISE,
    EXIT,
    LANE,
    LANE_MISSION,
    LANE_REQUEST,
    LENGTH_M,
    MISSION_KIND,
    MISSION_STATUS,
    MISSION_TARGET_LANE,
    PENDING,
    SPEED_MPS,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    THROTTLE,
    X_M,
)
from car_ai_rl.sim.observation import ramp_available
from car_ai_rl.sim.traffic import NO_VEHICLE, follower_in_lane, leader_in_lane

HEADWAY_S = 1.5
MIN_GAP_M = 4.0
ACCEL_MPS2 = 2.0
COMFORT_DECEL_MPS2 = 3.0
SPEED_GAIN_PER_S = 0.8
OVERTAKE_GAIN_MPS = 2.0
LOOKAHEAD_M = 80.0
GAP_SEEK_MPS = 3.0


@kernel
def follow_accel(veh, b, lead, desired_mps):
    """IDM acceleration of the ego behind ``lead`` toward ``desired_mps``."""
    v = veh[SPEED_MPS, b, 0]
    free = max(-COMFORT_DECEL_MPS2, min(ACCEL_MPS2, SPEED_GAIN_PER_S * (desired_mps - v)))
    if lead == NO_VEHICLE:
        return free
    gap = veh[X_M, b, lead] - veh[X_M, b, 0] - 0.5 * (veh[LENGTH_M, b, lead] + veh[LENGTH_M, b, 0])
    closing = v - veh[SPEED_MPS, b, lead]
    s_star = MIN_GAP_M + max(
        0.0, v * HEADWAY_S + v * closing / (2.0 * math.sqrt(ACCEL_MPS2 * COMFORT_DECEL_MPS2))
    )
    interaction = ACCEL_MPS2 * (1.0 - (s_star / max(gap, 0.1)) ** 2)
    return min(free, interaction)


@kernel
def lane_speed(veh, b, lane, desired_mps):
    """The speed the ego could keep in ``lane``: the leader's speed if it is near, else desired."""
    lead = leader_in_lane(veh, b, lane, veh[X_M, b, 0], 0)
    if lead == NO_VEHICLE or veh[X_M, b, lead] - veh[X_M, b, 0] > LOOKAHEAD_M:
        return desired_mps
    return min(desired_mps, veh[SPEED_MPS, b, lead])


@kernel
def choose_lane(veh, env, b, accel, p):
    """The lane request for env b (-1, 0 or +1)."""
    lane = veh[LANE, b, 0]
    if veh[TARGET_LANE, b, 0] != lane:
        return 0
    kind = int(env[MISSION_KIND, b])
    pending = env[MISSION_STATUS, b] == PENDING
    desired = env[TARGET_SPEED_MPS, b]
    if kind == EXIT and pending:
        if ramp_available(veh, env, b, p):
            return 1
        if lane < p.n_lanes - 1 and lane_change_safe(veh, b, lane + 1, accel, p):
            return 1
        return 0
    if kind == LANE_MISSION:
        target = env[MISSION_TARGET_LANE, b]
        if target != lane:
            direction = 1 if target > lane else -1
            if lane_change_safe(veh, b, lane + direction, accel, p):
                return direction
        return 0
    # cruise: overtake a slower leader, keep right when it costs nothing
    here = lane_speed(veh, b, lane, desired)
    if lane > 0 and here < desired - OVERTAKE_GAIN_MPS:
        if lane_speed(veh, b, lane - 1, desired) > here + OVERTAKE_GAIN_MPS:
            if lane_change_safe(veh, b, lane - 1, accel, p):
                return -1
    if lane < p.n_lanes - 1 and here < desired - OVERTAKE_GAIN_MPS:
        if lane_speed(veh, b, lane + 1, desired) > here + OVERTAKE_GAIN_MPS:
            if lane_change_safe(veh, b, lane + 1, accel, p):
                return 1
    if lane < p.n_lanes - 1 and kind == CRUISE:
        right = lane_speed(veh, b, lane + 1, desired)
        lead = leader_in_lane(veh, b, lane + 1, veh[X_M, b, 0], 0)
        clear = lead == NO_VEHICLE or veh[X_M, b, lead] - veh[X_M, b, 0] > LOOKAHEAD_M
        if right >= here and clear and lane_change_safe(veh, b, lane + 1, accel, p):
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
def gap_seeking_speed(veh, b, lane, desired, p):
    """A desired speed that opens a gap next to the nearest vehicle in ``lane``."""
    x = veh[X_M, b, 0]
    lead = leader_in_lane(veh, b, lane, x, 0)
    follow = follower_in_lane(veh, b, lane, x, 0)
    nearest = lead
    if follow != NO_VEHICLE and (
        lead == NO_VEHICLE or x - veh[X_M, b, follow] < veh[X_M, b, lead] - x
    ):
        nearest = follow
    if nearest == NO_VEHICLE:
        return desired
    if nearest == lead:
        return min(desired, max(veh[SPEED_MPS, b, lead] - GAP_SEEK_MPS, 5.0))
    return min(max(desired, veh[SPEED_MPS, b, follow] + GAP_SEEK_MPS), p.speed_max_mps)


@kernel
def heuristic_env(veh, env, b, out, p):
    """Write env b's controls (throttle, brake, lane request) into ``out[b]``."""
    lane = veh[LANE, b, 0]
    target = veh[TARGET_LANE, b, 0]
    x = veh[X_M, b, 0]
    desired = env[TARGET_SPEED_MPS, b]
    # a pending lane or exit mission whose gap is closed: change speed to open one
    direction = wanted_direction(veh, env, b, p)
    if direction != 0 and target == lane:
        probe = follow_accel(veh, b, leader_in_lane(veh, b, lane, x, 0), desired)
        if not lane_change_safe(veh, b, lane + direction, probe, p):
            desired = gap_seeking_speed(veh, b, lane + direction, desired, p)
    accel = follow_accel(veh, b, leader_in_lane(veh, b, lane, x, 0), desired)
    if target != lane and target < p.n_lanes:
        accel = min(accel, follow_accel(veh, b, leader_in_lane(veh, b, target, x, 0), desired))
    request = choose_lane(veh, env, b, accel, p)
    if request != 0 and lane + request < p.n_lanes:
        # once committed, also follow the leader of the lane being entered
        new_lead = leader_in_lane(veh, b, lane + request, x, 0)
        accel = min(accel, follow_accel(veh, b, new_lead, desired))
    if accel >= 0.0:
        out[b, THROTTLE] = min(accel / p.ego_accel_max_mps2, 1.0)
        out[b, BRAKE] = 0.0
    else:
        out[b, THROTTLE] = 0.0
        out[b, BRAKE] = min(-accel / p.ego_brake_max_mps2, 1.0)
    out[b, LANE_REQUEST] = request


@kernel
def heuristic_batch(veh, env, pv, out):
    p = unpack_params(pv)
    for b in range(veh.shape[1]):
        heuristic_env(veh, env, b, out, p)
