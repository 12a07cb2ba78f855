"""The pure batched simulator API: ``reset(params, seeds)`` and ``step(state, controls, params)``.

``step`` updates ``state`` in place and returns it with a :class:`StepResult`. Envs that finish
(collision, exit, time limit) start a fresh episode from the next seed of their slot inside the
same call; their last observation is kept in ``StepResult.final_obs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from car_ai_rl.errors import UserError
from car_ai_rl.sim import layout
from car_ai_rl.sim.missions import apply_mission, schedule_change
from car_ai_rl.sim.observation import OBS_DIM
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.reward import N_TERMS, REWARD_TERMS
from car_ai_rl.sim.rng import episode_seed
from car_ai_rl.sim.state import SimState
from car_ai_rl.sim.step_kernel import reset_batch, step_batch, step_batch_parallel

PARALLEL_MIN_ENVS = 64


@dataclass
class StepResult:
    """Outputs of one batched step. Arrays have a leading batch axis B."""

    obs: np.ndarray  # (B, OBS_DIM) float32, after any auto-reset
    final_obs: np.ndarray  # (B, OBS_DIM) float32, valid where done
    reward: np.ndarray  # (B,) float64
    terms: np.ndarray  # (B, N_TERMS) float64, see REWARD_TERMS
    events: np.ndarray  # (B, N_EVENTS) float64, see layout.EVENT_NAMES

    @property
    def terminated(self) -> np.ndarray:
        return self.events[:, layout.EV_TERMINATED] > 0.5

    @property
    def truncated(self) -> np.ndarray:
        return self.events[:, layout.EV_TRUNCATED] > 0.5

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated

    def event(self, name: str) -> np.ndarray:
        return self.events[:, layout.EVENT_NAMES.index(name)]

    def term(self, name: str) -> np.ndarray:
        return self.terms[:, REWARD_TERMS.index(name)]


class StepBuffers:
    """Preallocated output arrays, reused across steps by the adapters."""

    def __init__(self, n_envs: int) -> None:
        self.obs64 = np.zeros((n_envs, OBS_DIM))
        self.final_obs64 = np.zeros((n_envs, OBS_DIM))
        self.reward = np.zeros(n_envs)
        self.terms = np.zeros((n_envs, N_TERMS))
        self.events = np.zeros((n_envs, layout.N_EVENTS))


def seeds_from_ints(seeds: np.ndarray | list[int] | int, n_envs: int | None = None) -> np.ndarray:
    """Episode seeds from user integers (one per env, or a base seed counted up per env)."""
    if np.isscalar(seeds):
        if n_envs is None:
            raise ValueError("n_envs is required with a scalar seed")
        ints = [int(seeds) + i for i in range(n_envs)]
    else:
        ints = [int(s) for s in np.asarray(seeds).ravel()]
    return np.array([episode_seed(s) for s in ints], dtype=np.uint64)


def reset(
    params: SimParams, seeds: np.ndarray, n_vehicles: int | None = None
) -> tuple[SimState, np.ndarray]:
    """Fresh episodes, one per episode seed (see :func:`seeds_from_ints`).

    The vehicle buffer holds ``params.vehicle_count`` vehicles, or ``n_vehicles`` when that is
    larger: spare slots stay inactive (room for later episodes with denser params, or for
    vehicles a test places by hand)."""
    seeds = np.asarray(seeds, dtype=np.uint64)
    capacity = max(params.vehicle_count, n_vehicles or 0)
    state = SimState.allocate(len(seeds), capacity)
    state.seeds[:] = seeds
    obs = np.zeros((len(seeds), OBS_DIM))
    reset_batch(
        state.veh, state.env, state.seeds, np.ones(len(seeds), bool), params.kernel_record, obs
    )
    return state, obs.astype(np.float32)


def reset_envs(
    state: SimState, mask: np.ndarray, seeds: np.ndarray, params: SimParams
) -> np.ndarray:
    """Restart the envs selected by ``mask`` with new episode seeds; returns all observations."""
    mask = np.asarray(mask, dtype=bool)
    if state.n_vehicles < params.vehicle_count:
        raise ValueError(
            f"the state holds {state.n_vehicles} vehicles; these params need {params.vehicle_count}"
        )
    state.seeds[mask] = np.asarray(seeds, dtype=np.uint64)
    obs = np.zeros((state.n_envs, OBS_DIM))
    reset_batch(state.veh, state.env, state.seeds, mask, params.kernel_record, obs)
    return obs.astype(np.float32)


def step(
    state: SimState,
    controls: np.ndarray,
    params: SimParams,
    buffers: StepBuffers | None = None,
) -> tuple[SimState, StepResult]:
    """One decision step for every env. ``controls``: (B, 3) throttle, brake, lane request."""
    controls = np.ascontiguousarray(controls, dtype=np.float64)
    if controls.shape != (state.n_envs, 3):
        raise ValueError(f"controls must have shape ({state.n_envs}, 3), got {controls.shape}")
    buf = buffers or StepBuffers(state.n_envs)
    if state.n_vehicles < params.vehicle_count:
        raise ValueError(
            f"the state holds {state.n_vehicles} vehicles; these params need {params.vehicle_count}"
        )
    run = step_batch_parallel if state.n_envs >= PARALLEL_MIN_ENVS else step_batch
    run(
        state.veh,
        state.env,
        state.seeds,
        state.order,
        controls,
        params.kernel_record,
        buf.obs64,
        buf.final_obs64,
        buf.reward,
        buf.terms,
        buf.events,
    )
    result = StepResult(
        obs=buf.obs64.astype(np.float32),
        final_obs=buf.final_obs64.astype(np.float32),
        reward=buf.reward.copy(),
        terms=buf.terms.copy(),
        events=buf.events.copy(),
    )
    return state, result


def set_mission(
    state: SimState,
    env_index: int,
    params: SimParams,
    kind: str,
    target_speed_mps: float | None = None,
    target_lane: int | None = None,
    exit_distance_m: float | None = None,
) -> None:
    """Give env ``env_index`` a new mission now (the app calls this when the user speaks).

    ``kind`` is "cruise", "lane" or "exit". Omitted targets keep the current target speed; an
    exit mission uses the next exit ahead, or one ``exit_distance_m`` ahead when given.
    """
    if kind not in layout.MISSION_KIND_NAMES:
        raise UserError(
            f"kind: must be one of {', '.join(layout.MISSION_KIND_NAMES)}, got {kind!r}"
        )
    b = int(env_index)
    speed = state.target_speed_mps[b] if target_speed_mps is None else float(target_speed_mps)
    if not (np.isfinite(speed) and 0.0 < speed <= params.speed_max_mps):
        raise UserError(f"target_speed_mps: must be in (0, {params.speed_max_mps}], got {speed}")
    lane = -1
    if kind == "lane":
        if target_lane is None or not 0 <= int(target_lane) < params.n_lanes:
            raise UserError(f"target_lane: must be in [0, {params.n_lanes - 1}], got {target_lane}")
        lane = int(target_lane)
    x_ego = state.x_m[b, 0]
    if kind == "exit":
        if exit_distance_m is not None:
            distance = float(exit_distance_m)
            if not (np.isfinite(distance) and 50.0 <= distance <= 10_000.0):
                raise UserError(f"exit_distance_m: must be in [50, 10000], got {distance}")
            state.exit_x_m[b] = x_ego + distance
        elif state.exit_x_m[b] + 0.5 * params.exit_ramp_length_m < x_ego:
            state.exit_x_m[b] += params.exit_spacing_min_m
    kind_code = layout.MISSION_KIND_NAMES.index(kind)
    p = params.kernel_record[0]
    apply_mission(state.veh, state.env, b, kind_code, speed, lane, p)
    step_now = int(state.env[layout.STEP, b])
    schedule_change(state.env, b, state.seeds[b], step_now + 7_919, p)
