"""An SB3 PPO or DQN zip behind the policy interface (``predict(deterministic=True)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl.envs.actions import decode_actions
from car_ai_rl.policies.base import Policy, check_obs
from car_ai_rl.policies.sb3_model import ModelInfo, load_sb3
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


class SB3Policy(Policy):
    kind = "sb3"

    def __init__(self, model: Any, info: ModelInfo) -> None:
        self.model = model
        self.info = info
        self.name = info.path.stem
        self.path = info.path
        self.action_mode = info.action_mode
        self.sim_params = info.sim_params

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """The raw deterministic actions SB3 gives for obs (B, OBS_DIM)."""
        arr = check_obs(obs, OBS_DIM, self.name)
        action, _ = self.model.predict(arr, deterministic=True)
        return np.asarray(action)

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        action = self.predict(obs)
        return decode_actions(action, self.info.action_mode, len(action))

    def metadata(self) -> dict[str, str]:
        return self.info.metadata()


def load_sb3_policy(path: str | Path) -> SB3Policy:
    model, info = load_sb3(path)
    return SB3Policy(model, info)
