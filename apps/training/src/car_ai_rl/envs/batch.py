"""The shared engine of every adapter: decode actions, apply the supervisor, step the core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from car_ai_rl.envs.actions import action_space, check_mode, decode_actions
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.params import SimParams, sim_params_from_dict
from car_ai_rl.sim.reward import REWARD_TERMS
from car_ai_rl.sim.state import SimState

INFO_EVENTS = ("collision", "at_fault", "mission_success", "mission_failure", "exited")


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
        self, n_envs: int, params: SimParams, action_mode: str, safety_supervisor: bool
    ) -> None:
        check_mode(action_mode)
        self.n_envs = int(n_envs)
        self.params = params
        self.action_mode = action_mode
        self.safety_supervisor = bool(safety_supervisor)
        self.single_action_space = action_space(action_mode)
        self.single_observation_space = observation_space()
        self.buffers = core.StepBuffers(self.n_envs)
        self.state: SimState | None = None

    def reset(self, episode_seeds: np.ndarray) -> np.ndarray:
        self.state, obs = core.reset(self.params, episode_seeds)
        return obs

    def step(self, actions: np.ndarray) -> BatchStep:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        controls = decode_actions(actions, self.action_mode, self.n_envs)
        if self.safety_supervisor:
            controls, intervened, reasons = supervisor.filter(self.state, controls, self.params)
        else:
            intervened = np.zeros(self.n_envs, dtype=bool)
            reasons = np.zeros(self.n_envs, dtype=np.int64)
        _, result = core.step(self.state, controls, self.params, self.buffers)
        return BatchStep(result, controls, intervened, reasons)


def info_for(step: BatchStep, b: int) -> dict:
    """The per-env info dict of a step."""
    r = step.result
    info: dict = {name: bool(r.event(name)[b] > 0.5) for name in INFO_EVENTS}
    info["supervisor_intervened"] = bool(step.intervened[b])
    info["supervisor_reasons"] = supervisor.reason_names(step.reasons[b])
    info["speed_mps"] = float(r.event("speed_mps")[b])
    info["target_speed_mps"] = float(r.event("target_speed_mps")[b])
    info["mission_kind"] = int(r.event("mission_kind")[b])
    info["lane_change_started"] = bool(r.event("lane_change_started")[b] > 0.5)
    info["distance_m"] = float(r.event("distance_m")[b])
    for k, name in enumerate(REWARD_TERMS):
        info[f"reward_{name}"] = float(r.terms[b, k])
    return info
