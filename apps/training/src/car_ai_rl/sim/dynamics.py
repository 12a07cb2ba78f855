"""Integration of one substep: longitudinal motion, lane-change lateral motion, collisions."""

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    ACCEL_MPS2,
    ACTIVE,
    LANE,
    LC_COOLDOWN_S,
    LC_PROGRESS,
    LENGTH_M,
    SPEED_MPS,
    TARGET_LANE,
    WIDTH_M,
    X_M,
    Y_M,
)
from car_ai_rl.sim.traffic import NO_VEHICLE


@kernel
def smoothstep(u):
    return u * u * (3.0 - 2.0 * u)


@kernel
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
def advance_lateral(veh, b, j, dt_s, p):
    """Move a lane change along; on completion the vehicle belongs to its target lane."""
    lane = veh[LANE, b, j]
    target = veh[TARGET_LANE, b, j]
    if veh[LC_COOLDOWN_S, b, j] > 0.0:
        veh[LC_COOLDOWN_S, b, j] = max(0.0, veh[LC_COOLDOWN_S, b, j] - dt_s)
    if target == lane:
        return
    progress = veh[LC_PROGRESS, b, j] + dt_s / p.lane_change_duration_s
    if progress >= 1.0 - 1e-9:
        veh[LANE, b, j] = target
        veh[LC_PROGRESS, b, j] = 0.0
        veh[Y_M, b, j] = target * p.lane_width_m
        veh[LC_COOLDOWN_S, b, j] = p.lane_change_cooldown_s
    else:
        veh[LC_PROGRESS, b, j] = progress
        veh[Y_M, b, j] = (lane + (target - lane) * smoothstep(progress)) * p.lane_width_m


@kernel
def ego_collision(veh, b):
    """Index of a vehicle whose footprint overlaps the ego's, or NO_VEHICLE."""
    x = veh[X_M, b, 0]
    y = veh[Y_M, b, 0]
    half_len = 0.5 * veh[LENGTH_M, b, 0]
    half_wid = 0.5 * veh[WIDTH_M, b, 0]
    n = veh.shape[2]
    for j in range(1, n):
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
