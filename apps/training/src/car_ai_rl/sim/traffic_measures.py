"""Traffic measured as a traffic engineer would: Edie's generalized definitions over the ego's
window (``traffic_window_behind_m`` behind to ``traffic_window_ahead_m`` ahead, main lanes only).

Over a region of road length L (times the lane count) and time, density is the total time the
vehicles spend in it divided by its area, and flow is the total distance they travel in it
divided by the same area; their ratio is the space-mean speed. Sampled once per decision step,
each step contributes the vehicles inside the window and their speeds.
"""

from __future__ import annotations

import numpy as np

from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


def window_density_flow(state: SimState, params: SimParams) -> tuple[np.ndarray, np.ndarray]:
    """Per env: vehicles/km/lane and vehicles/h/lane inside the ego's window right now."""
    ahead_m = state.x_m - state.x_m[:, :1]
    inside = (
        state.active
        & (state.lane < params.n_lanes)
        & (ahead_m >= -params.traffic_window_behind_m)
        & (ahead_m < params.traffic_window_ahead_m)
    )
    area_m = params.window_m * params.n_lanes
    density = 1000.0 * inside.sum(axis=1) / area_m
    flow = 3600.0 * np.where(inside, state.speed_mps, 0.0).sum(axis=1) / area_m
    return density, flow
