"""Traffic physics kernels: lane occupancy, neighbour search, IDM car-following and MOBIL.

All functions act on one env ``b`` of the struct-of-arrays buffer ``veh`` (see ``layout``).
"""

import math
from typing import NamedTuple

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


class TrafficModel(NamedTuple):
    """The IDM and MOBIL constants of the per-vehicle kernels.

    A small tuple on purpose: compiled code passes a tuple as one argument per field, and the
    per-vehicle kernels run hundreds of times a step, so they must not take the full params."""

    accel_max_mps2: float
    two_sqrt_accel_decel: float  # 2 sqrt(a b): IDM's braking-interaction scale, m/s^2
    brake_max_mps2: float
    min_gap_m: float
    mobil_safe_decel_mps2: float
    mobil_threshold_mps2: float
    mobil_keep_right_bias_mps2: float


@kernel
def traffic_model(p):
    """The :class:`TrafficModel` of kernel params ``p``."""
    return TrafficModel(
        p.traffic_accel_max_mps2,
        2.0 * math.sqrt(p.traffic_accel_max_mps2 * p.traffic_decel_comfort_mps2),
        p.traffic_brake_max_mps2,
        p.traffic_min_gap_m,
        p.mobil_safe_decel_mps2,
        p.mobil_threshold_mps2,
        p.mobil_keep_right_bias_mps2,
    )


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
def idm_accel(speed_mps, desired_mps, gap_m, closing_mps, headway_s, m):
    """Intelligent Driver Model acceleration (``m``: a TrafficModel); ``gap_m`` is inf when
    there is no leader."""
    a = m.accel_max_mps2
    ratio = speed_mps / max(desired_mps, 0.1)
    ratio2 = ratio * ratio
    free = 1.0 - ratio2 * ratio2  # the IDM exponent delta = 4
    if math.isinf(gap_m):
        acc = a * free
    else:
        s_star = m.min_gap_m + max(
            0.0, speed_mps * headway_s + speed_mps * closing_mps / m.two_sqrt_accel_decel
        )
        q = s_star / max(gap_m, 0.05)
        acc = a * (free - q * q)
    return min(max(acc, -m.brake_max_mps2), a)


@kernel
def idm_behind(veh, b, i, lead, m):
    """IDM acceleration of vehicle i if ``lead`` (or nobody, when NO_VEHICLE) were its leader."""
    v = veh[SPEED_MPS, b, i]
    if lead == NO_VEHICLE:
        return idm_accel(v, veh[DESIRED_SPEED_MPS, b, i], math.inf, 0.0, veh[HEADWAY_S, b, i], m)
    gap = bumper_gap_m(veh, b, i, lead)
    return idm_accel(
        v,
        veh[DESIRED_SPEED_MPS, b, i],
        gap,
        v - veh[SPEED_MPS, b, lead],
        veh[HEADWAY_S, b, i],
        m,
    )


@kernel
def sort_by_position(veh, b, order):
    """Reorder ``order`` (a permutation of vehicle indices) by position, ties by index.

    Insertion sort: linear on the nearly sorted order left by the previous call."""
    n = order.shape[0]
    for r in range(1, n):
        j = order[r]
        xj = veh[X_M, b, j]
        k = r - 1
        while k >= 0 and (
            veh[X_M, b, order[k]] > xj or (veh[X_M, b, order[k]] == xj and order[k] > j)
        ):
            order[k + 1] = order[k]
            k -= 1
        order[k + 1] = j


@kernel
def build_leader_table(veh, b, n_lanes, order, lead_tab):
    """lead_tab[i, L]: the nearest vehicle ahead of i occupying lane L (one backward pass)."""
    n = order.shape[0]
    for lane in range(n_lanes + 1):
        lead_tab[order[n - 1], lane] = NO_VEHICLE
    for r in range(n - 1, 0, -1):
        j = order[r]
        behind = order[r - 1]
        active = veh[ACTIVE, b, j] > 0.5
        lane_j = veh[LANE, b, j]
        target_j = veh[TARGET_LANE, b, j]
        for lane in range(n_lanes + 1):
            if active and (lane_j == lane or target_j == lane):
                lead_tab[behind, lane] = j
            else:
                lead_tab[behind, lane] = lead_tab[j, lane]


