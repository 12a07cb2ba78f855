"""An SB3 VecEnv that steps the whole batch in one call, with no subprocesses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from car_ai_rl.envs.batch import BatchedSim, infos_for, make_params
from car_ai_rl.sim import core
from car_ai_rl.sim.params import SimParams


class HighwayMissionVecEnv(VecEnv):
    """SB3 view of ``n_envs`` envs. Done envs report ``terminal_observation`` and
    ``TimeLimit.truncated`` in their info, as SB3 needs for bootstrapping. ``vehicle_capacity``
    leaves room for denser params set later (``env.params = ...`` between episodes)."""

    def __init__(
        self,
        n_envs: int,
        action_mode: str = "discrete",
        safety_supervisor: bool = False,
        seed: int = 0,
        params: SimParams | dict | None = None,
        vehicle_capacity: int | None = None,
        **sim_params: Any,
    ) -> None:
        self.params = make_params(params, sim_params)
        self.sim = BatchedSim(n_envs, self.params, action_mode, safety_supervisor, vehicle_capacity)
        self.render_mode = None
        super().__init__(n_envs, self.sim.single_observation_space, self.sim.single_action_space)
        self._base_seed = int(seed)
        self._actions: np.ndarray | None = None
        self.last_step = None

    def reset(self) -> np.ndarray:
        seeds = [s if s is not None else self._base_seed + i for i, s in enumerate(self._seeds)]
        obs = self.sim.reset(core.seeds_from_ints(seeds))
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        assert self._actions is not None
        step = self.sim.step(self._actions)
        self.last_step = step
        r = step.result
        done = r.done
        infos = infos_for(step)
        for b in np.nonzero(done)[0]:
            infos[b]["terminal_observation"] = r.final_obs[b]
            infos[b]["TimeLimit.truncated"] = bool(r.truncated[b] and not r.terminated[b])
        return r.obs, r.reward.astype(np.float32), done, infos

    def action_masks(self) -> np.ndarray:
        """(n_envs, N_DISCRETE_ACTIONS) bool: the supervisor's verdicts in the current
        observations, as sb3-contrib's ``MaskablePPO`` asks for them."""
        return self.sim.action_masks()

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        if method_name == "set_mission":
            return [
                core.set_mission(self.sim.state, b, self.params, *method_args, **method_kwargs)
                for b in self._indices(indices)
            ]
        if method_name == "action_masks":  # one row per env, as sb3-contrib stacks them
            masks = self.action_masks()
            return [masks[b] for b in self._indices(indices)]
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices: None | int | Iterable[int]) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)
