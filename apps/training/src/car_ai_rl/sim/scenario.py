"""Scenario sampling and the traffic's boundary: episode reset, the periodic segment, vehicles
leaving on the ramp and re-entering, and exit placement.

Why a periodic segment: density is then a conserved quantity, set by the vehicle count, and
the traffic's own dynamics (IDM, MOBIL, exits) decide flow and speed, as on a ring road. An open
window with inflow at its ends would make density an outcome of the inflow rule instead.

Reset places each lane's vehicles around the segment with the free space shared out at random,
every vehicle at or below its desired speed and at or below the IDM equilibrium speed of the
gap ahead of it, and never closing on its leader faster than comfortable braking can absorb
within the gap's surplus: nobody has to brake hard in the first seconds.
"""

import math

import numpy as np

from car_ai_rl.sim import streams
from car_ai_rl.sim.idm import equilibrium_gap_m, equilibrium_speed_mps, idm_accel
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    ACCEL_MAX_MPS2,
    ACCEL_MPS2,
    ACTIVE,
    DESIRED_SPEED_MPS,
    EXIT_INTENT,
    EXIT_X_M,
    HEADWAY_S,
    HEAVY,
    LANE,
    LAT_SPEED_MPS,
    LC_COOLDOWN_S,
    LENGTH_M,
    N_ENV_FIELDS,
    N_VEH_FIELDS,
    POLITENESS,
    RING_LENGTH_M,
    SPEED_MPS,
    STEP,
    TARGET_LANE,
    VEHICLE_COUNT,
    WIDTH_M,
    X_M,
    Y_M,
)
from car_ai_rl.sim.missions import start_random_mission
from car_ai_rl.sim.neighbours import NO_VEHICLE, follower_in_lane, leader_in_lane
from car_ai_rl.sim.rng import uniform
from car_ai_rl.sim.segment import (
    heavy_count_kernel,
    segment_length_m_kernel,
    segment_vehicles_kernel,
)

EGO_HEADWAY_S = 1.5
NEXT_EXIT_AFTER_M = 100.0  # how far past an exit's zone the ego must be before the next appears
SPEED_PASSES = 3  # passes of the no-hard-braking speed rule around each lane


@kernel
def lerp(lo, hi, u):
    return lo + (hi - lo) * u


@kernel
def heavy_allowed_in(lane, p):
    """Heavy vehicles keep out of the leftmost lane of a road with three or more lanes."""
    return lane > 0 or p.n_lanes < 3


@kernel
def draw_driver(veh, b, j, seed, counter, p):
    """Driver parameters of vehicle j (its kind, ``HEAVY``, is already set)."""
    heavy = veh[HEAVY, b, j] > 0.5
    u_speed = uniform(seed, counter, j, streams.DESIRED_SPEED)
    if heavy:
        veh[DESIRED_SPEED_MPS, b, j] = lerp(p.heavy_speed_min_mps, p.heavy_speed_max_mps, u_speed)
        veh[ACCEL_MAX_MPS2, b, j] = p.heavy_accel_max_mps2
        veh[LENGTH_M, b, j] = p.heavy_length_m
        veh[WIDTH_M, b, j] = p.heavy_width_m
    else:
        veh[DESIRED_SPEED_MPS, b, j] = lerp(
            p.traffic_speed_min_mps, p.traffic_speed_max_mps, u_speed
        )
        veh[ACCEL_MAX_MPS2, b, j] = p.traffic_accel_max_mps2
        veh[LENGTH_M, b, j] = p.vehicle_length_m
        veh[WIDTH_M, b, j] = p.vehicle_width_m
    veh[HEADWAY_S, b, j] = lerp(
        p.traffic_headway_min_s, p.traffic_headway_max_s, uniform(seed, counter, j, streams.HEADWAY)
    )
    veh[POLITENESS, b, j] = lerp(
        p.traffic_politeness_min,
        p.traffic_politeness_max,
        uniform(seed, counter, j, streams.POLITENESS),
    )
    draw_exit_intent(veh, b, j, seed, counter, p)


@kernel
def draw_exit_intent(veh, b, j, seed, counter, p):
    """Whether vehicle j means to leave at the next exit."""
    wants = uniform(seed, counter, j, streams.EXIT_INTENT) < p.traffic_exit_share
    veh[EXIT_INTENT, b, j] = 1.0 if wants else 0.0


@kernel
def place_in_lane(veh, b, j, x_m, lane, speed_mps, p):
    veh[X_M, b, j] = x_m
    veh[LANE, b, j] = lane
    veh[TARGET_LANE, b, j] = lane
    veh[Y_M, b, j] = lane * p.lane_width_m
    veh[LAT_SPEED_MPS, b, j] = 0.0
    veh[LC_COOLDOWN_S, b, j] = 0.0
    veh[ACCEL_MPS2, b, j] = 0.0
    veh[SPEED_MPS, b, j] = speed_mps
    veh[ACTIVE, b, j] = 1.0