@kernel
def neighbors(veh, b, i, lane_ref, near):
    """Nearest vehicle ahead of (``near[k]``) and behind (``near[3 + k]``) vehicle i among those
    occupying lane lane_ref - 1 + k, k = 0, 1, 2, or NO_VEHICLE. One pass over the vehicles;
    "ahead" orders by position, ties by index, as :func:`sort_by_position` does."""
    x = veh[X_M, b, i]
    for k in range(6):
        near[k] = NO_VEHICLE
    for j in range(veh.shape[2]):
        if j == i or veh[ACTIVE, b, j] < 0.5:
            continue
        xj = veh[X_M, b, j]
        ahead = xj > x or (xj == x and j > i)
        k_lane = int(veh[LANE, b, j]) - lane_ref + 1
        k_target = int(veh[TARGET_LANE, b, j]) - lane_ref + 1
        for t in range(2):  # the lane it is in, then the lane it is moving into
            k = k_lane if t == 0 else k_target
            if k < 0 or k > 2 or (t == 1 and k_target == k_lane):
                continue
            slot = k if ahead else 3 + k
            best = near[slot]
            if best == NO_VEHICLE or (xj < veh[X_M, b, best] if ahead else xj > veh[X_M, b, best]):
                near[slot] = j


@kernel
def traffic_accels(veh, b, m, lead_tab, acc):
    """IDM accelerations of env b's traffic into ``acc[1:]`` (0 for inactive vehicles). A
    vehicle changing lanes follows the leaders of both lanes it occupies.

    One call per env, with the per-vehicle loop inside: a call per vehicle costs more than
    the IDM arithmetic itself."""
    for i in range(1, veh.shape[2]):
        if veh[ACTIVE, b, i] < 0.5:
            acc[i] = 0.0
            continue
        lane = int(veh[LANE, b, i])
        a = idm_behind(veh, b, i, lead_tab[i, lane], m)
        target = int(veh[TARGET_LANE, b, i])
        if target != lane:
            a = min(a, idm_behind(veh, b, i, lead_tab[i, target], m))
        acc[i] = a


@kernel
def mobil_choice(veh, b, i, n_lanes, m, near):
    """MOBIL lane choice for vehicle i: -1 (left), +1 (right) or 0 (stay). ``near``: i's
    neighbours in its lane and both adjacent lanes, from :func:`neighbors`."""
    lane = int(veh[LANE, b, i])
    old_lead = near[1]
    old_follow = near[4]
    acc_self_old = idm_behind(veh, b, i, old_lead, m)
    # the old follower gains when i leaves: it would then follow i's old leader
    gain_old_follow = 0.0
    if old_follow != NO_VEHICLE:
        gain_old_follow = idm_behind(veh, b, old_follow, old_lead, m) - idm_behind(
            veh, b, old_follow, i, m
        )
    politeness = veh[POLITENESS, b, i]
    best_dir = 0
    best_gain = m.mobil_threshold_mps2
    for direction in (-1, 1):
        new_lane = lane + direction
        if new_lane < 0 or new_lane > n_lanes - 1:
            continue
        new_lead = near[1 + direction]
        new_follow = near[4 + direction]
        if new_lead != NO_VEHICLE and bumper_gap_m(veh, b, i, new_lead) < m.min_gap_m:
            continue
        gain_new_follow = 0.0
        if new_follow != NO_VEHICLE:
            if bumper_gap_m(veh, b, new_follow, i) < m.min_gap_m:
                continue
            acc_nf_new = idm_behind(veh, b, new_follow, i, m)
            if acc_nf_new < -m.mobil_safe_decel_mps2:
                continue
            gain_new_follow = acc_nf_new - idm_behind(veh, b, new_follow, new_lead, m)
        acc_self_new = idm_behind(veh, b, i, new_lead, m)
        if acc_self_new < -m.mobil_safe_decel_mps2:
            continue
        gain = (
            acc_self_new
            - acc_self_old
            + politeness * (gain_new_follow + gain_old_follow)
            + direction * m.mobil_keep_right_bias_mps2
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
def traffic_lane_decisions(veh, b, step, p, model, near):
    """MOBIL decisions, in index order (deterministic). Each vehicle decides mobil_decision_hz
    times a second, staggered by its index, seeing the lane changes decided before it.
    ``model``: ``traffic_model(p)``."""
    n = veh.shape[2]
    period = max(1, int(round(1.0 / (p.mobil_decision_hz * p.dt_s))))
    for i in range(1, n):
        if (step + i) % period != 0:
            continue
        if veh[ACTIVE, b, i] < 0.5 or veh[TARGET_LANE, b, i] != veh[LANE, b, i]:
            continue
        if veh[LC_COOLDOWN_S, b, i] > 0.0:
            continue
        neighbors(veh, b, i, int(veh[LANE, b, i]), near)
        direction = mobil_choice(veh, b, i, p.n_lanes, model, near)
        if direction != 0:
            start_lane_change(veh, b, i, veh[LANE, b, i] + direction)
