"""The heuristic driver behind the policy interface (it reads the state, not the observation)."""

from __future__ import annotations

import numpy as np

from car_ai_rl.policies.base import Policy
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


class HeuristicPolicy(Policy):
    kind = "heuristic"

    def __init__(self) -> None:
        self.name = "heuristic"

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        return heuristic_controls(state, params)

    def metadata(self) -> dict[str, str]:
        return {"driver": "mission-aware IDM with gap-checked lane changes"}
