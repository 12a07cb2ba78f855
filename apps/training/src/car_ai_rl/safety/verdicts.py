"""The supervisor's verdicts on every discrete action, as the observation carries them.

Verdict a is 1 when :func:`supervisor.filter_controls` would pass discrete action a exactly as
it is, 0 when it would change it. A policy that reads them knows the rules it runs under, and
masking the actions with verdict 0 leaves it only actions the supervisor never overrides. At
least one action is always allowed: when every action would be changed, the one the supervisor
falls back to (full braking in the lane) is marked allowed.
"""

from car_ai_rl.safety.supervisor import filter_controls
from car_ai_rl.sim.controls import DISCRETE_CONTROLS, N_DISCRETE_ACTIONS
from car_ai_rl.sim.jit import kernel

FALLBACK_ACTION = 1  # full brake, keep the lane


@kernel
def write_verdicts(veh, env, b, p, near, out, k):
    """Write the N_DISCRETE_ACTIONS verdicts of env b at ``out[k:]`` (``near``: the
    supervisor's neighbours of env b)."""
    allowed = 0
    for a in range(N_DISCRETE_ACTIONS):
        throttle = DISCRETE_CONTROLS[a, 0]
        brake = DISCRETE_CONTROLS[a, 1]
        lane = DISCRETE_CONTROLS[a, 2]
        t, br, ln, _ = filter_controls(veh, env, b, throttle, brake, lane, p, near)
        same = t == throttle and br == brake and ln == lane
        out[k + a] = 1.0 if same else 0.0
        if same:
            allowed += 1
    if allowed == 0:
        out[k + FALLBACK_ACTION] = 1.0
