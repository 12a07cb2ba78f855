"""The oracle planner behind the policy interface (it reads the state, not the observation)."""

from __future__ import annotations

import numpy as np

from car_ai_rl.planner.oracle import OraclePlanner
from car_ai_rl.policies.base import Policy
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


class OraclePolicy(Policy):
    kind = "oracle"

    def __init__(self) -> None:
        self.name = "oracle"
        self.planner = OraclePlanner()

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        return self.planner.controls(state, params)

    def metadata(self) -> dict[str, str]:
        p = self.planner
        return {
            "planner": "rollouts of the heuristic's variations in the simulator itself",
            "horizon_s": str(p.horizon_s),
            "replan_s": str(p.replan_s),
            "commit_s": str(p.commit_s),
        }
