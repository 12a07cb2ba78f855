"""Car-following of the traffic: every vehicle drives IDM behind its leader(s).

A vehicle changing lanes follows the leaders of both lanes it occupies. A vehicle that means
to take the exit slows to ``traffic_exit_speed_mps`` once it is in the rightmost lane within
``traffic_exit_prepare_m`` of the diverge zone, and on the ramp, braking no harder than
comfortably for that (IDM itself would brake hard above its desired speed).
"""

import math

from car_ai_rl.sim.idm import idm_accel
from car_ai_rl.sim.jit import inline_kernel, kernel
from car_ai_rl.sim.layout import (
    ACCEL_MAX_MPS2,
    ACTIVE,
    DESIRED_SPEED_MPS,
    EXIT_INTENT,
    EXIT_X_M,
    HEADWAY_S,
    LANE,
    SPEED_MPS,
    TARGET_LANE,
    X_M,
)
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m, nearest_in_lane


@inline_kernel
def exit_approach(veh, b, i, p, exit_x_m):
    """True when vehicle i intends to exit and is within the exit's approach or diverge zone
    (``exit_x_m``: where the zone starts; scalars rather than the env array keep this cheap)."""
    if veh[EXIT_INTENT, b, i] < 0.5:
        return False
    to_zone = exit_x_m - veh[X_M, b, i]
    return -p.exit_ramp_length_m <= to_zone <= p.traffic_exit_prepare_m


EXIT_SLOWDOWN_GAIN_PER_S = 0.5


@inline_kernel
def exit_slowdown_accel(veh, b, i, p, exit_x_m):
    """The acceleration cap of a vehicle about to take the exit (inf when there is none)."""
    if (
        i == 0
        or veh[TARGET_LANE, b, i] < p.n_lanes - 1
        or not exit_approach(veh, b, i, p, exit_x_m)
    ):
        return math.inf
    wanted = EXIT_SLOWDOWN_GAIN_PER_S * (p.traffic_exit_speed_mps - veh[SPEED_MPS, b, i])
    return max(wanted, -p.traffic_decel_comfort_mps2)


@inline_kernel
def idm_behind(veh, b, i, lead, p, ring_m, exit_x_m):
    """IDM acceleration of vehicle i if ``lead`` (NO_VEHICLE: nobody) were its leader."""
    v = veh[SPEED_MPS, b, i]
    gap = math.inf
    closing = 0.0
    if lead != NO_VEHICLE:
        gap = bumper_gap_m(veh, b, i, lead, ring_m)
        closing = v - veh[SPEED_MPS, b, lead]
    acc = idm_accel(
        v,
        veh[DESIRED_SPEED_MPS, b, i],
        gap,
        closing,
        veh[HEADWAY_S, b, i],
        veh[ACCEL_MAX_MPS2, b, i],
        p.traffic_decel_comfort_mps2,
        p.traffic_min_gap_m,
        p.traffic_brake_max_mps2,
    )
    return min(acc, exit_slowdown_accel(veh, b, i, p, exit_x_m))


@kernel
def traffic_accels(veh, env, b, p, ring_m, order, rank, acc):
    """IDM accelerations of env b's traffic into ``acc[1:]`` (0 for inactive vehicles), with
    leaders found along the sorted ``order`` (see ``neighbours.nearest_in_lane``).

    One call per env, with the per-vehicle loop inside: a call per vehicle costs more than
    the IDM arithmetic itself."""
    exit_x = env[EXIT_X_M, b]
    for i in range(1, veh.shape[2]):
        if veh[ACTIVE, b, i] < 0.5:
            acc[i] = 0.0
            continue
        lane = int(veh[LANE, b, i])
        lead = nearest_in_lane(veh, b, order, rank, i, lane, True)
        a = idm_behind(veh, b, i, lead, p, ring_m, exit_x)
        target = int(veh[TARGET_LANE, b, i])
        if target != lane:
            lead = nearest_in_lane(veh, b, order, rank, i, target, True)
            a = min(a, idm_behind(veh, b, i, lead, p, ring_m, exit_x))
        acc[i] = a
