"""The rule-based safety supervisor: ``filter(state, controls, params)``.

Rules, in order:
0. a lane request the simulator would ignore (a change is under way, or the last one's
   cooldown is running) passes as it is: it does nothing;
1. lane limits: a lane request toward a lane that does not exist (or the ramp outside the exit
   zone) is dropped;
2. gap check: a lane change into a lane without a safe gap ahead and behind is dropped;
3. emergency braking: when the commanded acceleration fails the front safety check against a
   leader in any lane the ego occupies, the ego brakes fully;
4. rear guard: during a lane change, braking harder than a following car can absorb is eased
   (unless rule 3 demands full braking).
A control that breaks none of the rules is returned exactly as it was, and a control is only
reported as an intervention when the supervisor changed it. The same function,
:func:`filter_controls`, also gives the observation its verdicts (``safety.verdicts``).
"""

from __future__ import annotations

import numpy as np

from car_ai_rl.safety.checks import (
    REAR_GUARD_DECEL_MPS2,
    follower_close,
    front_safe,
    lane_change_safe,
    near_slot,
)
from car_ai_rl.sim.controls import decode_request, pedal_accel_mps2
from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import (
    BRAKE,
    LANE,
    LANE_REQUEST,
    LC_COOLDOWN_S,
    RING_LENGTH_M,
    SPEED_MPS,
    TARGET_LANE,
    THROTTLE,
)
from car_ai_rl.sim.neighbours import neighbors
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.road import ramp_available
from car_ai_rl.sim.state import SimState

LANE_LIMIT = 1
UNSAFE_GAP = 2
EMERGENCY_BRAKE = 4
REAR_GUARD = 8
REASON_NAMES = {
    LANE_LIMIT: "lane_limit",
    UNSAFE_GAP: "unsafe_gap",
    EMERGENCY_BRAKE: "emergency_brake",
    REAR_GUARD: "rear_guard",
}


def reason_names(bits: int) -> list[str]:
    """The rule names set in a reason bitmask."""
    return [name for bit, name in REASON_NAMES.items() if int(bits) & bit]


@kernel
def supervisor_neighbours(veh, env, b, near):
    """The ego's neighbours around the lane it is in (or leaving): what the rules read."""
    neighbors(veh, b, 0, int(veh[LANE, b, 0]), near, env[RING_LENGTH_M, b])


@inline_kernel
def can_start_lane_change(veh, b):
    """True when a lane request would start a change now (none under way, no cooldown)."""
    return veh[TARGET_LANE, b, 0] == veh[LANE, b, 0] and veh[LC_COOLDOWN_S, b, 0] <= 0.0


@inline_kernel
def filter_controls(veh, env, b, throttle, brake, lane_value, p, near):
    """Env b's safe (throttle, brake, lane request) and the reason bitmask of what changed.
    ``near``: :func:`supervisor_neighbours` of env b."""
    ring = env[RING_LENGTH_M, b]
    request = decode_request(lane_value)
    out_throttle = throttle
    out_brake = brake
    out_lane = lane_value
    reason = 0
    lane = veh[LANE, b, 0]
    target = veh[TARGET_LANE, b, 0]
    changing = target != lane
    accel = pedal_accel_mps2(throttle, brake, veh[SPEED_MPS, b, 0], p)
    new_lane = -1.0
    if request != 0 and can_start_lane_change(veh, b):
        candidate = lane + request
        exists = 0 <= candidate <= p.n_lanes - 1
        to_ramp = candidate == p.n_lanes and ramp_available(veh, env, b, 0, p)
        if not (exists or to_ramp):
            reason |= LANE_LIMIT
        elif not lane_change_safe(veh, b, candidate, accel, p, ring, near, lane):
            reason |= UNSAFE_GAP
        else:
            new_lane = candidate
        if reason != 0:
            out_lane = 0.0
    moving_to = target if changing else new_lane
    if moving_to >= 0 and -accel > REAR_GUARD_DECEL_MPS2:
        if follower_close(veh, b, moving_to, ring, near, lane) or follower_close(
            veh, b, lane, ring, near, lane
        ):
            out_throttle = 0.0
            out_brake = min(brake, REAR_GUARD_DECEL_MPS2 / p.ego_brake_max_mps2)
            accel = pedal_accel_mps2(out_throttle, out_brake, veh[SPEED_MPS, b, 0], p)
            reason |= REAR_GUARD
    occupied_safe = front_safe(veh, b, near[1], accel, p, ring)
    if occupied_safe and changing:
        occupied_safe = front_safe(veh, b, near[near_slot(target, lane)], accel, p, ring)
    if not occupied_safe:
        out_throttle = 0.0
        out_brake = 1.0
        reason = (reason & ~REAR_GUARD) | EMERGENCY_BRAKE
    # report only what actually changed
    if out_throttle == throttle and out_brake == brake:
        reason &= ~(EMERGENCY_BRAKE | REAR_GUARD)
    return out_throttle, out_brake, out_lane, reason


@kernel
def filter_batch(veh, env, controls, pv, out, reasons):
    p = pv[0]
    near = np.empty(6, dtype=np.int64)
    for b in range(veh.shape[1]):
        supervisor_neighbours(veh, env, b, near)
        t, br, lane, reason = filter_controls(
            veh,
            env,
            b,
            controls[b, THROTTLE],
            controls[b, BRAKE],
            controls[b, LANE_REQUEST],
            p,
            near,
        )
        out[b, THROTTLE] = t
        out[b, BRAKE] = br
        out[b, LANE_REQUEST] = lane
        reasons[b] = reason


def filter(  # noqa: A001 - the supervisor's public name
    state: SimState, controls: np.ndarray, params: SimParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Safe controls (B, 3), whether each env was changed (B,), and the reason bitmasks (B,)."""
    controls = np.ascontiguousarray(controls, dtype=np.float64)
    out = np.empty_like(controls)
    reasons = np.zeros(state.n_envs, dtype=np.int64)
    filter_batch(state.veh, state.env, controls, params.kernel_record, out, reasons)
    return out, reasons != 0, reasons
