"""The observation: a fixed-size float32 vector, normalized inside the env, with a versioned schema.

Lanes are numbered from the left (0) to the right (n_lanes - 1); the exit ramp leaves the
rightmost lane. "Left", "current" and "right" gap blocks are relative to the lane the ego's
centre is in. While the ego can take the ramp, the ramp counts as an existing right lane (with
whatever traffic is leaving on it). The last block holds the safety supervisor's verdict on
every discrete action (``safety.verdicts``): 1 when the supervisor would pass it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from car_ai_rl.safety.supervisor import supervisor_neighbours
from car_ai_rl.safety.verdicts import write_verdicts
from car_ai_rl.sim.controls import DISCRETE_ACTION_NAMES, N_DISCRETE_ACTIONS
from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import (
    ACCEL_MPS2,
    CRUISE,
    EXIT,
    EXIT_X_M,
    LANE,
    LANE_MISSION,
    LAT_SPEED_MPS,
    LC_COOLDOWN_S,
    MISSION_DEADLINE_STEP,
    MISSION_HOLD_S,
    MISSION_KIND,
    MISSION_TARGET_LANE,
    PREV_ACCEL_MPS2,
    RING_LENGTH_M,
    SPEED_MPS,
    STEP,
    TARGET_LANE,
    TARGET_SPEED_MPS,
    X_M,
    Y_M,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m, neighbors
from car_ai_rl.sim.road import lane_change_progress, lane_of_y, ramp_available

OBS_SCHEMA_VERSION = "highway-mission-obs/2"

GAP_SCALE_M = 100.0
CLOSING_SCALE_MPS = 20.0
SPEED_SCALE_MPS = 40.0
LANE_SCALE = 4.0
EXIT_SCALE_M = 1000.0
EXIT_ZONE_SCALE_M = 200.0
TIME_SCALE_S = 40.0
ACCEL_SCALE_MPS2 = 8.0
SPEED_ERROR_SCALE_MPS = 10.0
LATERAL_SPEED_SCALE_MPS = 2.0
COOLDOWN_SCALE_S = 3.0


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    scale: float
    description: str


_LANE_BLOCKS = ("left", "current", "right")

EGO_FEATURES: tuple[Feature, ...] = (
    Feature("lane_index", "lane", LANE_SCALE, "lane of the ego's centre, 0 = leftmost"),
    Feature("lanes_to_right", "lane", LANE_SCALE, "lanes between the ego and the rightmost lane"),
    Feature("lateral_offset", "m", 4.0, "offset from that lane's centre, + = right"),
    Feature("lane_change_progress", "1", 1.0, "0..1 through a lane change, 0 when none"),
    Feature("lane_change_direction", "lane", 1.0, "-1 left, +1 right, 0 none"),
    Feature("lateral_speed", "m/s", LATERAL_SPEED_SCALE_MPS, "sideways speed, + = right"),
    Feature("lane_change_cooldown", "s", COOLDOWN_SCALE_S, "time before a new change can start"),
    Feature("speed", "m/s", SPEED_SCALE_MPS, "ego speed"),
    Feature("speed_error", "m/s", SPEED_ERROR_SCALE_MPS, "target speed - speed, clipped"),
    Feature("mission_cruise", "1", 1.0, "one-hot mission kind"),
    Feature("mission_lane", "1", 1.0, "one-hot mission kind"),
    Feature("mission_exit", "1", 1.0, "one-hot mission kind"),
    Feature("target_speed", "m/s", SPEED_SCALE_MPS, "mission target speed"),
    Feature("target_lane_delta", "lane", LANE_SCALE, "target lane - lane (exit: rightmost lane)"),
    Feature("exit_distance", "m", EXIT_SCALE_M, "distance to the start of the exit zone, clipped"),
    Feature("exit_zone_left", "m", EXIT_ZONE_SCALE_M, "distance to the end of the exit zone"),
    Feature("exit_available", "1", 1.0, "1 when a right lane request now takes the ramp"),
    Feature("mission_time_left", "s", TIME_SCALE_S, "time to the mission deadline, clipped"),
    Feature("mission_hold", "s", 2.0, "time the success condition has held"),
    Feature("accel", "m/s^2", ACCEL_SCALE_MPS2, "ego acceleration over the last step"),
)
LANE_BLOCK_FEATURES: tuple[Feature, ...] = tuple(
    f
    for block in _LANE_BLOCKS
    for f in (
        Feature(f"{block}_lane_exists", "1", 1.0, f"1 when the {block} lane exists"),
        Feature(f"{block}_front_gap", "m", GAP_SCALE_M, "bumper gap to the vehicle ahead"),
        Feature(f"{block}_front_closing", "m/s", CLOSING_SCALE_MPS, "ego speed - its speed"),
        Feature(f"{block}_front_accel", "m/s^2", ACCEL_SCALE_MPS2, "its acceleration"),
        Feature(f"{block}_rear_gap", "m", GAP_SCALE_M, "bumper gap to the vehicle behind"),
        Feature(f"{block}_rear_closing", "m/s", CLOSING_SCALE_MPS, "its speed - ego speed"),
    )
)
VERDICT_FEATURES: tuple[Feature, ...] = tuple(
    Feature(f"allow_{name}", "1", 1.0, f"1 when the supervisor passes action {a} unchanged")
    for a, name in enumerate(DISCRETE_ACTION_NAMES)
)
OBS_SCHEMA: tuple[Feature, ...] = EGO_FEATURES + LANE_BLOCK_FEATURES + VERDICT_FEATURES

OBS_FEATURES: tuple[str, ...] = tuple(f.name for f in OBS_SCHEMA)
OBS_DIM = len(OBS_SCHEMA)
GAP_BLOCK_START = len(EGO_FEATURES)
GAP_BLOCK_SIZE = len(LANE_BLOCK_FEATURES) // len(_LANE_BLOCKS)
VERDICT_START = GAP_BLOCK_START + len(LANE_BLOCK_FEATURES)
N_VERDICTS = N_DISCRETE_ACTIONS
ALLOWED_ABOVE = 0.5  # a verdict feature above this allows its action


def allowed_actions(obs: np.ndarray) -> np.ndarray:
    """The action mask an observation carries: (..., N_DISCRETE_ACTIONS) bool, True where the
    supervisor passes the discrete action unchanged. Masked policies choose only among these."""
    return np.asarray(obs)[..., VERDICT_START : VERDICT_START + N_VERDICTS] > ALLOWED_ABOVE


def schema_as_dicts() -> list[dict[str, object]]:
    return [dict(f.__dict__) for f in OBS_SCHEMA]


@kernel
def clip1(value):
    return min(max(value, -1.0), 1.0)


@kernel
def ego_lane_ref(veh, b, p):
    """The lane the ego's centre is in, at most the rightmost lane."""
    return min(lane_of_y(veh[Y_M, b, 0], p.lane_width_m), p.n_lanes - 1)


