"""The observation: a fixed-size float32 vector, normalized inside the env, with a versioned schema.

Lanes are numbered from the left (0) to the right (n_lanes - 1); the exit ramp leaves the
rightmost lane. "Left", "current" and "right" gap blocks are relative to the lane the ego's
centre is in. While the ego can take the ramp, the ramp counts as an existing, empty right lane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import (
    CRUISE,
    EXIT,
    EXIT_X_M,
    LANE,
    LANE_MISSION,
    LC_PROGRESS,
    LENGTH_M,
    MISSION_DEADLINE_STEP,
    MISSION_HOLD_S,
    MISSION_KIND,
    MISSION_TARGET_LANE,
    PREV_ACCEL_MPS2,
    SPEED_MPS,
    STEP,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    X_M,
    Y_M,
)
from car_ai_rl.sim.traffic import NO_VEHICLE, neighbors

OBS_SCHEMA_VERSION = "highway-mission-obs/1"

GAP_SCALE_M = 100.0
CLOSING_SCALE_MPS = 20.0
SPEED_SCALE_MPS = 40.0
LANE_SCALE = 4.0
EXIT_SCALE_M = 1000.0
TIME_SCALE_S = 40.0
ACCEL_SCALE_MPS2 = 8.0
SPEED_ERROR_SCALE_MPS = 10.0


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    scale: float
    description: str


_LANE_BLOCKS = ("left", "current", "right")

OBS_SCHEMA: tuple[Feature, ...] = (
    Feature("lane_index", "lane", LANE_SCALE, "lane of the ego's centre, 0 = leftmost"),
    Feature("lanes_to_right", "lane", LANE_SCALE, "lanes between the ego and the rightmost lane"),
    Feature("lateral_offset", "m", 4.0, "offset from that lane's centre, + = right"),
    Feature("lane_change_progress", "1", 1.0, "0..1 through a lane change, 0 when none"),
    Feature("lane_change_direction", "lane", 1.0, "-1 left, +1 right, 0 none"),
    Feature("speed", "m/s", SPEED_SCALE_MPS, "ego speed"),
    Feature("speed_error", "m/s", SPEED_ERROR_SCALE_MPS, "target speed - speed, clipped"),
    Feature("mission_cruise", "1", 1.0, "one-hot mission kind"),
    Feature("mission_lane", "1", 1.0, "one-hot mission kind"),
    Feature("mission_exit", "1", 1.0, "one-hot mission kind"),
    Feature("target_speed", "m/s", SPEED_SCALE_MPS, "mission target speed"),
    Feature("target_lane_delta", "lane", LANE_SCALE, "target lane - lane (exit: rightmost lane)"),
    Feature("exit_distance", "m", EXIT_SCALE_M, "distance to the start of the exit zone, clipped"),
    Feature("exit_zone_left", "m", 160.0, "distance to the end of the exit zone, clipped"),
    Feature("exit_available", "1", 1.0, "1 when a right lane request now takes the ramp"),
    Feature("mission_time_left", "s", TIME_SCALE_S, "time to the mission deadline, clipped"),
    Feature("mission_hold", "s", 2.0, "time the success condition has held"),
    Feature("accel", "m/s^2", ACCEL_SCALE_MPS2, "ego acceleration over the last step"),
) + tuple(
    f
    for block in _LANE_BLOCKS
    for f in (
        Feature(f"{block}_lane_exists", "1", 1.0, f"1 when the {block} lane exists"),
        Feature(f"{block}_front_gap", "m", GAP_SCALE_M, "bumper gap to the vehicle ahead"),
        Feature(f"{block}_front_closing", "m/s", CLOSING_SCALE_MPS, "ego speed - its speed"),
        Feature(f"{block}_rear_gap", "m", GAP_SCALE_M, "bumper gap to the vehicle behind"),
        Feature(f"{block}_rear_closing", "m/s", CLOSING_SCALE_MPS, "its speed - ego speed"),
    )
)

OBS_FEATURES: tuple[str, ...] = tuple(f.name for f in OBS_SCHEMA)
OBS_DIM = len(OBS_SCHEMA)
GAP_BLOCK_START = OBS_FEATURES.index("left_lane_exists")


def schema_as_dicts() -> list[dict[str, object]]:
    return [dict(f.__dict__) for f in OBS_SCHEMA]


@kernel
def clip1(value):
    return min(max(value, -1.0), 1.0)


@kernel
def ego_lane_ref(veh, b, p):
    """The lane the ego's centre is in (the ramp counts as lane n_lanes)."""
    return int(math.floor(veh[Y_M, b, 0] / p.lane_width_m + 0.5))


