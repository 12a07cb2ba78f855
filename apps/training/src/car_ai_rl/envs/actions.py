"""Action modes and the one function that decodes actions to controls.

- ``discrete``: 21 actions = 7 longitudinal levels x 3 lane requests (works with DQN).
- ``continuous``: a Box [-1, 1]^3 for throttle, brake and lane (works with PPO).
- ``plan``: 10 driving plans (``car_ai_rl.policies.plans``): the heuristic driver and its
  variations (slower, faster, hold the lane, close up on the leader). The driver turns the
  chosen plan into controls from the state, so this mode decodes with the state.

All decode to controls (throttle in [0, 1], brake in [0, 1], lane request in {-1, 0, +1}) with
the tables and functions of ``car_ai_rl.sim.controls`` (the first two) or the driver (plans);
the supervisor and the app speak controls. An exported graph gives controls for the first two
modes and the plan for the third, which the app decodes as this module does.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from car_ai_rl.errors import UserError
from car_ai_rl.policies.plans import N_PLANS, plan_controls
from car_ai_rl.sim.controls import (
    DISCRETE_CONTROLS,
    LANE_THRESHOLD,
    N_DISCRETE_ACTIONS,
    continuous_to_controls,
)
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

ACTION_MODES = ("discrete", "continuous", "plan")
__all__ = [
    "ACTION_MODES",
    "DISCRETE_CONTROLS",
    "LANE_THRESHOLD",
    "N_DISCRETE_ACTIONS",
    "N_PLANS",
    "action_space",
    "check_mode",
    "decode_actions",
]


def action_space(mode: str) -> spaces.Space:
    check_mode(mode)
    if mode == "discrete":
        return spaces.Discrete(N_DISCRETE_ACTIONS)
    if mode == "plan":
        return spaces.Discrete(N_PLANS)
    return spaces.Box(low=-1.0, high=1.0, shape=(3,), dtype=np.float32)


def check_mode(mode: str) -> None:
    if mode not in ACTION_MODES:
        raise UserError(f"action_mode: must be one of {', '.join(ACTION_MODES)}, got {mode!r}")


def indices(actions: np.ndarray, n_envs: int, n_choices: int, what: str) -> np.ndarray:
    """``actions`` as int64 (n_envs,) indices in [0, n_choices), or ValueError naming
    'action' (``what`` names the choices: "discrete actions", "plans")."""
    a = np.asarray(actions)
    if a.size != n_envs or a.ndim > 2:
        raise ValueError(f"action: expected {n_envs} {what}, got shape {a.shape}")
    a = a.reshape(n_envs)
    if a.dtype.kind not in "iu":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise ValueError(f"action: {what} must be integers, got {a}")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n_choices:
        raise ValueError(f"action: must be in [0, {n_choices - 1}], got {a}")
    return a


def decode_actions(
    actions: np.ndarray,
    mode: str,
    n_envs: int,
    state: SimState | None = None,
    params: SimParams | None = None,
) -> np.ndarray:
    """Controls (B, 3) from a batch of actions (plans need the ``state`` and ``params`` they
    are driven in); bad actions raise ValueError naming 'action'."""
    if mode == "plan":
        if state is None or params is None:
            raise ValueError("action: plans decode with the simulator state and params")
        plans = indices(actions, n_envs, N_PLANS, "plans")
        return plan_controls(state, params, plans)
    if mode == "discrete":
        return DISCRETE_CONTROLS[indices(actions, n_envs, N_DISCRETE_ACTIONS, "discrete actions")]
    a = np.asarray(actions, dtype=np.float64).reshape(n_envs, -1)
    if a.shape[1] != 3:
        raise ValueError(f"action: expected shape ({n_envs}, 3), got {np.shape(actions)}")
    if not np.all(np.isfinite(a)):
        raise ValueError("action: contains NaN or infinity")
    if np.any(np.abs(a) > 1.0 + 1e-6):
        raise ValueError(f"action: outside the Box [-1, 1]^3: {a.tolist()}")
    return continuous_to_controls(np.clip(a, -1.0, 1.0))
