"""The heuristic driver as a batched function of the simulator state."""

from __future__ import annotations

import numpy as np

from car_ai_rl.policies.heuristic_kernel import HEADWAY_S, heuristic_batch
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


def heuristic_controls(
    state: SimState,
    params: SimParams,
    speed_offset_mps: np.ndarray | None = None,
    hold_lane: np.ndarray | None = None,
    headway_s: np.ndarray | None = None,
) -> np.ndarray:
    """Controls (B, 3) of the heuristic driver for every env in ``state``; optionally with a
    per-env offset to the target speed it drives at and a per-env ban on new lane changes
    and a per-env time headway to follow at (the planner's variations of the driver)."""
    n = state.n_envs
    offsets = np.zeros(n) if speed_offset_mps is None else np.asarray(speed_offset_mps, float)
    hold = np.zeros(n, dtype=np.bool_) if hold_lane is None else np.asarray(hold_lane, bool)
    headways = np.full(n, HEADWAY_S) if headway_s is None else np.asarray(headway_s, float)
    out = np.zeros((n, 3))
    heuristic_batch(state.veh, state.env, params.kernel_record, out, offsets, hold, headways)
    return out