@kernel
def ramp_available(veh, env, b, p):
    """True when a right lane request now starts the move onto the ramp."""
    x = veh[X_M, b, 0]
    start = env[EXIT_X_M, b]
    lane = veh[LANE, b, 0]
    return (
        lane == p.n_lanes - 1
        and veh[TARGET_LANE, b, 0] == lane
        and start <= x <= start + p.exit_ramp_length_m
    )


@kernel
def write_gap_block(veh, b, lead, follow, exists, out, k):
    """Write one lane's (exists, front gap, front closing, rear gap, rear closing) at out[k:]."""
    if not exists:
        out[k] = 0.0
        out[k + 1] = 0.0
        out[k + 2] = 0.0
        out[k + 3] = 0.0
        out[k + 4] = 0.0
        return
    out[k] = 1.0
    x = veh[X_M, b, 0]
    v = veh[SPEED_MPS, b, 0]
    half = 0.5 * veh[LENGTH_M, b, 0]
    if lead == NO_VEHICLE:
        out[k + 1] = 1.0
        out[k + 2] = 0.0
    else:
        gap = veh[X_M, b, lead] - x - half - 0.5 * veh[LENGTH_M, b, lead]
        out[k + 1] = clip1(gap / GAP_SCALE_M)
        out[k + 2] = clip1((v - veh[SPEED_MPS, b, lead]) / CLOSING_SCALE_MPS)
    if follow == NO_VEHICLE:
        out[k + 3] = 1.0
        out[k + 4] = 0.0
    else:
        gap = x - veh[X_M, b, follow] - half - 0.5 * veh[LENGTH_M, b, follow]
        out[k + 3] = clip1(gap / GAP_SCALE_M)
        out[k + 4] = clip1((veh[SPEED_MPS, b, follow] - v) / CLOSING_SCALE_MPS)


@kernel
def observe(veh, env, b, p, out, near):
    """Fill ``out`` (length OBS_DIM) with env b's normalized observation (``near``: an int64
    work array of length 6, so the step allocates nothing)."""
    n_lanes = p.n_lanes
    lane_ref = min(ego_lane_ref(veh, b, p), n_lanes - 1)
    x = veh[X_M, b, 0]
    v = veh[SPEED_MPS, b, 0]
    kind = int(env[MISSION_KIND, b])
    out[0] = lane_ref / LANE_SCALE
    out[1] = (n_lanes - 1 - lane_ref) / LANE_SCALE
    out[2] = clip1((veh[Y_M, b, 0] - lane_ref * p.lane_width_m) / 4.0)
    changing = veh[TARGET_LANE, b, 0] != veh[LANE, b, 0]
    out[3] = veh[LC_PROGRESS, b, 0] if changing else 0.0
    out[4] = (veh[TARGET_LANE, b, 0] - veh[LANE, b, 0]) if changing else 0.0
    out[5] = clip1(v / SPEED_SCALE_MPS)
    out[6] = clip1((env[TARGET_SPEED_MPS, b] - v) / SPEED_ERROR_SCALE_MPS)
    out[7] = 1.0 if kind == CRUISE else 0.0
    out[8] = 1.0 if kind == LANE_MISSION else 0.0
    out[9] = 1.0 if kind == EXIT else 0.0
    out[10] = clip1(env[TARGET_SPEED_MPS, b] / SPEED_SCALE_MPS)
    if kind == CRUISE:
        out[11] = 0.0
    else:
        out[11] = (env[MISSION_TARGET_LANE, b] - lane_ref) / LANE_SCALE
    out[12] = clip1((env[EXIT_X_M, b] - x) / EXIT_SCALE_M)
    out[13] = clip1((env[EXIT_X_M, b] + p.exit_ramp_length_m - x) / 160.0)
    ramp = ramp_available(veh, env, b, p)
    out[14] = 1.0 if ramp else 0.0
    deadline = env[MISSION_DEADLINE_STEP, b]
    if deadline > p.max_steps:
        deadline = p.max_steps
    out[15] = clip1((deadline - env[STEP, b]) * p.dt_s / TIME_SCALE_S)
    out[16] = clip1(env[MISSION_HOLD_S, b] / 2.0)
    out[17] = clip1(env[PREV_ACCEL_MPS2, b] / ACCEL_SCALE_MPS2)
    neighbors(veh, b, 0, lane_ref, near)
    k = 18
    for rel in range(3):
        lane = lane_ref - 1 + rel
        exists = 0 <= lane <= n_lanes - 1
        lead = near[rel]
        follow = near[3 + rel]
        if rel == 2 and lane == n_lanes and ramp:
            exists = True  # the ramp: an existing lane with nobody on it
            lead = NO_VEHICLE
            follow = NO_VEHICLE
        write_gap_block(veh, b, lead, follow, exists, out, k)
        k += 5
