"""Traffic physics kernels: lane occupancy, neighbour search, IDM car-following and MOBIL.

All functions act on one env ``b`` of the struct-of-arrays buffer ``veh`` (see ``layout``).
"""

import math

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    ACTIVE,
    DESIRED_SPEED_MPS,
    HEADWAY_S,
    LANE,
    LC_COOLDOWN_S,
    LC_PROGRESS,
    LENGTH_M,
    POLITENESS,
    SPEED_MPS,
    TARGET_LANE,
    X_M,
)

NO_VEHICLE = -1
IDM_DELTA = 4.0


@kernel
def occupies(veh, b, j, lane):
    """True when vehicle j takes part in traffic and is in, or moving into, ``lane``."""
    return veh[ACTIVE, b, j] > 0.5 and (veh[LANE, b, j] == lane or veh[TARGET_LANE, b, j] == lane)


@kernel
def leader_in_lane(veh, b, lane, x_m, skip):
    """Index of the nearest vehicle ahead of ``x_m`` occupying ``lane`` (ignoring ``skip``)."""
    best = NO_VEHICLE
    best_x = math.inf
    n = veh.shape[2]
    for j in range(n):
        if j == skip or not occupies(veh, b, j, lane):
            continue
        xj = veh[X_M, b, j]
        if (xj > x_m or (xj == x_m and j > skip)) and xj < best_x:
            best = j
            best_x = xj
    return best


@kernel
def follower_in_lane(veh, b, lane, x_m, skip):
    """Index of the nearest vehicle behind ``x_m`` occupying ``lane`` (ignoring ``skip``)."""
    best = NO_VEHICLE
    best_x = -math.inf
    n = veh.shape[2]
    for j in range(n):
        if j == skip or not occupies(veh, b, j, lane):
            continue
        xj = veh[X_M, b, j]
        if (xj < x_m or (xj == x_m and j < skip)) and xj > best_x:
            best = j
            best_x = xj
    return best


@kernel
def bumper_gap_m(veh, b, rear, front):
    """Free distance between the rear vehicle's front bumper and the front vehicle's rear bumper."""
    return (
        veh[X_M, b, front]
        - veh[X_M, b, rear]
        - 0.5 * (veh[LENGTH_M, b, front] + veh[LENGTH_M, b, rear])
    )


@kernel
def idm_accel(speed_mps, desired_mps, gap_m, closing_mps, headway_s, p):
    """Intelligent Driver Model acceleration; ``gap_m`` is inf when there is no leader."""
    a = p.traffic_accel_max_mps2
    free = 1.0 - (speed_mps / max(desired_mps, 0.1)) ** IDM_DELTA
    if math.isinf(gap_m):
        acc = a * free
    else:
        s_star = p.traffic_min_gap_m + max(
            0.0,
            speed_mps * headway_s
            + speed_mps * closing_mps / (2.0 * math.sqrt(a * p.traffic_decel_comfort_mps2)),
        )
        acc = a * (free - (s_star / max(gap_m, 0.05)) ** 2)
    return min(max(acc, -p.traffic_brake_max_mps2), a)


@kernel
def idm_behind(veh, b, i, lead, p):
    """IDM acceleration of vehicle i if ``lead`` (or nobody, when NO_VEHICLE) were its leader."""
    v = veh[SPEED_MPS, b, i]
    if lead == NO_VEHICLE:
        return idm_accel(v, veh[DESIRED_SPEED_MPS, b, i], math.inf, 0.0, veh[HEADWAY_S, b, i], p)
    gap = bumper_gap_m(veh, b, i, lead)
    return idm_accel(
        v,
        veh[DESIRED_SPEED_MPS, b, i],
        gap,
        v - veh[SPEED_MPS, b, lead],
        veh[HEADWAY_S, b, i],
        p,
    )


@kernel
def traffic_accel(veh, b, i, p):
    """IDM acceleration of traffic vehicle i, following the leaders of every lane it occupies."""
    x = veh[X_M, b, i]
    lane = veh[LANE, b, i]
    acc = idm_behind(veh, b, i, leader_in_lane(veh, b, lane, x, i), p)
    target = veh[TARGET_LANE, b, i]
    if target != lane:
        acc = min(acc, idm_behind(veh, b, i, leader_in_lane(veh, b, target, x, i), p))
    return acc


@kernel
def mobil_choice(veh, b, i, n_lanes, p):
    """MOBIL lane choice for vehicle i: -1 (left), +1 (right) or 0 (stay)."""
    x = veh[X_M, b, i]
    lane = veh[LANE, b, i]
    old_lead = leader_in_lane(veh, b, lane, x, i)
    old_follow = follower_in_lane(veh, b, lane, x, i)
    acc_self_old = idm_behind(veh, b, i, old_lead, p)
    # the old follower gains when i leaves: it would then follow i's old leader
    gain_old_follow = 0.0
    if old_follow != NO_VEHICLE:
        gain_old_follow = idm_behind(veh, b, old_follow, old_lead, p) - idm_behind(
            veh, b, old_follow, i, p
        )
    politeness = veh[POLITENESS, b, i]
    best_dir = 0
    best_gain = p.mobil_threshold_mps2
    for direction in (-1, 1):
        new_lane = lane + direction
        if new_lane < 0 or new_lane > n_lanes - 1:
            continue
        new_lead = leader_in_lane(veh, b, new_lane, x, i)
        new_follow = follower_in_lane(veh, b, new_lane, x, i)
        if new_lead != NO_VEHICLE and bumper_gap_m(veh, b, i, new_lead) < p.traffic_min_gap_m:
            continue
        gain_new_follow = 0.0
        if new_follow != NO_VEHICLE:
            if bumper_gap_m(veh, b, new_follow, i) < p.traffic_min_gap_m:
                continue
            acc_nf_new = idm_behind(veh, b, new_follow, i, p)
            if acc_nf_new < -p.mobil_safe_decel_mps2:
                continue
            gain_new_follow = acc_nf_new - idm_behind(veh, b, new_follow, new_lead, p)
        acc_self_new = idm_behind(veh, b, i, new_lead, p)
        if acc_self_new < -p.mobil_safe_decel_mps2:
            continue
        gain = (
            acc_self_new
            - acc_self_old
            + politeness * (gain_new_follow + gain_old_follow)
            + direction * p.mobil_keep_right_bias_mps2
        )
        if gain > best_gain:
            best_gain = gain
            best_dir = direction
    return best_dir


@kernel
def start_lane_change(veh, b, i, new_lane):
    veh[TARGET_LANE, b, i] = new_lane
    veh[LC_PROGRESS, b, i] = 0.0


@kernel
def traffic_lane_decisions(veh, b, n_lanes, p):
    """MOBIL decisions for every idle traffic vehicle, in index order (deterministic)."""
    n = veh.shape[2]
    for i in range(1, n):
        if veh[ACTIVE, b, i] < 0.5 or veh[TARGET_LANE, b, i] != veh[LANE, b, i]:
            continue
        if veh[LC_COOLDOWN_S, b, i] > 0.0:
            continue
        direction = mobil_choice(veh, b, i, n_lanes, p)
        if direction != 0:
            start_lane_change(veh, b, i, veh[LANE, b, i] + direction)