@kernel
def wrap_into_segment(x_m, x_ego_m, p, ring_m):
    """The representative of position ``x_m`` within the segment around the ego."""
    lo = x_ego_m - p.traffic_window_behind_m
    while x_m < lo:
        x_m += ring_m
    while x_m >= lo + ring_m:
        x_m -= ring_m
    return x_m


@kernel
def choose_heavy(veh, b, seed, n, needed, p):
    """Mark exactly ``needed`` traffic vehicles among the first ``n`` heavy, spread evenly over
    the lanes that allow them (within a lane, selection sampling: each vehicle in turn, with the odds
    that keep the lane's count exact)."""
    n_lanes = p.n_lanes
    first = 0 if n_lanes < 3 else 1
    lanes = n_lanes - first
    for k in range(lanes):
        lane = first + k
        quota = needed // lanes + (1 if k < needed % lanes else 0)
        candidates = 0
        for j in range(1, n):
            if veh[LANE, b, j] == lane:
                candidates += 1
        quota = min(quota, candidates)
        for j in range(1, n):
            if veh[LANE, b, j] != lane:
                continue
            if quota > 0 and uniform(seed, 0, j, streams.HEAVY) * candidates < quota:
                veh[HEAVY, b, j] = 1.0
                quota -= 1
            candidates -= 1


@kernel
def calm_speed_mps(speed_mps, gap_m, lead_speed_mps, desired_mps, headway_s, p):
    """``speed_mps`` lowered so that a vehicle this far behind a leader at ``lead_speed_mps``
    closes no faster than comfortable braking absorbs within its gap's surplus over the
    equilibrium gap."""
    surplus = gap_m - equilibrium_gap_m(speed_mps, desired_mps, headway_s, p.traffic_min_gap_m)
    allowed = lead_speed_mps + math.sqrt(2.0 * p.traffic_decel_comfort_mps2 * max(surplus, 0.0))
    return min(speed_mps, allowed)


@kernel
def calm_speeds(veh, env, b, members, count, p, ring_m):
    """Lower speeds around one lane (``members``: its vehicles from rear to front) until nobody
    closes on its leader faster than comfortable braking absorbs within the gap's surplus."""
    for _ in range(SPEED_PASSES):
        for m in range(count - 1, -1, -1):
            j = members[m]
            lead = members[(m + 1) % count]
            if lead == j:
                continue
            gap = (
                veh[X_M, b, lead]
                - veh[X_M, b, j]
                - 0.5 * (veh[LENGTH_M, b, lead] + veh[LENGTH_M, b, j])
            )
            if gap < 0.0:
                gap += ring_m
            veh[SPEED_MPS, b, j] = calm_speed_mps(
                veh[SPEED_MPS, b, j],
                gap,
                veh[SPEED_MPS, b, lead],
                veh[DESIRED_SPEED_MPS, b, j],
                veh[HEADWAY_S, b, j],
                p,
            )


