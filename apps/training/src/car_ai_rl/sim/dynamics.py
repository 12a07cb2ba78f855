"""Integration of one substep: longitudinal motion, lane-change lateral motion, collisions.

Lateral motion during a lane change is kinematic and speed-bound, as a car's is: the lateral
speed is at most ``v * tan(lane_change_heading_max_rad)`` (so a stopped car cannot move
sideways and a slow one changes lanes slowly) and at most ``lateral_speed_max_mps``, and the
lateral acceleration is bounded by ``lateral_accel_max_mps2`` (comfort). The vehicle speeds up
sideways, then slows so as to arrive centred in the target lane. A lane change, once started,
always completes: it cannot be aborted, so the lane the vehicle is entering is committed from
the start (both lanes count it as occupied, and the supervisor checks the gap before it starts).
After it, the vehicle cools down before it may start another.
"""

import math

from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import (
    ACCEL_MPS2,
    ACTIVE,
    LANE,
    LAT_SPEED_MPS,
    LC_COOLDOWN_S,
    LENGTH_M,
    SPEED_MPS,
    TARGET_LANE,
    WIDTH_M,
    X_M,
    Y_M,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE

ARRIVAL_TOLERANCE_M = 1e-6  # closer than this to the lane centre counts as arrived


@inline_kernel
def advance_longitudinal(veh, b, j, accel_mps2, dt_s, speed_max_mps):
    """Exact constant-acceleration motion over dt_s; a braking vehicle stops, never reverses."""
    v0 = veh[SPEED_MPS, b, j]
    v1 = v0 + accel_mps2 * dt_s
    if v1 <= 0.0:
        if accel_mps2 < 0.0:
            veh[X_M, b, j] += 0.5 * v0 * (v0 / -accel_mps2)
        v1 = 0.0
    elif v1 > speed_max_mps:
        # accelerate up to the cap, then cruise at it
        t_cap = (speed_max_mps - v0) / accel_mps2 if accel_mps2 > 0.0 else 0.0
        t_cap = min(max(t_cap, 0.0), dt_s)
        veh[X_M, b, j] += 0.5 * (v0 + speed_max_mps) * t_cap + speed_max_mps * (dt_s - t_cap)
        v1 = speed_max_mps
    else:
        veh[X_M, b, j] += 0.5 * (v0 + v1) * dt_s
    veh[SPEED_MPS, b, j] = v1
    veh[ACCEL_MPS2, b, j] = (v1 - v0) / dt_s


@kernel
def lateral_speed_limit_mps(speed_mps, p):
    """The fastest a car at ``speed_mps`` may move sideways."""
    return min(p.lateral_speed_max_mps, speed_mps * p.lane_change_heading_slope)


@inline_kernel
def advance_lateral(veh, b, j, dt_s, p, cooldown_after_s):
    """Move a lane change along over dt_s; on arrival the vehicle belongs to its target lane
    and cools down for ``cooldown_after_s``."""
    if veh[LC_COOLDOWN_S, b, j] > 0.0:
        left = veh[LC_COOLDOWN_S, b, j] - dt_s
        veh[LC_COOLDOWN_S, b, j] = left if left > 1e-9 else 0.0  # no float residue
    target = veh[TARGET_LANE, b, j]
    if target == veh[LANE, b, j]:
        return
    remaining = target * p.lane_width_m - veh[Y_M, b, j]
    direction = 1.0 if remaining > 0.0 else -1.0
    d = abs(remaining)
    limit = lateral_speed_limit_mps(veh[SPEED_MPS, b, j], p)
    a = p.lateral_accel_max_mps2
    u0 = veh[LAT_SPEED_MPS, b, j] * direction  # sideways speed toward the target
    # the fastest end speed from which braking at a (in steps of dt_s) still stops in the
    # lane centre: 0.5 (u0 + u1) dt + u1^2 / (2 a) <= d
    room = d - 0.5 * dt_s * u0
    u_stop = 0.0
    if room > 0.0:
        u_stop = -0.5 * a * dt_s + math.sqrt(0.25 * a * a * dt_s * dt_s + 2.0 * a * room)
    u1 = min(max(min(limit, u_stop), u0 - a * dt_s), u0 + a * dt_s)
    u1 = min(max(u1, -limit), limit)
    dy = 0.5 * (u0 + u1) * dt_s
    if dy >= d - ARRIVAL_TOLERANCE_M:
        veh[Y_M, b, j] = target * p.lane_width_m
        veh[LAT_SPEED_MPS, b, j] = 0.0
        veh[LANE, b, j] = target
        veh[LC_COOLDOWN_S, b, j] = cooldown_after_s
    else:
        veh[Y_M, b, j] += direction * dy
        veh[LAT_SPEED_MPS, b, j] = direction * u1


@kernel
def ego_collision(veh, b):
    """Index of a vehicle whose footprint overlaps the ego's, or NO_VEHICLE."""
    x = veh[X_M, b, 0]
    y = veh[Y_M, b, 0]
    half_len = 0.5 * veh[LENGTH_M, b, 0]
    half_wid = 0.5 * veh[WIDTH_M, b, 0]
    for j in range(1, veh.shape[2]):
        if veh[ACTIVE, b, j] < 0.5:
            continue
        if (
            abs(veh[X_M, b, j] - x) < half_len + 0.5 * veh[LENGTH_M, b, j]
            and abs(veh[Y_M, b, j] - y) < half_wid + 0.5 * veh[WIDTH_M, b, j]
        ):
            return j
    return NO_VEHICLE


@kernel
def ego_at_fault(veh, b, other):
    """The ego is not at fault when rear-ended or cut into while it holds its lane."""
    ego_holding = veh[TARGET_LANE, b, 0] == veh[LANE, b, 0]
    if not ego_holding:
        return True
    other_behind = veh[X_M, b, other] < veh[X_M, b, 0]
    other_changing = veh[TARGET_LANE, b, other] != veh[LANE, b, other]
    return not (other_behind or other_changing)
