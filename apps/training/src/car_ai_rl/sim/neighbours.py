"""Who is in which lane, who is ahead of whom, and how far: the one neighbour search.

A vehicle occupies its lane and, during a lane change, its target lane too. "Ahead" is along
the periodic segment (``road.ahead_m``); vehicles at the same position are ordered by index,
the higher index ahead, exactly as :func:`sort_by_position` orders them. The scans and the
tables built from the sorted order therefore always agree.
"""

import math

from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import ACTIVE, LANE, LENGTH_M, TARGET_LANE, X_M
from car_ai_rl.sim.road import ahead_m

NO_VEHICLE = -1


@inline_kernel
def occupies(veh, b, j, lane):
    """True when vehicle j takes part in traffic and is in, or moving into, ``lane``."""
    return veh[ACTIVE, b, j] > 0.5 and (veh[LANE, b, j] == lane or veh[TARGET_LANE, b, j] == lane)


@inline_kernel
def bumper_gap_m(veh, b, rear, front, ring_m):
    """Free distance from the rear vehicle's front bumper to the front vehicle's rear bumper."""
    return ahead_m(veh[X_M, b, front], veh[X_M, b, rear], ring_m) - 0.5 * (
        veh[LENGTH_M, b, front] + veh[LENGTH_M, b, rear]
    )


@inline_kernel
def distance_ahead_m(veh, b, j, x_m, me, ring_m):
    """How far vehicle j is ahead of position ``x_m`` of vehicle ``me`` (a full segment when j
    is level with it but ordered behind it)."""
    d = ahead_m(veh[X_M, b, j], x_m, ring_m)
    if d == 0.0 and j < me:
        return ring_m
    return d


@inline_kernel
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
def rank_of(order, rank):
    """``rank[j]``: vehicle j's place in the sorted ``order``."""
    for r in range(order.shape[0]):
        rank[order[r]] = r


@inline_kernel
def nearest_in_lane(veh, b, order, rank, i, lane, ahead):
    """The nearest vehicle ahead of (``ahead``) or behind vehicle i that occupies ``lane``,
    walking the sorted ``order`` around the periodic segment (NO_VEHICLE when nobody else
    occupies it). With vehicles spread over the lanes the walk is a few steps long, so this
    costs about the lane count, whatever the density. ``rank``: see :func:`rank_of`."""
    n = order.shape[0]
    r = rank[i]
    for _ in range(n - 1):
        if ahead:
            r = r + 1 if r + 1 < n else 0
        else:
            r = r - 1 if r > 0 else n - 1
        j = order[r]
        if occupies(veh, b, j, lane):
            return j
    return NO_VEHICLE
