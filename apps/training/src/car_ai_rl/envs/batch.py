"""The shared engine of every adapter: decode actions, apply the supervisor, step the core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from car_ai_rl.envs.actions import action_space, check_mode, decode_actions
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, layout
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

    def reset(self, episode_seeds: np.ndarray) -> np.ndarray:
        self.state, obs = core.reset(self.params, episode_seeds, self.vehicle_capacity)
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


_EVENT_INDEX = {name: layout.EVENT_NAMES.index(name) for name in INFO_EVENTS}
_SPEED = layout.EVENT_NAMES.index("speed_mps")
_TARGET_SPEED = layout.EVENT_NAMES.index("target_speed_mps")
_KIND = layout.EVENT_NAMES.index("mission_kind")
_LANE_CHANGE = layout.EVENT_NAMES.index("lane_change_started")
_DISTANCE = layout.EVENT_NAMES.index("distance_m")
_TERM_KEYS = tuple(f"reward_{name}" for name in REWARD_TERMS)


def infos_for(step: BatchStep) -> list[dict]:
    """The per-env info dicts of a step (built from plain lists: this runs every step)."""
    events = step.result.events.tolist()
    terms = step.result.terms.tolist()
    intervened = step.intervened.tolist()
    reasons = step.reasons.tolist()
    infos = []
    for b, ev in enumerate(events):
        info: dict = {name: ev[k] > 0.5 for name, k in _EVENT_INDEX.items()}
        info["supervisor_intervened"] = intervened[b]
        info["supervisor_reasons"] = supervisor.reason_names(reasons[b]) if reasons[b] else []
        info["speed_mps"] = ev[_SPEED]
        info["target_speed_mps"] = ev[_TARGET_SPEED]
        info["mission_kind"] = int(ev[_KIND])
        info["lane_change_started"] = ev[_LANE_CHANGE] > 0.5
        info["distance_m"] = ev[_DISTANCE]
        info.update(zip(_TERM_KEYS, terms[b], strict=True))
        infos.append(info)
    return infos
