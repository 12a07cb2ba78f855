"""The heuristic driver as a batched function of the simulator state."""

from __future__ import annotations

import numpy as np

from car_ai_rl.policies.heuristic_kernel import heuristic_batch
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


def heuristic_controls(state: SimState, params: SimParams) -> np.ndarray:
    """Controls (B, 3) of the heuristic driver for every env in ``state``."""
    out = np.zeros((state.n_envs, 3))
    heuristic_batch(state.veh, state.env, params.kernel_record, out)
    return out
