"""A native batched Gymnasium VectorEnv (same-step auto-reset)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from car_ai_rl.envs.batch import BatchedSim, make_params
from car_ai_rl.envs.render import render_frame
from car_ai_rl.sim import core
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.views import step_info


class HighwayMissionVectorEnv(VectorEnv):
    """``num_envs`` highway envs stepped in one call. Finished envs reset in the same step;
    their last observation is in ``infos["final_obs"]`` where ``infos["_final_obs"]`` is set."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        action_mode: str = "discrete",
        safety_supervisor: bool = False,
        render_mode: str | None = None,
        params: SimParams | dict | None = None,
        **sim_params: Any,
    ) -> None:
        self.params = make_params(params, sim_params)
        self.sim = BatchedSim(num_envs, self.params, action_mode, safety_supervisor)
        self.num_envs = int(num_envs)
        self.single_action_space = self.sim.single_action_space
        self.single_observation_space = self.sim.single_observation_space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.render_mode = render_mode

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        obs = self.sim.reset(core.seeds_from_ints(seed, self.num_envs))
        return obs, {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        step = self.sim.step(actions)
        r = step.result
        done = r.done
        infos: dict[str, Any] = step_info(r, step.intervened, step.reasons)
        if done.any():
            final_obs = np.empty(self.num_envs, dtype=object)
            for b in np.nonzero(done)[0]:
                final_obs[b] = r.final_obs[b]
            infos["final_obs"] = final_obs
            infos["_final_obs"] = done
        return r.obs, r.reward.astype(np.float32), r.terminated, r.truncated, infos

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode != "rgb_array" or self.sim.state is None:
            return None
        return tuple(render_frame(self.sim.state, b, self.params) for b in range(self.num_envs))
