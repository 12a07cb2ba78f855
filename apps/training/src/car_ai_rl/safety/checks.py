"""Safety predicates shared by the supervisor and the heuristic driver.

The front check is a responsibility-sensitive-safety rule: after holding the commanded
acceleration for one decision step and then braking at the ego's maximum, the ego still stops
behind a leader that brakes at the traffic's maximum from now on.
"""

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import LENGTH_M, SPEED_MPS, X_M
from car_ai_rl.sim.traffic import NO_VEHICLE, follower_in_lane, leader_in_lane

SAFE_MARGIN_M = 2.0
LANE_CHANGE_FRONT_HEADWAY_S = 0.5
REAR_REACTION_S = 0.6
REAR_ASSUMED_DECEL_MPS2 = 4.0
REAR_GUARD_DECEL_MPS2 = 4.0
REAR_HEADWAY_S = 0.6


@kernel
def travel_m(speed_mps, accel_mps2, dt_s):
    """Distance and end speed after dt_s at constant acceleration, stopping at zero speed."""
    v1 = speed_mps + accel_mps2 * dt_s
    if v1 < 0.0:
        return 0.5 * speed_mps * (speed_mps / -accel_mps2), 0.0
    return 0.5 * (speed_mps + v1) * dt_s, v1


@kernel
def gap_to(veh, b, rear, front):
    return (
        veh[X_M, b, front]
        - veh[X_M, b, rear]
        - 0.5 * (veh[LENGTH_M, b, front] + veh[LENGTH_M, b, rear])
    )


@kernel
def front_safe(veh, b, lead, ego_accel_mps2, p):
    """RSS check of the ego against ``lead`` under the commanded acceleration."""
    if lead == NO_VEHICLE:
        return True
    dt = p.dt_s
    gap = gap_to(veh, b, 0, lead)
    d_ego, v_ego = travel_m(veh[SPEED_MPS, b, 0], ego_accel_mps2, dt)
    d_lead, v_lead = travel_m(veh[SPEED_MPS, b, lead], -p.traffic_brake_max_mps2, dt)
    gap1 = gap + d_lead - d_ego
    if gap1 < SAFE_MARGIN_M:
        return False
    stop_gap = (
        gap1
        + v_lead * v_lead / (2.0 * p.traffic_brake_max_mps2)
        - v_ego * v_ego / (2.0 * p.ego_brake_max_mps2)
    )
    return stop_gap >= SAFE_MARGIN_M


@kernel
def rear_safe(veh, b, follow, p):
    """A follower that reacts late and brakes moderately still stops behind a braking ego."""
    if follow == NO_VEHICLE:
        return True
    gap = gap_to(veh, b, follow, 0)
    v_f = veh[SPEED_MPS, b, follow]
    v_e = veh[SPEED_MPS, b, 0]
    if gap < SAFE_MARGIN_M + REAR_HEADWAY_S * v_f:
        return False
    ego_stop = v_e * v_e / (2.0 * REAR_GUARD_DECEL_MPS2)
    follow_stop = v_f * REAR_REACTION_S + v_f * v_f / (2.0 * REAR_ASSUMED_DECEL_MPS2)
    return gap + ego_stop - follow_stop >= SAFE_MARGIN_M


@kernel
def lane_change_safe(veh, b, new_lane, ego_accel_mps2, p):
    """Gap check before the ego moves into ``new_lane`` (the ramp, lane n_lanes, is empty)."""
    if new_lane >= p.n_lanes:
        return True
    x = veh[X_M, b, 0]
    lead = leader_in_lane(veh, b, new_lane, x, 0)
    if lead != NO_VEHICLE:
        if (
            gap_to(veh, b, 0, lead)
            < SAFE_MARGIN_M + LANE_CHANGE_FRONT_HEADWAY_S * veh[SPEED_MPS, b, 0]
        ):
            return False
        if not front_safe(veh, b, lead, ego_accel_mps2, p):
            return False
    return rear_safe(veh, b, follower_in_lane(veh, b, new_lane, x, 0), p)


@kernel
def follower_close(veh, b, lane, p):
    """True when a vehicle behind the ego in ``lane`` would need to react to hard braking."""
    if lane < 0 or lane >= p.n_lanes:
        return False
    follow = follower_in_lane(veh, b, lane, veh[X_M, b, 0], 0)
    if follow == NO_VEHICLE:
        return False
    return gap_to(veh, b, follow, 0) < 2.0 * veh[SPEED_MPS, b, follow] + 10.0
