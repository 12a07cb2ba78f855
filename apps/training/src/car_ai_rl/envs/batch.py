"""The shared engine of every adapter: decode actions, apply the supervisor, step the core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from car_ai_rl.envs.actions import action_space, check_mode, decode_actions
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.observation import OBS_DIM, allowed_actions
from car_ai_rl.sim.params import SimParams, sim_params_from_dict
from car_ai_rl.sim.state import SimState
from car_ai_rl.sim.views import info_rows, step_info


def observation_space() -> spaces.Box:
    return spaces.Box(low=-1.0, high=1.0, shape=(OBS_DIM,), dtype=np.float32)


def make_params(params: SimParams | dict | None, overrides: dict) -> SimParams:
    """SimParams from an instance or mapping plus keyword overrides (validated)."""
    if isinstance(params, SimParams):
        base = params.to_dict()
    else:
        base = dict(params or {})
    return sim_params_from_dict({**base, **overrides})


@dataclass
class BatchStep:
    result: core.StepResult
    controls: np.ndarray  # the controls the sim used (after the supervisor)
    intervened: np.ndarray  # (B,) bool
    reasons: np.ndarray  # (B,) supervisor reason bitmasks


class BatchedSim:
    """B envs stepped together in one call, with no subprocesses."""

    def __init__(
        self,
        n_envs: int,
        params: SimParams,
        action_mode: str,
        safety_supervisor: bool,
        vehicle_capacity: int | None = None,
    ) -> None:
        check_mode(action_mode)
        self.n_envs = int(n_envs)
        self.params = params
        # room for params with denser traffic later on (a curriculum raises the density)
        self.vehicle_capacity = vehicle_capacity
        self.action_mode = action_mode
        self.safety_supervisor = bool(safety_supervisor)
        self.single_action_space = action_space(action_mode)
        self.single_observation_space = observation_space()
        self.buffers = core.StepBuffers(self.n_envs)
        self.state: SimState | None = None
        self.obs: np.ndarray | None = None  # the observation the next actions answer

    def reset(self, episode_seeds: np.ndarray) -> np.ndarray:
        self.state, obs = core.reset(self.params, episode_seeds, self.vehicle_capacity)
        self.obs = obs
        return obs

    def action_masks(self) -> np.ndarray:
        """(B, N_DISCRETE_ACTIONS) bool: the actions the supervisor passes unchanged now, read
        off the current observation (see ``sim.observation.allowed_actions``)."""
        if self.obs is None:
            raise RuntimeError("call reset() before action_masks()")
        return allowed_actions(self.obs)

    def step(self, actions: np.ndarray) -> BatchStep:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        controls = decode_actions(actions, self.action_mode, self.n_envs, self.state, self.params)
        if self.safety_supervisor:
            controls, intervened, reasons = supervisor.filter(self.state, controls, self.params)
        else:
            intervened = np.zeros(self.n_envs, dtype=bool)
            reasons = np.zeros(self.n_envs, dtype=np.int64)
        _, result = core.step(self.state, controls, self.params, self.buffers)
        self.obs = result.obs
        return BatchStep(result, controls, intervened, reasons)


def infos_for(step: BatchStep) -> list[dict]:
    """The per-env info dicts of a step (see ``car_ai_rl.sim.views.step_info`` for the keys)."""
    return info_rows(step_info(step.result, step.intervened, step.reasons))
