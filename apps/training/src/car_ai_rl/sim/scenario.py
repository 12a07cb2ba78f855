"""Scenario sampling: episode reset, traffic recycling around the ego, and exit placement."""

import math

from car_ai_rl.sim import streams
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    ACTIVE,
    DESIRED_SPEED_MPS,
    EXIT_X_M,
    HEADWAY_S,
    LANE,
    LENGTH_M,
    N_ENV_FIELDS,
    N_VEH_FIELDS,
    POLITENESS,
    SPEED_MPS,
    STEP,
    TARGET_LANE,
    WIDTH_M,
    X_M,
    Y_M,
)
from car_ai_rl.sim.missions import start_random_mission
from car_ai_rl.sim.rng import uniform
from car_ai_rl.sim.traffic import NO_VEHICLE, follower_in_lane, leader_in_lane, occupies

EGO_HEADWAY_S = 1.5
SPAWN_CLEARANCE_M = 45.0
RECYCLE_MARGIN_M = 30.0


@kernel
def lerp(lo, hi, u):
    return lo + (hi - lo) * u


@kernel
def n_traffic_target(n_vehicles, p):
    """How many traffic vehicles the density asks for, capped by the buffer size."""
    window_km = (p.traffic_window_behind_m + p.traffic_window_ahead_m) / 1000.0
    wanted = int(round(p.traffic_density * window_km * p.n_lanes))
    return min(n_vehicles - 1, max(wanted, 0))


@kernel
def draw_driver(veh, b, j, seed, counter, p):
    """Per-vehicle driver parameters for a vehicle entering traffic."""
    veh[DESIRED_SPEED_MPS, b, j] = lerp(
        p.traffic_speed_min_mps,
        p.traffic_speed_max_mps,
        uniform(seed, counter, j, streams.DESIRED_SPEED),
    )
    veh[HEADWAY_S, b, j] = lerp(
        p.traffic_headway_min_s, p.traffic_headway_max_s, uniform(seed, counter, j, streams.HEADWAY)
    )
    veh[POLITENESS, b, j] = lerp(
        p.traffic_politeness_min,
        p.traffic_politeness_max,
        uniform(seed, counter, j, streams.POLITENESS),
    )


@kernel
def place_vehicle(veh, b, j, x_m, lane, speed_mps, p):
    veh[X_M, b, j] = x_m
    veh[LANE, b, j] = lane
    veh[TARGET_LANE, b, j] = lane
    veh[Y_M, b, j] = lane * p.lane_width_m
    veh[SPEED_MPS, b, j] = speed_mps
    veh[LENGTH_M, b, j] = p.vehicle_length_m
    veh[WIDTH_M, b, j] = p.vehicle_width_m
    veh[ACTIVE, b, j] = 1.0


