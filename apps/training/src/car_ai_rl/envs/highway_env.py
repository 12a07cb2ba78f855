"""``car_ai_rl/HighwayMission-v0``: one env through the Gymnasium API."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from car_ai_rl.envs.batch import BatchedSim, infos_for, make_params
from car_ai_rl.envs.render import render_frame
from car_ai_rl.sim import core
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.rng import episode_seed


class HighwayMissionEnv(gym.Env):
    """Highway driving with missions. Keyword arguments beyond the named ones are SimParams
    fields (``n_lanes=4``, ``traffic_density=25.0``, ...)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 5}

    def __init__(
        self,
        action_mode: str = "discrete",
        safety_supervisor: bool = False,
        render_mode: str | None = None,
        params: SimParams | dict | None = None,
        **sim_params: Any,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode: must be None or 'rgb_array', got {render_mode!r}")
        self.params = make_params(params, sim_params)
        self.sim = BatchedSim(1, self.params, action_mode, safety_supervisor)
        self.action_space = self.sim.single_action_space
        self.observation_space = self.sim.single_observation_space
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": self.params.decision_hz}
        self._last_collision = False

    @property
    def state(self) -> core.SimState:
        assert self.sim.state is not None, "call reset() first"
        return self.sim.state

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        user_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        obs = self.sim.reset(np.array([episode_seed(user_seed)], dtype=np.uint64))
        self._last_collision = False
        return obs[0], {"episode_seed": int(self.state.seeds[0])}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        batch_action = np.asarray(action)[None] if np.ndim(action) > 0 else np.array([action])
        step = self.sim.step(batch_action)
        r = step.result
        terminated, truncated = bool(r.terminated[0]), bool(r.truncated[0])
        obs = r.final_obs[0] if (terminated or truncated) else r.obs[0]
        self._last_collision = bool(r.event("collision")[0] > 0.5)
        return obs, float(r.reward[0]), terminated, truncated, infos_for(step)[0]

    def action_masks(self) -> np.ndarray:
        """(N_DISCRETE_ACTIONS,) bool: the actions the supervisor passes unchanged now (after
        an episode's last step: those of the next episode's first observation)."""
        return self.sim.action_masks()[0]

    def set_mission(self, kind: str, **targets: Any) -> None:
        """Change the mission now (``kind``: cruise, lane or exit); see ``core.set_mission``."""
        core.set_mission(self.state, 0, self.params, kind, **targets)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return render_frame(self.state, 0, self.params, collided=self._last_collision)
