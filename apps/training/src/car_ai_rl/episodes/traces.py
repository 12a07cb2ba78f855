"""Per-step traces of a rollout: columnar arrays, one row per step, sorted by (episode, step).

Each row pairs what the policy saw and did (the state and observation before the step, its raw
controls and the controls the sim used) with what followed (reward terms and events).
"""

from __future__ import annotations

import numpy as np

from car_ai_rl.sim import core, layout
from car_ai_rl.sim.reward import REWARD_TERMS
from car_ai_rl.sim.state import SimState

CONTROL_NAMES = ("throttle", "brake", "lane_request")
EVENT_COLUMNS = (
    "collision",
    "at_fault",
    "mission_success",
    "mission_failure",
    "terminated",
    "truncated",
    "exited",
    "lane_change_started",
)
TRACE_COLUMNS: tuple[str, ...] = (
    "episode",
    "step",
    "ego_x_m",
    "ego_y_m",
    "ego_speed_mps",
    "ego_lane",
    "mission_kind",
    "target_speed_mps",
    "mission_target_lane",
    "obs",
    *CONTROL_NAMES,
    *(f"policy_{name}" for name in CONTROL_NAMES),
    "supervisor_intervened",
    "supervisor_reasons",
    "reward",
    *(f"reward_{name}" for name in REWARD_TERMS),
    *EVENT_COLUMNS,
)


class TraceRecorder:
    """Collects rows step by step; :meth:`finish` returns the sorted columns."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in TRACE_COLUMNS}

    def _put(self, name: str, values: np.ndarray, dtype: type) -> None:
        self.parts[name].append(np.asarray(values, dtype=dtype).copy())

    def before_step(
        self,
        episodes: np.ndarray,
        state: SimState,
        obs: np.ndarray,
        raw_controls: np.ndarray,
        controls: np.ndarray,
        intervened: np.ndarray,
        reasons: np.ndarray,
    ) -> None:
        put = self._put
        put("episode", episodes, np.int32)
        put("step", state.env[layout.STEP], np.int32)
        put("ego_x_m", state.x_m[:, 0], np.float32)
        put("ego_y_m", state.y_m[:, 0], np.float32)
        put("ego_speed_mps", state.speed_mps[:, 0], np.float32)
        put("ego_lane", state.lane[:, 0], np.int8)
        put("mission_kind", state.env[layout.MISSION_KIND], np.int8)
        put("target_speed_mps", state.env[layout.TARGET_SPEED_MPS], np.float32)
        put("mission_target_lane", state.env[layout.MISSION_TARGET_LANE], np.int8)
        put("obs", obs, np.float32)
        for k, name in enumerate(CONTROL_NAMES):
            put(name, controls[:, k], np.float32)
            put(f"policy_{name}", raw_controls[:, k], np.float32)
        put("supervisor_intervened", intervened, np.bool_)
        put("supervisor_reasons", reasons, np.uint8)

    def after_step(self, result: core.StepResult) -> None:
        self._put("reward", result.reward, np.float32)
        for k, name in enumerate(REWARD_TERMS):
            self._put(f"reward_{name}", result.terms[:, k], np.float32)
        for name in EVENT_COLUMNS:
            self._put(name, result.event(name) > 0.5, np.bool_)

    def finish(self) -> dict[str, np.ndarray]:
        if not self.parts["episode"]:
            return {name: np.zeros(0) for name in TRACE_COLUMNS}
        columns = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        order = np.lexsort((columns["step"], columns["episode"]))
        return {name: values[order] for name, values in columns.items()}