@kernel
def reset_env(veh, env, seeds, b, p):
    """Start a fresh episode in slot ``b`` from ``seeds[b]`` alone."""
    seed = seeds[b]
    n_lanes = p.n_lanes
    density = p.traffic_density
    if p.traffic_density_max > density:
        density = lerp(density, p.traffic_density_max, uniform(seed, 0, 0, streams.DENSITY))
    n = min(segment_vehicles_kernel(density, p.window_m, n_lanes), veh.shape[2])
    ring = segment_length_m_kernel(n, density, p.window_m, n_lanes)
    for f in range(N_VEH_FIELDS):
        for j in range(veh.shape[2]):
            veh[f, b, j] = 0.0
    for f in range(N_ENV_FIELDS):
        env[f, b] = 0.0
    env[RING_LENGTH_M, b] = ring
    env[VEHICLE_COUNT, b] = n
    env[EXIT_X_M, b] = lerp(
        p.exit_distance_min_m, p.exit_distance_max_m, uniform(seed, 0, 0, streams.EXIT_POSITION)
    )
    # lanes round-robin from the ego's, so every lane holds the same count (within one)
    ego_lane = min(int(uniform(seed, 0, 0, streams.EGO_LANE) * n_lanes), n_lanes - 1)
    for j in range(n):
        veh[LANE, b, j] = (ego_lane + j) % n_lanes
    choose_heavy(veh, b, seed, n, heavy_count_kernel(p.heavy_vehicle_share, n), p)
    # the ego: a car whose desired speed is its first target speed (set by the mission below)
    veh[LENGTH_M, b, 0] = p.vehicle_length_m
    veh[WIDTH_M, b, 0] = p.vehicle_width_m
    veh[HEADWAY_S, b, 0] = EGO_HEADWAY_S
    veh[ACCEL_MAX_MPS2, b, 0] = p.traffic_accel_max_mps2
    veh[DESIRED_SPEED_MPS, b, 0] = lerp(
        0.9 * p.traffic_speed_min_mps,
        0.9 * p.traffic_speed_max_mps,
        uniform(seed, 0, 0, streams.EGO_SPEED),
    )
    for j in range(1, n):
        draw_driver(veh, b, j, seed, 0, p)
    members = np.empty(n, dtype=np.int64)
    for lane in range(n_lanes):
        count = 0
        for j in range(n):
            if veh[LANE, b, j] == lane:
                members[count] = j
                count += 1
        if count == 0:
            continue
        # share the free space of the segment among the gaps, at random around equal shares
        free_m = ring
        weight_sum = 0.0
        for m in range(count):
            free_m -= veh[LENGTH_M, b, members[m]]
            weight_sum += 0.7 + 0.6 * uniform(seed, 0, members[m], streams.GAP_SHARE)
        free_m = max(free_m, 0.0)
        x = 0.0
        if lane != ego_lane:
            x = -p.traffic_window_behind_m + ring * uniform(seed, 0, lane, streams.LANE_OFFSET)
        for m in range(count):
            j = members[m]
            gap = free_m * (0.7 + 0.6 * uniform(seed, 0, j, streams.GAP_SHARE)) / weight_sum
            speed = equilibrium_speed_mps(
                gap, veh[DESIRED_SPEED_MPS, b, j], veh[HEADWAY_S, b, j], p.traffic_min_gap_m
            )
            place_in_lane(veh, b, j, wrap_into_segment(x, 0.0, p, ring), lane, speed, p)
            if m + 1 < count:
                x += 0.5 * veh[LENGTH_M, b, j] + gap + 0.5 * veh[LENGTH_M, b, members[m + 1]]
        # members from rear to front, for the speed passes
        for r in range(1, count):
            j = members[r]
            k = r - 1
            while k >= 0 and veh[X_M, b, members[k]] > veh[X_M, b, j]:
                members[k + 1] = members[k]
                k -= 1
            members[k + 1] = j
        calm_speeds(veh, env, b, members, count, p, ring)
    start_random_mission(veh, env, b, seed, 0, p)


@kernel
def seam_gap(veh, b, lane, seam_m, ring_m):
    """The vehicles just behind and just ahead of the segment's seam in ``lane``, and the free
    space between their bumpers (the whole segment when the lane is empty)."""
    rear = follower_in_lane(veh, b, lane, seam_m, -1, ring_m)
    front = leader_in_lane(veh, b, lane, seam_m, -1, ring_m)
    if front == NO_VEHICLE:
        return rear, front, ring_m
    d_front = veh[X_M, b, front] - seam_m
    if d_front < 0.0:
        d_front += ring_m
    d_rear = seam_m - veh[X_M, b, rear]
    if d_rear < 0.0:
        d_rear += ring_m
    if front == rear:  # alone in the lane: the gap runs from it round to itself
        return rear, front, ring_m - veh[LENGTH_M, b, front]
    free = d_front + d_rear - 0.5 * (veh[LENGTH_M, b, front] + veh[LENGTH_M, b, rear])
    return rear, front, free


@kernel
def best_reentry_lane(veh, b, j, seam, ring, p, lanes_taken, min_free_m, max_rear_decel_mps2):
    """(lane, x, speed) of the seam gap with the most room for vehicle j among the gaps of at
    least ``min_free_m`` whose follower need not brake harder than ``max_rear_decel_mps2``;
    lane -1 when there is none."""
    length = veh[LENGTH_M, b, j]
    desired = veh[DESIRED_SPEED_MPS, b, j]
    headway = veh[HEADWAY_S, b, j]
    best_lane = -1
    best_free = -1.0
    best_x = 0.0
    best_speed = 0.0
    for lane in range(p.n_lanes):
        if (lanes_taken >> lane) & 1 or (veh[HEAVY, b, j] > 0.5 and not heavy_allowed_in(lane, p)):
            continue
        rear, front, free = seam_gap(veh, b, lane, seam, ring)
        if free < min_free_m or free <= best_free:
            continue
        gap = 0.5 * (free - length)
        speed = equilibrium_speed_mps(gap, desired, headway, p.traffic_min_gap_m)
        x = seam
        if front != NO_VEHICLE:
            speed = calm_speed_mps(speed, gap, veh[SPEED_MPS, b, front], desired, headway, p)
            x = veh[X_M, b, rear] + 0.5 * veh[LENGTH_M, b, rear] + gap + 0.5 * length
            v_rear = veh[SPEED_MPS, b, rear]
            rear_accel = idm_accel(
                v_rear,
                veh[DESIRED_SPEED_MPS, b, rear],
                gap,
                v_rear - speed,
                veh[HEADWAY_S, b, rear],
                veh[ACCEL_MAX_MPS2, b, rear],
                p.traffic_decel_comfort_mps2,
                p.traffic_min_gap_m,
                p.traffic_brake_max_mps2,
            )
            if rear_accel < -max_rear_decel_mps2:
                continue
        best_lane, best_free, best_x, best_speed = lane, free, x, speed
    return best_lane, best_x, best_speed


