"""The Intelligent Driver Model (Treiber, Hennecke & Helbing 2000; Treiber & Kesting 2013).

    s*(v, dv) = s0 + max(0, v T + v dv / (2 sqrt(a b)))
    a_IDM     = a (1 - (v / v0)^4 - (s* / s)^2)

with speed v, desired speed v0, bumper gap s, closing speed dv (own speed minus the leader's),
time headway T, maximum acceleration a, comfortable deceleration b and minimum gap s0. The
result is bounded by [-brake_max, a]. In equilibrium (dv = 0, a_IDM = 0) the gap is
s_e(v) = (s0 + v T) / sqrt(1 - (v / v0)^4). Traffic, the heuristic driver and the scenario
sampler all use these functions; nobody writes the formula again.
"""

import math

from car_ai_rl.sim.jit import kernel

GAP_FLOOR_M = 0.05  # the gap the interaction term never divides by less than
DELTA = 4  # the free-road exponent


@kernel
def desired_gap_m(speed_mps, closing_mps, headway_s, accel_max_mps2, decel_comfort_mps2, min_gap_m):
    """IDM's desired dynamic gap s*."""
    braking_scale = 2.0 * math.sqrt(accel_max_mps2 * decel_comfort_mps2)
    return min_gap_m + max(0.0, speed_mps * headway_s + speed_mps * closing_mps / braking_scale)


@kernel
def free_road_accel(speed_mps, desired_mps, accel_max_mps2):
    """a (1 - (v / v0)^4): the acceleration on an empty road."""
    ratio = speed_mps / max(desired_mps, 0.1)
    ratio2 = ratio * ratio
    return accel_max_mps2 * (1.0 - ratio2 * ratio2)


@kernel
def interaction_accel(accel_max_mps2, desired_gap, gap_m):
    """-a (s* / s)^2: the braking interaction with the leader."""
    q = desired_gap / max(gap_m, GAP_FLOOR_M)
    return -accel_max_mps2 * q * q


@kernel
def idm_accel(
    speed_mps,
    desired_mps,
    gap_m,
    closing_mps,
    headway_s,
    accel_max_mps2,
    decel_comfort_mps2,
    min_gap_m,
    brake_max_mps2,
):
    """IDM acceleration; ``gap_m`` is inf when there is no leader."""
    acc = free_road_accel(speed_mps, desired_mps, accel_max_mps2)
    if not math.isinf(gap_m):
        s_star = desired_gap_m(
            speed_mps, closing_mps, headway_s, accel_max_mps2, decel_comfort_mps2, min_gap_m
        )
        acc += interaction_accel(accel_max_mps2, s_star, gap_m)
    return min(max(acc, -brake_max_mps2), accel_max_mps2)


@kernel
def equilibrium_gap_m(speed_mps, desired_mps, headway_s, min_gap_m):
    """s_e(v) = (s0 + v T) / sqrt(1 - (v / v0)^4); inf at or above the desired speed."""
    ratio = speed_mps / max(desired_mps, 0.1)
    root = 1.0 - ratio * ratio * ratio * ratio
    if root <= 0.0:
        return math.inf
    return (min_gap_m + speed_mps * headway_s) / math.sqrt(root)


@kernel
def equilibrium_speed_mps(gap_m, desired_mps, headway_s, min_gap_m):
    """The speed whose equilibrium gap is ``gap_m`` (0 at or below the minimum gap), found by
    bisection: s_e(v) increases with v."""
    if gap_m <= min_gap_m:
        return 0.0
    lo = 0.0
    hi = desired_mps
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        if equilibrium_gap_m(mid, desired_mps, headway_s, min_gap_m) < gap_m:
            lo = mid
        else:
            hi = mid
    return lo
