"""An SB3 PPO or DQN zip behind the policy interface (``predict(deterministic=True)``).

Inference runs on one torch thread: the networks are small, and more threads only contend with
the simulator's own threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from car_ai_rl.envs.actions import decode_actions
from car_ai_rl.policies.base import Policy, check_obs
from car_ai_rl.policies.sb3_model import ModelInfo, action_mode_of, load_sb3
from car_ai_rl.sim.observation import OBS_DIM, allowed_actions
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState


class SB3Policy(Policy):
    """A loaded zip (with its :class:`ModelInfo`), or an in-memory model during training
    (``SB3Policy(model)``: no file, action mode from the action space)."""

    kind = "sb3"

    def __init__(self, model: Any, info: ModelInfo | None = None, name: str = "model") -> None:
        self.model = model
        self.info = info
        if info is None:
            self.name = name
            self.action_mode = action_mode_of(model.action_space, Path(name))
        else:
            self.name = info.path.stem
            self.path = info.path
            self.action_mode = info.action_mode
            self.sim_params = info.sim_params

    def predict(self, obs: np.ndarray) -> np.ndarray:
        """The raw deterministic actions SB3 gives for obs (B, OBS_DIM)."""
        arr = check_obs(obs, OBS_DIM, self.name)
        with one_torch_thread():
            if is_maskable_ppo(self.model):
                action, _ = self.model.predict(
                    arr, deterministic=True, action_masks=allowed_actions(arr)
                )
            else:  # a masked DQN masks inside its Q-network
                action, _ = self.model.predict(arr, deterministic=True)
        return np.asarray(action)

    def act(self, obs: np.ndarray, state: SimState, params: SimParams) -> np.ndarray:
        action = self.predict(obs)
        return decode_actions(action, self.action_mode, len(action), state, params)

    def metadata(self) -> dict[str, str]:
        if self.info is None:
            return {"action_mode": self.action_mode, "train_steps": str(self.model.num_timesteps)}
        return self.info.metadata()


def is_maskable_ppo(model: Any) -> bool:
    return type(model).__name__ == "MaskablePPO"


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def load_sb3_policy(path: str | Path) -> SB3Policy:
    model, info = load_sb3(path)
    return SB3Policy(model, info)