@kernel
def try_reenter(veh, env, seeds, b, j, counter, p, lanes_taken):
    """Bring vehicle j (which left on the ramp) back as a new driver at the segment's seam, far
    from the ego, into the lane with the most room there, at a calm speed for the gap ahead.
    Like traffic joining from an on-ramp: where a gap lets the vehicle behind brake only
    comfortably, else (near capacity, where every merge is felt) any gap with the minimum
    distance on both sides that the vehicle behind can absorb within its maximum braking, so
    that the density stays what was asked. One vehicle per lane per step (``lanes_taken``: a
    bit per lane). Returns the lane, or -1 when no lane has room."""
    ring = env[RING_LENGTH_M, b]
    x_ego = veh[X_M, b, 0]
    seam = x_ego - p.traffic_window_behind_m
    draw_driver(veh, b, j, seeds[b], counter, p)
    length = veh[LENGTH_M, b, j]
    # first a gap the follower absorbs comfortably, then one it absorbs within its hardest braking
    for tier in range(2):
        spare_gaps = 4.0 if tier == 0 else 2.0
        decel = p.traffic_decel_comfort_mps2 if tier == 0 else p.traffic_brake_max_mps2
        min_free = length + spare_gaps * p.traffic_min_gap_m
        lane, x, speed = best_reentry_lane(veh, b, j, seam, ring, p, lanes_taken, min_free, decel)
        if lane >= 0:
            break
    if lane < 0:
        return -1
    place_in_lane(veh, b, j, wrap_into_segment(x, x_ego, p, ring), lane, speed, p)
    return lane


@kernel
def update_traffic_boundary(veh, env, seeds, b, p):
    """Keep every vehicle's representative on the segment around the ego, take vehicles that
    left on the ramp out of traffic and bring them back, clear the intent of those that missed
    the exit, and move on to the next exit once the ego has passed one."""
    seed = seeds[b]
    counter = int(env[STEP, b]) + 1
    ring = env[RING_LENGTH_M, b]
    x_ego = veh[X_M, b, 0]
    zone_end = env[EXIT_X_M, b] + p.exit_ramp_length_m
    n = int(env[VEHICLE_COUNT, b])
    for j in range(1, n):
        if veh[ACTIVE, b, j] < 0.5:
            continue
        x = veh[X_M, b, j]
        on_ramp = veh[LANE, b, j] == p.n_lanes or veh[TARGET_LANE, b, j] == p.n_lanes
        rel = x - x_ego
        outside = rel < -p.traffic_window_behind_m or rel >= ring - p.traffic_window_behind_m
        if on_ramp:
            if outside or (
                veh[LANE, b, j] == p.n_lanes and x - 0.5 * veh[LENGTH_M, b, j] > zone_end
            ):
                veh[ACTIVE, b, j] = 0.0
                veh[EXIT_INTENT, b, j] = 0.0
            continue
        if outside:
            veh[X_M, b, j] = wrap_into_segment(x, x_ego, p, ring)
        if veh[EXIT_INTENT, b, j] > 0.5 and x > zone_end:
            veh[EXIT_INTENT, b, j] = 0.0
    # then, with every representative on the segment, bring back those that left
    lanes_taken = 0
    for j in range(1, n):
        if veh[ACTIVE, b, j] < 0.5:
            lane = try_reenter(veh, env, seeds, b, j, counter, p, lanes_taken)
            if lane >= 0:
                lanes_taken |= 1 << lane
    if x_ego > zone_end + NEXT_EXIT_AFTER_M:
        env[EXIT_X_M, b] += lerp(
            p.exit_spacing_min_m,
            p.exit_spacing_max_m,
            uniform(seed, counter, 0, streams.EXIT_SPACING),
        )
        for j in range(1, n):
            if veh[ACTIVE, b, j] > 0.5:
                draw_exit_intent(veh, b, j, seed, counter, p)
