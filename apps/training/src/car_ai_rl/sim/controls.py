"""Controls and what they do to the ego: the one decoder, used by the simulator, the
supervisor, the heuristic driver and the action adapters.

Controls are (throttle in [0, 1], brake in [0, 1], lane request). Values outside [0, 1] are
clamped; a lane request above +0.5 means one lane right, below -0.5 one lane left.

Longitudinal model of the ego (a passenger car):
- braking overrides the throttle: with any brake, the throttle is ignored;
- the drive force is limited by both grip and engine power:
  throttle * min(ego_accel_max_mps2, ego_power_to_mass_w_per_kg / v);
- aerodynamic drag (ego_drag_coefficient_per_m * v^2) and rolling resistance slow a moving car;
- brake * ego_brake_max_mps2 of deceleration.
"""

import numpy as np

from car_ai_rl.sim.jit import kernel

LANE_THRESHOLD = 0.5
MIN_POWER_SPEED_MPS = 0.5  # below this the drive is grip-limited whatever the power

# The discrete action set: 7 longitudinal levels x 3 lane requests, action = level * 3 + lane + 1.
# From full braking (-8 m/s^2) through gentle braking (about -1 m/s^2) and coasting to a light
# throttle that about holds highway speed against drag, a firm one and full throttle.
LONGITUDINAL_LEVELS = np.array(
    [[0.0, 1.0], [0.0, 0.4], [0.0, 0.12], [0.0, 0.0], [0.1, 0.0], [0.4, 0.0], [1.0, 0.0]],
    dtype=np.float64,
)
LONGITUDINAL_LEVEL_NAMES = (
    "brake_full",
    "brake",
    "brake_light",
    "coast",
    "throttle_light",
    "throttle",
    "throttle_full",
)
LANE_REQUESTS = np.array([-1.0, 0.0, 1.0])
LANE_REQUEST_NAMES = ("left", "keep", "right")
N_DISCRETE_ACTIONS = len(LONGITUDINAL_LEVELS) * len(LANE_REQUESTS)
DISCRETE_CONTROLS = np.array(
    [[*LONGITUDINAL_LEVELS[a // 3], LANE_REQUESTS[a % 3]] for a in range(N_DISCRETE_ACTIONS)]
)
DISCRETE_ACTION_NAMES = tuple(
    f"{LONGITUDINAL_LEVEL_NAMES[a // 3]}_{LANE_REQUEST_NAMES[a % 3]}"
    for a in range(N_DISCRETE_ACTIONS)
)


@kernel
def clamp01(value):
    return min(max(value, 0.0), 1.0)


@kernel
def decode_request(value):
    """The lane request of a control value: -1, 0 or +1."""
    if value > LANE_THRESHOLD:
        return 1
    if value < -LANE_THRESHOLD:
        return -1
    return 0


@kernel
def resistance_mps2(speed_mps, p):
    """Deceleration from drag and rolling resistance (none at a standstill)."""
    if speed_mps <= 0.0:
        return 0.0
    return p.ego_drag_coefficient_per_m * speed_mps * speed_mps + p.ego_rolling_resistance_mps2


@kernel
def drive_limit_mps2(speed_mps, p):
    """The most acceleration full throttle gives before resistance: grip, then power."""
    return min(
        p.ego_accel_max_mps2, p.ego_power_to_mass_w_per_kg / max(speed_mps, MIN_POWER_SPEED_MPS)
    )


@kernel
def pedal_accel_mps2(throttle, brake, speed_mps, p):
    """The ego's acceleration at ``speed_mps`` under (throttle, brake), clamped to [0, 1]."""
    brake = clamp01(brake)
    if brake > 0.0:
        return -brake * p.ego_brake_max_mps2 - resistance_mps2(speed_mps, p)
    return clamp01(throttle) * drive_limit_mps2(speed_mps, p) - resistance_mps2(speed_mps, p)


@kernel
def pedals_for_accel(accel_mps2, speed_mps, p):
    """(throttle, brake) that give ``accel_mps2`` at ``speed_mps`` as closely as the car can:
    the inverse of :func:`pedal_accel_mps2`."""
    resist = resistance_mps2(speed_mps, p)
    if accel_mps2 >= -resist:
        return clamp01((accel_mps2 + resist) / drive_limit_mps2(speed_mps, p)), 0.0
    return 0.0, clamp01((-accel_mps2 - resist) / p.ego_brake_max_mps2)


def continuous_to_controls(a: np.ndarray) -> np.ndarray:
    """Box action (B, 3) in [-1, 1] -> controls: throttle = (a0 + 1) / 2, brake = max(a1, 0)
    (the lower half of the brake axis is "no brake"), lane request from a2."""
    a = np.asarray(a, dtype=np.float64)
    controls = np.empty_like(a)
    controls[:, 0] = (a[:, 0] + 1.0) / 2.0
    controls[:, 1] = np.maximum(a[:, 1], 0.0)
    controls[:, 2] = np.where(
        a[:, 2] > LANE_THRESHOLD, 1.0, np.where(a[:, 2] < -LANE_THRESHOLD, -1.0, 0.0)
    )
    return controls


def controls_to_continuous(controls: np.ndarray) -> np.ndarray:
    """A Box action that decodes to ``controls`` (inverse of :func:`continuous_to_controls`;
    "no brake" maps to the middle of the lower half of the brake axis)."""
    c = np.asarray(controls, dtype=np.float64).reshape(-1, 3)
    a = np.empty_like(c)
    a[:, 0] = 2.0 * np.clip(c[:, 0], 0.0, 1.0) - 1.0
    a[:, 1] = np.where(c[:, 1] > 0.0, np.clip(c[:, 1], 0.0, 1.0), -0.5)
    a[:, 2] = np.clip(np.round(c[:, 2]), -1.0, 1.0)
    return a


@kernel
def accel_of_controls(controls, speed_mps, pv, out):
    """``out[b]``: the ego acceleration controls[b] give at speed_mps[b] (``pv``: the params
    record array)."""
    p = pv[0]
    for b in range(controls.shape[0]):
        out[b] = pedal_accel_mps2(controls[b, 0], controls[b, 1], speed_mps[b], p)


def nearest_discrete_action(
    controls: np.ndarray, speed_mps: np.ndarray, params, allowed: np.ndarray | None = None
) -> np.ndarray:
    """The discrete action whose longitudinal level gives the acceleration nearest to that of
    ``controls`` at each env's speed, with the same lane request. With ``allowed`` (B, 21) bool,
    only allowed actions are chosen: the same lane request where one is allowed, else the
    nearest acceleration among what is."""
    c = np.ascontiguousarray(controls, dtype=np.float64).reshape(-1, 3)
    v = np.ascontiguousarray(speed_mps, dtype=np.float64).reshape(-1)
    n = len(c)
    wanted = np.empty(n)
    accel_of_controls(c, v, params.kernel_record, wanted)
    levels = np.empty((len(LONGITUDINAL_LEVELS), n))
    level_controls = np.zeros((n, 3))
    for k, (throttle, brake) in enumerate(LONGITUDINAL_LEVELS):
        level_controls[:, 0] = throttle
        level_controls[:, 1] = brake
        accel_of_controls(level_controls, v, params.kernel_record, levels[k])
    lane = np.clip(np.round(c[:, 2]), -1, 1).astype(np.int64)
    if allowed is None:
        level = np.abs(levels - wanted[None, :]).argmin(axis=0)
        return level * 3 + lane + 1
    # cost of each action (B, levels, requests): acceleration error, plus a lane mismatch that
    # outweighs any acceleration error; disallowed actions never win
    accel_error = np.abs(levels - wanted[None, :]).T[:, :, None]
    mismatch = (np.arange(3)[None, None, :] != (lane + 1)[:, None, None]) * 1e6
    cost = np.where(allowed.reshape(n, len(LONGITUDINAL_LEVELS), 3), accel_error + mismatch, np.inf)
    return cost.reshape(n, -1).argmin(axis=1)
