"""Safety predicates shared by the supervisor, its verdicts in the observation and the
heuristic driver. They take the ego's neighbours as ``sim.neighbours.neighbors`` finds them
(``near[k]`` ahead and ``near[3 + k]`` behind in lane ``lane_ref - 1 + k``) and measure gaps
with the simulator's own ``bumper_gap_m``.

The front check is a responsibility-sensitive-safety rule: after holding the commanded
acceleration for one decision step and then braking at the ego's maximum, the ego still stops
behind a leader that brakes at the traffic's maximum from now on.
"""

from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import SPEED_MPS
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m

SAFE_MARGIN_M = 2.0
LANE_CHANGE_FRONT_HEADWAY_S = 0.5
REAR_REACTION_S = 0.6
REAR_ASSUMED_DECEL_MPS2 = 4.0
REAR_GUARD_DECEL_MPS2 = 4.0
REAR_HEADWAY_S = 0.6
FOLLOWER_CLOSE_HEADWAY_S = 2.0
FOLLOWER_CLOSE_MARGIN_M = 10.0


@kernel
def travel_m(speed_mps, accel_mps2, dt_s):
    """Distance and end speed after dt_s at constant acceleration, stopping at zero speed."""
    v1 = speed_mps + accel_mps2 * dt_s
    if v1 < 0.0:
        return 0.5 * speed_mps * (speed_mps / -accel_mps2), 0.0
    return 0.5 * (speed_mps + v1) * dt_s, v1


@kernel
def near_slot(lane, lane_ref):
    """Index k of ``lane`` in a neighbour set around ``lane_ref`` (-1 when outside it)."""
    k = int(lane - lane_ref) + 1
    if k < 0 or k > 2:
        return -1
    return k


@inline_kernel
def front_safe(veh, b, lead, ego_accel_mps2, p, ring_m):
    """RSS check of the ego against ``lead`` under the commanded acceleration."""
    if lead == NO_VEHICLE:
        return True
    dt = p.dt_s
    gap = bumper_gap_m(veh, b, 0, lead, ring_m)
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


@inline_kernel
def rear_safe(veh, b, follow, ring_m):
    """A follower that reacts late and brakes moderately still stops behind a braking ego."""
    if follow == NO_VEHICLE:
        return True
    gap = bumper_gap_m(veh, b, follow, 0, ring_m)
    v_f = veh[SPEED_MPS, b, follow]
    v_e = veh[SPEED_MPS, b, 0]
    if gap < SAFE_MARGIN_M + REAR_HEADWAY_S * v_f:
        return False
    ego_stop = v_e * v_e / (2.0 * REAR_GUARD_DECEL_MPS2)
    follow_stop = v_f * REAR_REACTION_S + v_f * v_f / (2.0 * REAR_ASSUMED_DECEL_MPS2)
    return gap + ego_stop - follow_stop >= SAFE_MARGIN_M


@inline_kernel
def lane_change_safe(veh, b, new_lane, ego_accel_mps2, p, ring_m, near, lane_ref):
    """Gap check before the ego moves into ``new_lane`` (the ramp is lane n_lanes)."""
    k = near_slot(new_lane, lane_ref)
    if k < 0:
        return False
    lead = near[k]
    if lead != NO_VEHICLE:
        if (
            bumper_gap_m(veh, b, 0, lead, ring_m)
            < SAFE_MARGIN_M + LANE_CHANGE_FRONT_HEADWAY_S * veh[SPEED_MPS, b, 0]
        ):
            return False
        if not front_safe(veh, b, lead, ego_accel_mps2, p, ring_m):
            return False
    return rear_safe(veh, b, near[3 + k], ring_m)


@inline_kernel
def follower_close(veh, b, lane, ring_m, near, lane_ref):
    """True when a vehicle behind the ego in ``lane`` would need to react to hard braking."""
    k = near_slot(lane, lane_ref)
    if k < 0:
        return False
    follow = near[3 + k]
    if follow == NO_VEHICLE:
        return False
    v_f = veh[SPEED_MPS, b, follow]
    return (
        bumper_gap_m(veh, b, follow, 0, ring_m)
        < FOLLOWER_CLOSE_HEADWAY_S * v_f + FOLLOWER_CLOSE_MARGIN_M
    )
