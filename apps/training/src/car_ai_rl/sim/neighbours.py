"""Who is in which lane, who is ahead of whom, and how far: the one neighbour search.

A vehicle occupies its lane and, during a lane change, its target lane too. "Ahead" is along
the periodic segment (``road.ahead_m``); vehicles at the same position are ordered by index,
the higher index ahead, exactly as :func:`sort_by_position` orders them. The scans and the
tables built from the sorted order therefore always agree.
"""

import math

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import ACTIVE, LANE, LENGTH_M, TARGET_LANE, X_M
from car_ai_rl.sim.road import ahead_m

NO_VEHICLE = -1


@kernel
def occupies(veh, b, j, lane):
    """True when vehicle j takes part in traffic and is in, or moving into, ``lane``."""
    return veh[ACTIVE, b, j] > 0.5 and (veh[LANE, b, j] == lane or veh[TARGET_LANE, b, j] == lane)


@kernel
def bumper_gap_m(veh, b, rear, front, ring_m):
    """Free distance from the rear vehicle's front bumper to the front vehicle's rear bumper."""
    return ahead_m(veh[X_M, b, front], veh[X_M, b, rear], ring_m) - 0.5 * (
        veh[LENGTH_M, b, front] + veh[LENGTH_M, b, rear]
    )


@kernel
def distance_ahead_m(veh, b, j, x_m, me, ring_m):
    """How far vehicle j is ahead of position ``x_m`` of vehicle ``me`` (a full segment when j
    is level with it but ordered behind it)."""
    d = ahead_m(veh[X_M, b, j], x_m, ring_m)
    if d == 0.0 and j < me:
        return ring_m
    return d


@kernel
def distance_behind_m(veh, b, j, x_m, me, ring_m):
    """How far vehicle j is behind position ``x_m`` of vehicle ``me``."""
    d = ahead_m(x_m, veh[X_M, b, j], ring_m)
    if d == 0.0 and j > me:
        return ring_m
    return d


@kernel
def leader_in_lane(veh, b, lane, x_m, me, ring_m):
    """The nearest vehicle ahead of position ``x_m`` occupying ``lane``, other than ``me``
    (NO_VEHICLE when nobody else occupies the lane)."""
    best = NO_VEHICLE
    best_d = math.inf
    for j in range(veh.shape[2]):
        if j == me or not occupies(veh, b, j, lane):
            continue
        d = distance_ahead_m(veh, b, j, x_m, me, ring_m)
        if d < best_d:
            best = j
            best_d = d
    return best


@kernel
def follower_in_lane(veh, b, lane, x_m, me, ring_m):
    """The nearest vehicle behind position ``x_m`` occupying ``lane``, other than ``me``."""
    best = NO_VEHICLE
    best_d = math.inf
    for j in range(veh.shape[2] - 1, -1, -1):
        if j == me or not occupies(veh, b, j, lane):
            continue
        d = distance_behind_m(veh, b, j, x_m, me, ring_m)
        if d < best_d:
            best = j
            best_d = d
    return best


@kernel
def neighbors(veh, b, i, lane_ref, near, ring_m):
    """Vehicle i's nearest vehicle ahead (``near[k]``) and behind (``near[3 + k]``) among those
    occupying lane ``lane_ref - 1 + k``, k = 0, 1, 2, or NO_VEHICLE. One pass over the vehicles."""
    x = veh[X_M, b, i]
    for k in range(6):
        near[k] = NO_VEHICLE
    for j in range(veh.shape[2]):
        if j == i or veh[ACTIVE, b, j] < 0.5:
            continue
        k_lane = int(veh[LANE, b, j]) - lane_ref + 1
        k_target = int(veh[TARGET_LANE, b, j]) - lane_ref + 1
        in_lane = 0 <= k_lane <= 2
        in_target = k_target != k_lane and 0 <= k_target <= 2
        if not (in_lane or in_target):
            continue
        d_ahead = distance_ahead_m(veh, b, j, x, i, ring_m)
        d_behind = distance_behind_m(veh, b, j, x, i, ring_m)
        for t in range(2):  # the lane it is in, then the lane it is moving into
            if (t == 0 and not in_lane) or (t == 1 and not in_target):
                continue
            k = k_lane if t == 0 else k_target
            # ties go to the lower index ahead and the higher index behind (the sorted order)
            lead = near[k]
            if lead == NO_VEHICLE or d_ahead < distance_ahead_m(veh, b, lead, x, i, ring_m):
                near[k] = j
            follow = near[3 + k]
            if follow == NO_VEHICLE or d_behind <= distance_behind_m(veh, b, follow, x, i, ring_m):
                near[3 + k] = j


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
def build_tables(veh, b, n_lanes, order, lead_tab, follow_tab, last):
    """``lead_tab[i, L]`` / ``follow_tab[i, L]``: the nearest vehicle ahead of / behind i
    occupying lane L (the ramp is lane n_lanes), around the periodic segment. Two passes in
    each direction over the sorted ``order``; ``last`` is work space of n_lanes + 1."""
    n = order.shape[0]
    lanes = n_lanes + 1
    for direction in range(2):
        table = lead_tab if direction == 0 else follow_tab
        for lane in range(lanes):
            last[lane] = NO_VEHICLE
        for r in range(2 * n):
            # leaders: walk from the front backward; followers: from the rear forward
            pos = 2 * n - 1 - r if direction == 0 else r
            j = order[pos % n]
            if (direction == 0 and pos < n) or (direction == 1 and pos >= n):
                for lane in range(lanes):
                    table[j, lane] = last[lane] if last[lane] != j else NO_VEHICLE
            if veh[ACTIVE, b, j] > 0.5:
                last[int(veh[LANE, b, j])] = j
                target = int(veh[TARGET_LANE, b, j])
                if target != veh[LANE, b, j]:
                    last[target] = j