@kernel
def reset_env(veh, env, seeds, b, p):
    """Start a fresh episode in slot ``b`` from ``seeds[b]`` alone."""
    seed = seeds[b]
    n = veh.shape[2]
    n_lanes = p.n_lanes
    for f in range(N_VEH_FIELDS):
        for j in range(n):
            veh[f, b, j] = 0.0
    for f in range(N_ENV_FIELDS):
        env[f, b] = 0.0
    env[EXIT_X_M, b] = lerp(
        p.exit_distance_min_m, p.exit_distance_max_m, uniform(seed, 0, 0, streams.EXIT_POSITION)
    )
    # the ego
    ego_lane = min(int(uniform(seed, 0, 0, streams.EGO_LANE) * n_lanes), n_lanes - 1)
    ego_speed = lerp(
        0.9 * p.traffic_speed_min_mps,
        0.9 * p.traffic_speed_max_mps,
        uniform(seed, 0, 0, streams.EGO_SPEED),
    )
    place_vehicle(veh, b, 0, 0.0, ego_lane, ego_speed, p)
    veh[HEADWAY_S, b, 0] = EGO_HEADWAY_S
    # traffic, spread over every lane of the window around the ego
    n_traffic = n_traffic_target(n, p)
    rotation = int(uniform(seed, 0, 0, streams.LANE_ROTATION) * n_lanes)
    window_m = p.traffic_window_behind_m + p.traffic_window_ahead_m
    clearance_m = p.vehicle_length_m + 20.0
    for lane in range(n_lanes):
        # vehicles k = 1..n_traffic go round-robin over the lanes
        count = 0
        for k in range(1, n_traffic + 1):
            if (k - 1 + rotation) % n_lanes == lane:
                count += 1
        if count == 0:
            continue
        usable_m = window_m - (2.0 * clearance_m if lane == ego_lane else 0.0)
        # consecutive vehicles are at least half a segment apart: keep that above a length
        # plus two minimum gaps, leaving the surplus vehicles to enter later by recycling
        max_count = int(usable_m // (2.0 * (p.vehicle_length_m + p.traffic_min_gap_m)))
        count = min(count, max_count)
        if count <= 0:
            continue
        segment_m = usable_m / count
        m = 0
        for k in range(1, n_traffic + 1):
            if (k - 1 + rotation) % n_lanes != lane or m >= count:
                continue
            u = uniform(seed, 0, k, streams.TRAFFIC_POSITION)
            x = -p.traffic_window_behind_m + (m + 0.25 + 0.5 * u) * segment_m
            if lane == ego_lane and x >= -clearance_m:
                x += 2.0 * clearance_m
            draw_driver(veh, b, k, seed, 0, p)
            speed = veh[DESIRED_SPEED_MPS, b, k] * lerp(
                0.85, 1.0, uniform(seed, 0, k, streams.SPAWN_SPEED)
            )
            place_vehicle(veh, b, k, x, lane, speed, p)
            m += 1
    # no vehicle starts faster than the one it follows, so nobody starts in an emergency
    for lane in range(n_lanes):
        calm_lane_speeds(veh, b, lane)
    start_random_mission(veh, env, b, seed, 0, p)


@kernel
def calm_lane_speeds(veh, b, lane):
    """Cap each vehicle's speed at its leader's speed + 1 m/s, front to back (the ego too)."""
    n = veh.shape[2]
    x_front = math.inf
    lead_speed = math.inf
    while True:
        # next vehicle behind x_front in this lane
        best = NO_VEHICLE
        best_x = -math.inf
        for j in range(n):
            if veh[ACTIVE, b, j] > 0.5 and veh[LANE, b, j] == lane:
                xj = veh[X_M, b, j]
                if xj < x_front and xj > best_x:
                    best = j
                    best_x = xj
        if best == NO_VEHICLE:
            return
        if veh[SPEED_MPS, b, best] > lead_speed + 1.0:
            veh[SPEED_MPS, b, best] = lead_speed + 1.0
        lead_speed = veh[SPEED_MPS, b, best]
        x_front = best_x


@kernel
def try_spawn(veh, b, j, seed, counter, ahead, p):
    """Put vehicle j back into traffic ahead of (or behind) the ego; False when no lane has room."""
    n_lanes = p.n_lanes
    x_ego = veh[X_M, b, 0]
    offset = 20.0 * uniform(seed, counter, j, streams.SPAWN_OFFSET)
    if ahead:
        x_spawn = x_ego + p.traffic_window_ahead_m + offset
    else:
        x_spawn = x_ego - p.traffic_window_behind_m - offset
    first_lane = min(int(uniform(seed, counter, j, streams.TRAFFIC_LANE) * n_lanes), n_lanes - 1)
    n = veh.shape[2]
    for t in range(n_lanes):
        lane = (first_lane + t) % n_lanes
        free = True
        for k in range(n):
            if k != j and occupies(veh, b, k, lane):
                if abs(veh[X_M, b, k] - x_spawn) < SPAWN_CLEARANCE_M:
                    free = False
                    break
        if not free:
            continue
        veh[ACTIVE, b, j] = 0.0  # excluded from the neighbour search below
        draw_driver(veh, b, j, seed, counter, p)
        speed = veh[DESIRED_SPEED_MPS, b, j] * lerp(
            0.9, 1.0, uniform(seed, counter, j, streams.SPAWN_SPEED)
        )
        lead = leader_in_lane(veh, b, lane, x_spawn, j)
        if lead != NO_VEHICLE:
            speed = min(speed, veh[SPEED_MPS, b, lead] + 2.0)
        follow = follower_in_lane(veh, b, lane, x_spawn, j)
        if follow != NO_VEHICLE:
            speed = max(speed, veh[SPEED_MPS, b, follow] - 2.0)
        place_vehicle(veh, b, j, x_spawn, lane, max(speed, 0.0), p)
        veh[TARGET_LANE, b, j] = lane
        return True
    veh[ACTIVE, b, j] = 0.0
    return False


@kernel
def recycle_traffic(veh, env, seeds, b, p):
    """Vehicles that leave the window around the ego re-enter at its other end."""
    seed = seeds[b]
    counter = int(env[STEP, b]) + 1
    x_ego = veh[X_M, b, 0]
    n = veh.shape[2]
    n_traffic = n_traffic_target(n, p)
    for j in range(1, n_traffic + 1):
        if veh[ACTIVE, b, j] < 0.5:
            try_spawn(veh, b, j, seed, counter, True, p)
            continue
        if veh[TARGET_LANE, b, j] != veh[LANE, b, j]:
            continue  # let lane changes finish first
        rel = veh[X_M, b, j] - x_ego
        if rel < -p.traffic_window_behind_m - RECYCLE_MARGIN_M:
            try_spawn(veh, b, j, seed, counter, True, p)
        elif rel > p.traffic_window_ahead_m + RECYCLE_MARGIN_M:
            try_spawn(veh, b, j, seed, counter, False, p)
    # once the ego is well past the exit, the next exit appears further down the road
    if x_ego > env[EXIT_X_M, b] + p.exit_ramp_length_m + 100.0:
        env[EXIT_X_M, b] += lerp(
            p.exit_spacing_min_m,
            p.exit_spacing_max_m,
            uniform(seed, counter, 0, streams.EXIT_SPACING),
        )
