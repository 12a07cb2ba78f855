"""The passive ego: a textbook IDM car that never changes lanes.

It drives with the traffic's own IDM constants (the mean driver), so a passive ego is just one
more vehicle in the stream: the probe that measures the traffic (``bench/fundamental_diagram.py``
and the traffic tests) without disturbing it.
"""

from __future__ import annotations

import math

import numpy as np

from car_ai_rl.safety.supervisor import supervisor_neighbours
from car_ai_rl.sim.controls import pedals_for_accel
from car_ai_rl.sim.idm import idm_accel
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.layout import BRAKE, LANE_REQUEST, RING_LENGTH_M, SPEED_MPS, THROTTLE
from car_ai_rl.sim.neighbours import NO_VEHICLE, bumper_gap_m
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


@kernel
def passive_batch(veh, env, pv, out):
    p = pv[0]
    near = np.empty(6, dtype=np.int64)
    desired = 0.5 * (p.traffic_speed_min_mps + p.traffic_speed_max_mps)
    headway = 0.5 * (p.traffic_headway_min_s + p.traffic_headway_max_s)
    for b in range(veh.shape[1]):
        supervisor_neighbours(veh, env, b, near)
        v = veh[SPEED_MPS, b, 0]
        lead = near[1]
        gap = math.inf
        closing = 0.0
        if lead != NO_VEHICLE:
            gap = bumper_gap_m(veh, b, 0, lead, env[RING_LENGTH_M, b])
            closing = v - veh[SPEED_MPS, b, lead]
        accel = idm_accel(
            v,
            desired,
            gap,
            closing,
            headway,
            p.traffic_accel_max_mps2,
            p.traffic_decel_comfort_mps2,
            p.traffic_min_gap_m,
            p.traffic_brake_max_mps2,
        )
        throttle, brake = pedals_for_accel(accel, v, p)
        out[b, THROTTLE] = throttle
        out[b, BRAKE] = brake
        out[b, LANE_REQUEST] = 0.0


def passive_controls(state: SimState, params: SimParams) -> np.ndarray:
    """Controls (B, 3) of a passive IDM ego in every env of ``state``."""
    out = np.zeros((state.n_envs, 3))
    passive_batch(state.veh, state.env, params.kernel_record, out)
    return out