@inline_kernel
def write_gap_block(veh, b, lead, follow, exists, ring_m, out, k):
    """One lane's (exists, front gap, closing, accel, rear gap, closing) at ``out[k:]``."""
    for f in range(GAP_BLOCK_SIZE):
        out[k + f] = 0.0
    if not exists:
        return
    out[k] = 1.0
    v = veh[SPEED_MPS, b, 0]
    if lead == NO_VEHICLE:
        out[k + 1] = 1.0
    else:
        out[k + 1] = clip1(bumper_gap_m(veh, b, 0, lead, ring_m) / GAP_SCALE_M)
        out[k + 2] = clip1((v - veh[SPEED_MPS, b, lead]) / CLOSING_SCALE_MPS)
        out[k + 3] = clip1(veh[ACCEL_MPS2, b, lead] / ACCEL_SCALE_MPS2)
    if follow == NO_VEHICLE:
        out[k + 4] = 1.0
    else:
        out[k + 4] = clip1(bumper_gap_m(veh, b, follow, 0, ring_m) / GAP_SCALE_M)
        out[k + 5] = clip1((veh[SPEED_MPS, b, follow] - v) / CLOSING_SCALE_MPS)


@kernel
def observe(veh, env, b, p, out, near):
    """Fill ``out`` (length OBS_DIM) with env b's normalized observation. ``near``: an int64
    work array of length 6; on return it holds the ego's neighbours around the lane of its
    centre (the step reuses them)."""
    n_lanes = p.n_lanes
    ring = env[RING_LENGTH_M, b]
    # the supervisor's verdicts, from its own view of the neighbours
    supervisor_neighbours(veh, env, b, near)
    write_verdicts(veh, env, b, p, near, out, VERDICT_START)
    lane_ref = ego_lane_ref(veh, b, p)
    if lane_ref != veh[LANE, b, 0]:
        neighbors(veh, b, 0, lane_ref, near, ring)
    x = veh[X_M, b, 0]
    v = veh[SPEED_MPS, b, 0]
    kind = int(env[MISSION_KIND, b])
    changing = veh[TARGET_LANE, b, 0] != veh[LANE, b, 0]
    out[0] = lane_ref / LANE_SCALE
    out[1] = (n_lanes - 1 - lane_ref) / LANE_SCALE
    out[2] = clip1((veh[Y_M, b, 0] - lane_ref * p.lane_width_m) / 4.0)
    out[3] = lane_change_progress(veh, b, 0, p.lane_width_m)
    out[4] = (veh[TARGET_LANE, b, 0] - veh[LANE, b, 0]) if changing else 0.0
    out[5] = clip1(veh[LAT_SPEED_MPS, b, 0] / LATERAL_SPEED_SCALE_MPS)
    out[6] = clip1(veh[LC_COOLDOWN_S, b, 0] / COOLDOWN_SCALE_S)
    out[7] = clip1(v / SPEED_SCALE_MPS)
    out[8] = clip1((env[TARGET_SPEED_MPS, b] - v) / SPEED_ERROR_SCALE_MPS)
    out[9] = 1.0 if kind == CRUISE else 0.0
    out[10] = 1.0 if kind == LANE_MISSION else 0.0
    out[11] = 1.0 if kind == EXIT else 0.0
    out[12] = clip1(env[TARGET_SPEED_MPS, b] / SPEED_SCALE_MPS)
    if kind == CRUISE:
        out[13] = 0.0
    else:
        out[13] = (env[MISSION_TARGET_LANE, b] - lane_ref) / LANE_SCALE
    out[14] = clip1((env[EXIT_X_M, b] - x) / EXIT_SCALE_M)
    out[15] = clip1((env[EXIT_X_M, b] + p.exit_ramp_length_m - x) / EXIT_ZONE_SCALE_M)
    ramp = ramp_available(veh, env, b, 0, p)
    out[16] = 1.0 if ramp else 0.0
    deadline = env[MISSION_DEADLINE_STEP, b]
    if deadline > p.max_steps:
        deadline = p.max_steps
    out[17] = clip1((deadline - env[STEP, b]) * p.dt_s / TIME_SCALE_S)
    out[18] = clip1(env[MISSION_HOLD_S, b] / 2.0)
    out[19] = clip1(env[PREV_ACCEL_MPS2, b] / ACCEL_SCALE_MPS2)
    k = GAP_BLOCK_START
    for rel in range(3):
        lane = lane_ref - 1 + rel
        exists = 0 <= lane <= n_lanes - 1 or (rel == 2 and lane == n_lanes and ramp)
        write_gap_block(veh, b, near[rel], near[3 + rel], exists, ring, out, k)
        k += GAP_BLOCK_SIZE
