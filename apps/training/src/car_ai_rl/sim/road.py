"""Road geometry: lanes, the exit ramp, and distances on the periodic traffic segment.

Lanes are numbered from the left (0) to the right (n_lanes - 1) and lane k is centred at
y = k * lane_width_m. The exit ramp is lane n_lanes, alongside the rightmost lane over the
diverge zone [exit_x_m, exit_x_m + exit_ramp_length_m].

Traffic lives on a periodic segment of length ``ring_length_m`` that moves with the ego: each
vehicle is represented once, within one segment length starting ``traffic_window_behind_m``
behind the ego, and the vehicle ahead of the frontmost one is the rearmost one, a segment
length further on. Every along-road distance between two vehicles goes through
:func:`ahead_m`.
"""

import math

from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import EXIT_X_M, LANE, TARGET_LANE, X_M, Y_M


@kernel
def ahead_m(x_front_m, x_rear_m, ring_m):
    """How far ``x_front_m`` is ahead of ``x_rear_m`` along the periodic segment, in [0, ring_m)."""
    d = x_front_m - x_rear_m
    while d < 0.0:  # a vehicle can be a step's travel outside the segment until it is wrapped
        d += ring_m
    while d >= ring_m:
        d -= ring_m
    return d


@kernel
def lane_of_y(y_m, lane_width_m):
    """The lane whose centre is nearest to lateral position ``y_m`` (the ramp is n_lanes)."""
    return int(math.floor(y_m / lane_width_m + 0.5))


@inline_kernel
def in_exit_zone(env, b, x_m, p):
    """True when ``x_m`` lies in the diverge zone of env b's exit."""
    start = env[EXIT_X_M, b]
    return start <= x_m <= start + p.exit_ramp_length_m


@inline_kernel
def ramp_available(veh, env, b, j, p):
    """True when vehicle j can start its move onto the ramp now: in the rightmost lane, not
    changing lanes, inside the diverge zone."""
    lane = veh[LANE, b, j]
    return (
        lane == p.n_lanes - 1
        and veh[TARGET_LANE, b, j] == lane
        and in_exit_zone(env, b, veh[X_M, b, j], p)
    )


@inline_kernel
def lane_change_progress(veh, b, j, lane_width_m):
    """0..1 through vehicle j's lane change (0 when none is under way)."""
    lane = veh[LANE, b, j]
    target = veh[TARGET_LANE, b, j]
    if target == lane:
        return 0.0
    return min(abs(veh[Y_M, b, j] - lane * lane_width_m) / lane_width_m, 1.0)
