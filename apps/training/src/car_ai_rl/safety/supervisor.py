"""The rule-based safety supervisor: ``filter(state, controls, params)``.

Rules, in order:
1. lane limits: a lane request toward a lane that does not exist (or the ramp outside the exit
   zone) is dropped;
2. gap check: a lane change into a lane without a safe gap ahead and behind is dropped;
3. emergency braking: when the commanded acceleration fails the front safety check against a
   leader in any lane the ego occupies, the ego brakes fully;
4. rear guard: during a lane change, braking harder than a following car can absorb is eased
   (unless rule 3 demands full braking).
A control that breaks none of the rules is returned exactly as it was.
"""

from __future__ import annotations

import numpy as np

from car_ai_rl.safety.checks import (
    REAR_GUARD_DECEL_MPS2,
    follower_close,
    front_safe,
    lane_change_safe,
)
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.kernel_params import unpack_params
from car_ai_rl.sim.layout import BRAKE, LANE, LANE_REQUEST, TARGET_LANE, THROTTLE, X_M
from car_ai_rl.sim.observation import ramp_available
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState
from car_ai_rl.sim.step_kernel import decode_request
from car_ai_rl.sim.traffic import leader_in_lane

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
def occupied_lanes_safe(veh, b, lane, target, accel, p):
    """Front safety check against the leader of every lane the ego occupies."""
    x = veh[X_M, b, 0]
    if not front_safe(veh, b, leader_in_lane(veh, b, lane, x, 0), accel, p):
        return False
    if target != lane and target < p.n_lanes:
        return front_safe(veh, b, leader_in_lane(veh, b, target, x, 0), accel, p)
    return True


@kernel
def filter_env(veh, env, b, controls, out, p):
    """Write env b's safe controls into ``out``; return the reason bitmask (0 = untouched)."""
    throttle = controls[b, THROTTLE]
    brake = controls[b, BRAKE]
    request = decode_request(controls[b, LANE_REQUEST])
    out[b, THROTTLE] = throttle
    out[b, BRAKE] = brake
    out[b, LANE_REQUEST] = controls[b, LANE_REQUEST]
    reason = 0
    lane = veh[LANE, b, 0]
    target = veh[TARGET_LANE, b, 0]
    changing = target != lane
    accel = (
        min(max(throttle, 0.0), 1.0) * p.ego_accel_max_mps2
        - min(max(brake, 0.0), 1.0) * p.ego_brake_max_mps2
    )
    new_lane = -1.0
    if request != 0 and not changing:
        candidate = lane + request
        exists = 0 <= candidate <= p.n_lanes - 1
        to_ramp = candidate == p.n_lanes and ramp_available(veh, env, b, p)
        if not (exists or to_ramp):
            reason |= LANE_LIMIT
        elif not lane_change_safe(veh, b, candidate, accel, p):
            reason |= UNSAFE_GAP
        else:
            new_lane = candidate
        if reason != 0:
            out[b, LANE_REQUEST] = 0.0
    moving_to = target if changing else new_lane
    if moving_to >= 0 and -accel > REAR_GUARD_DECEL_MPS2:
        if follower_close(veh, b, moving_to, p) or follower_close(veh, b, lane, p):
            accel = -REAR_GUARD_DECEL_MPS2
            out[b, THROTTLE] = 0.0
            out[b, BRAKE] = REAR_GUARD_DECEL_MPS2 / p.ego_brake_max_mps2
            reason |= REAR_GUARD
    if not occupied_lanes_safe(veh, b, lane, target, accel, p):
        out[b, THROTTLE] = 0.0
        out[b, BRAKE] = 1.0
        reason = (reason & ~REAR_GUARD) | EMERGENCY_BRAKE
    return reason


@kernel
def filter_batch(veh, env, controls, pv, out, reasons):
    p = unpack_params(pv)
    for b in range(veh.shape[1]):
        reasons[b] = filter_env(veh, env, b, controls, out, p)


def filter(  # noqa: A001 - the supervisor's public name
    state: SimState, controls: np.ndarray, params: SimParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Safe controls (B, 3), whether each env was changed (B,), and the reason bitmasks (B,)."""
    controls = np.asarray(controls, dtype=np.float64)
    out = np.empty_like(controls)
    reasons = np.zeros(state.n_envs, dtype=np.int64)
    filter_batch(state.veh, state.env, controls, params.kernel_vector, out, reasons)
    return out, reasons != 0, reasons
