"""The supervisor's verdicts on every discrete action, as the observation carries them.

Verdict a is 1 when :func:`supervisor.filter_controls` would pass discrete action a exactly as
it is, 0 when it would change it. A policy that reads them knows the rules it runs under, and
masking the actions with verdict 0 leaves it only actions the supervisor never overrides. At
least one action is always allowed: when every action would be changed, the one the supervisor
falls back to (full braking in the lane) is marked allowed.

The verdicts come from ``filter_controls`` itself, asked as few times as the rules allow: the
front check and the gap check both get easier as the acceleration falls, so once a level passes
every gentler level passes too; full braking (where the rear guard may act) is always asked.
A test holds the result equal to asking ``filter_controls`` about each action.
"""

from car_ai_rl.safety.supervisor import can_start_lane_change, filter_controls
from car_ai_rl.sim.controls import DISCRETE_CONTROLS, LANE_REQUESTS, LONGITUDINAL_LEVELS
from car_ai_rl.sim.jit import inline_kernel, kernel

N_LANE_REQUESTS = len(LANE_REQUESTS)
N_LEVELS = len(LONGITUDINAL_LEVELS)
KEEP = 1  # index of "keep the lane" among the lane requests
FULL_BRAKE_LEVEL = 0  # levels are ordered from full braking to full throttle
FALLBACK_ACTION = FULL_BRAKE_LEVEL * N_LANE_REQUESTS + KEEP


@inline_kernel
def passes(veh, env, b, a, p, near):
    """1.0 when the supervisor leaves discrete action a as it is, else 0.0."""
    throttle = DISCRETE_CONTROLS[a, 0]
    brake = DISCRETE_CONTROLS[a, 1]
    lane = DISCRETE_CONTROLS[a, 2]
    t, br, ln, _ = filter_controls(veh, env, b, throttle, brake, lane, p, near)
    return 1.0 if (t == throttle and br == brake and ln == lane) else 0.0


@kernel
def write_verdicts(veh, env, b, p, near, out, k):
    """Write the verdicts of env b on every discrete action at ``out[k:]`` (``near``: the
    supervisor's neighbours of env b)."""
    # while no lane change can start, a lane request is judged like keeping the lane
    requests_matter = can_start_lane_change(veh, b)
    for r in range(N_LANE_REQUESTS):
        request = (KEEP + r) % N_LANE_REQUESTS  # keeping the lane first: the others build on it
        if request != KEEP and not requests_matter:
            for level in range(N_LEVELS):
                out[k + level * N_LANE_REQUESTS + request] = out[k + level * N_LANE_REQUESTS + KEEP]
            continue
        # from full throttle down: the first level that passes lets every gentler one pass
        passed = False
        for level in range(N_LEVELS - 1, FULL_BRAKE_LEVEL, -1):
            a = level * N_LANE_REQUESTS + request
            keep_ok = request == KEEP or out[k + level * N_LANE_REQUESTS + KEEP] > 0.5
            if passed:
                out[k + a] = 1.0 if keep_ok else 0.0
            elif not keep_ok:
                out[k + a] = 0.0
            else:
                out[k + a] = passes(veh, env, b, a, p, near)
                passed = out[k + a] > 0.5
        a = FULL_BRAKE_LEVEL * N_LANE_REQUESTS + request
        out[k + a] = passes(veh, env, b, a, p, near)
    allowed = 0.0
    for a in range(N_LEVELS * N_LANE_REQUESTS):
        allowed += out[k + a]
    if allowed == 0.0:
        out[k + FALLBACK_ACTION] = 1.0
