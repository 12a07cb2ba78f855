"""Helpers shared by the simulator tests: hand-built states, rollouts and state checks.

Not a test module (no ``test_`` prefix); the tests import it as ``simkit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core, layout, mobil, neighbours
from car_ai_rl.sim.car_following import traffic_accels
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

FAR_EXIT_M = 50_000.0


SCENE_VEHICLES = 8


def quiet_params(**changes: object) -> SimParams:
    """Params for hand-built scenes: no traffic of its own, no random mission changes, and a
    traffic segment long enough (5 km) that hand-placed vehicles never meet across its seam."""
    base: dict[str, object] = {
        "traffic_density": 0.0,
        "mission_changes": False,
        "traffic_window_behind_m": 2000.0,
        "traffic_window_ahead_m": 3000.0,
        "exit_spacing_min_m": 4000.0,
        "exit_spacing_max_m": 6000.0,
    }
    base.update(changes)
    return SimParams(**base)  # type: ignore[arg-type]


def lone_ego(
    params: SimParams,
    lane: int = 1,
    speed_mps: float = 20.0,
    exit_x_m: float = FAR_EXIT_M,
    seed: int = 0,
    n_vehicles: int = SCENE_VEHICLES,
) -> SimState:
    """One env whose ego drives alone at x = 0 in ``lane`` with a cruise mission at its speed,
    with room for ``n_vehicles - 1`` vehicles placed by hand (:func:`put_vehicle`).

    ``params`` must have ``traffic_density == 0``: the simulator then leaves the hand-placed
    vehicles alone (it only manages the vehicles its density asks for).
    """
    assert params.traffic_density == 0.0, "hand-built scenes need traffic_density=0"
    state, _ = core.reset(params, core.seeds_from_ints([seed]), n_vehicles=n_vehicles)
    v = state.veh
    assert not state.active[0, 1:].any()
    v[layout.X_M, 0, 0] = 0.0
    v[layout.LANE, 0, 0] = lane
    v[layout.TARGET_LANE, 0, 0] = lane
    v[layout.Y_M, 0, 0] = lane * params.lane_width_m
    v[layout.LAT_SPEED_MPS, 0, 0] = 0.0
    v[layout.SPEED_MPS, 0, 0] = speed_mps
    state.exit_x_m[0] = exit_x_m
    give_mission(state, params, "cruise", target_speed_mps=max(speed_mps, 1.0))
    return state


NEVER_STEP = float(1 << 40)


def give_mission(
    state: SimState,
    params: SimParams,
    kind: str,
    target_speed_mps: float | None = None,
    target_lane: int | None = None,
    exit_distance_m: float | None = None,
    b: int = 0,
) -> None:
    """Make a pending mission for env b by writing the mission fields directly.

    The scenes of the physics and mission-rule tests use this rather than ``core.set_mission``
    so that they do not depend on the API the set_mission tests check. Semantics as documented
    in ``sim.missions``: the deadline is mission_deadline_s from now (none for an exit), an exit
    mission targets the rightmost lane, and no random change follows.
    """
    e, v = state.env, state.veh
    kind_code = layout.MISSION_KIND_NAMES.index(kind)
    step = e[layout.STEP, b]
    if target_speed_mps is not None:
        e[layout.TARGET_SPEED_MPS, b] = target_speed_mps
    v[layout.DESIRED_SPEED_MPS, b, 0] = e[layout.TARGET_SPEED_MPS, b]
    e[layout.MISSION_KIND, b] = kind_code
    if kind == "lane":
        assert target_lane is not None
        e[layout.MISSION_TARGET_LANE, b] = target_lane
    elif kind == "exit":
        e[layout.MISSION_TARGET_LANE, b] = params.n_lanes - 1
        if exit_distance_m is not None:
            e[layout.EXIT_X_M, b] = v[layout.X_M, b, 0] + exit_distance_m
    else:
        e[layout.MISSION_TARGET_LANE, b] = -1.0
    e[layout.MISSION_START_STEP, b] = step
    if kind == "exit":
        e[layout.MISSION_DEADLINE_STEP, b] = NEVER_STEP
    else:
        e[layout.MISSION_DEADLINE_STEP, b] = step + round(
            params.mission_deadline_s * params.decision_hz
        )
    e[layout.MISSION_HOLD_S, b] = 0.0
    e[layout.MISSION_STATUS, b] = layout.PENDING
    e[layout.MISSION_ID, b] += 1.0
    e[layout.NEXT_CHANGE_STEP, b] = NEVER_STEP


def put_vehicle(
    state: SimState,
    j: int,
    x_m: float,
    lane: int,
    speed_mps: float,
    params: SimParams,
    b: int = 0,
    desired_mps: float | None = None,
    headway_s: float = 1.5,
    politeness: float = 0.0,
    target_lane: int | None = None,
    lc_progress: float = 0.0,
    cooldown_s: float = 0.0,
    heavy: bool = False,
    exit_intent: bool = False,
) -> None:
    """Make vehicle j an active traffic vehicle with the given kinematics and driver
    (``lc_progress``: how far through a lane change toward ``target_lane`` it is)."""
    v = state.veh
    target = lane if target_lane is None else target_lane
    v[:, b, j] = 0.0
    v[layout.X_M, b, j] = x_m
    v[layout.LANE, b, j] = lane
    v[layout.TARGET_LANE, b, j] = target
    v[layout.Y_M, b, j] = (lane + (target - lane) * lc_progress) * params.lane_width_m
    v[layout.SPEED_MPS, b, j] = speed_mps
    v[layout.HEAVY, b, j] = 1.0 if heavy else 0.0
    v[layout.LENGTH_M, b, j] = params.heavy_length_m if heavy else params.vehicle_length_m
    v[layout.WIDTH_M, b, j] = params.heavy_width_m if heavy else params.vehicle_width_m
    v[layout.ACCEL_MAX_MPS2, b, j] = (
        params.heavy_accel_max_mps2 if heavy else params.traffic_accel_max_mps2
    )
    v[layout.EXIT_INTENT, b, j] = 1.0 if exit_intent else 0.0
    v[layout.DESIRED_SPEED_MPS, b, j] = speed_mps if desired_mps is None else desired_mps
    v[layout.HEADWAY_S, b, j] = headway_s
    v[layout.POLITENESS, b, j] = politeness
    v[layout.LC_COOLDOWN_S, b, j] = cooldown_s
    v[layout.ACTIVE, b, j] = 1.0


def sorted_order(state: SimState, b: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Env b's vehicles sorted by position, and each one's place in that order, as the step
    kernel makes them."""
    n = state.n_vehicles
    order = np.arange(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    neighbours.sort_by_position(state.veh, b, order)
    neighbours.rank_of(order, rank)
    return order, rank


def ring_m(state: SimState, b: int = 0) -> float:
    return float(state.env[layout.RING_LENGTH_M, b])


def traffic_accel(state: SimState, i: int, params: SimParams, b: int = 0) -> float:
    """The acceleration the step kernel gives traffic vehicle i."""
    acc = np.zeros(state.veh.shape[2])
    p = params.kernel_record[0]
    order, rank = sorted_order(state, b)
    traffic_accels(state.veh, state.env, b, p, ring_m(state, b), order, rank, acc)
    return float(acc[i])


def mobil_choice(state: SimState, i: int, params: SimParams, b: int = 0) -> int:
    """The lane change traffic vehicle i would start now: -1, 0 or +1."""
    order, rank = sorted_order(state, b)
    p = params.kernel_record[0]
    lane = int(mobil.lane_choice(state.veh, state.env, b, i, p, ring_m(state, b), order, rank))
    return lane - int(state.veh[layout.LANE, b, i])


def lane_change_time_s(params: SimParams, speed_mps: float) -> float:
    """How long a one-lane change takes at a constant speed, from the lateral limits alone:
    accelerate sideways, cruise at the lateral speed limit, brake (or just accelerate and brake
    when the lane is too narrow to reach the limit)."""
    import math

    limit = min(
        params.lateral_speed_max_mps, speed_mps * math.tan(params.lane_change_heading_max_rad)
    )
    accel, width = params.lateral_accel_max_mps2, params.lane_width_m
    if width <= limit**2 / accel:
        return 2.0 * math.sqrt(width / accel)
    return width / limit + limit / accel


def controls(throttle: float = 0.0, brake: float = 0.0, lane: float = 0.0, n: int = 1):
    return np.tile(np.array([[throttle, brake, lane]], dtype=np.float64), (n, 1))


def random_controls(rng: np.random.Generator, n_steps: int, n_envs: int) -> np.ndarray:
    """(T, B, 3) random controls: throttle uniform in [0, 1], brake uniform in [0, 1] one time
    in three (braking overrides the throttle, so braking every step would just stop the car),
    lane request uniform in {-1, 0, 1}."""
    c = np.empty((n_steps, n_envs, 3))
    c[..., 0] = rng.uniform(0.0, 1.0, (n_steps, n_envs))
    braking = rng.uniform(size=(n_steps, n_envs)) < 1.0 / 3.0
    c[..., 1] = np.where(braking, rng.uniform(0.0, 1.0, (n_steps, n_envs)), 0.0)
    c[..., 2] = rng.integers(-1, 2, (n_steps, n_envs))
    return c


@dataclass
class Rollout:
    """Everything a rollout produced, stacked over steps (leading axis T)."""

    obs0: np.ndarray
    obs: list[np.ndarray] = field(default_factory=list)
    final_obs: list[np.ndarray] = field(default_factory=list)
    reward: list[np.ndarray] = field(default_factory=list)
    terms: list[np.ndarray] = field(default_factory=list)
    events: list[np.ndarray] = field(default_factory=list)
    controls: list[np.ndarray] = field(default_factory=list)
    veh: list[np.ndarray] = field(default_factory=list)
    env: list[np.ndarray] = field(default_factory=list)
    seeds: list[np.ndarray] = field(default_factory=list)

    def stacked(self, name: str) -> np.ndarray:
        return np.stack(getattr(self, name))

    def done(self) -> np.ndarray:
        ev = self.stacked("events")
        return (ev[..., layout.EV_TERMINATED] > 0.5) | (ev[..., layout.EV_TRUNCATED] > 0.5)


def rollout(
    params: SimParams,
    seeds: np.ndarray,
    n_steps: int,
    fixed_controls: np.ndarray | None = None,
    policy: str = "fixed",
    use_supervisor: bool = False,
    keep_state: bool = True,
    heuristic_mask: np.ndarray | None = None,
) -> Rollout:
    """Step envs from episode ``seeds``. ``policy``: "fixed" (use ``fixed_controls[t]``),
    "heuristic", or "mixed" (heuristic where ``heuristic_mask`` is true, default: even
    slots; fixed controls elsewhere)."""
    state, obs0 = core.reset(params, seeds)
    out = Rollout(obs0=obs0)
    for t in range(n_steps):
        if policy == "heuristic":
            c = heuristic_controls(state, params)
        elif policy == "mixed":
            c = np.array(fixed_controls[t], dtype=np.float64)
            h = heuristic_controls(state, params)
            mask = heuristic_mask
            if mask is None:
                mask = np.arange(len(seeds)) % 2 == 0
            c[mask] = h[mask]
        else:
            c = np.array(fixed_controls[t], dtype=np.float64)
        if use_supervisor:
            c, _, _ = supervisor.filter(state, c, params)
        _, r = core.step(state, c, params)
        out.obs.append(r.obs)
        out.final_obs.append(r.final_obs)
        out.reward.append(r.reward)
        out.terms.append(r.terms)
        out.events.append(r.events)
        out.controls.append(c)
        if keep_state:
            out.veh.append(state.veh.copy())
            out.env.append(state.env.copy())
            out.seeds.append(state.seeds.copy())
    return out


def overlapping_pairs(state: SimState, b: int) -> list[tuple[int, int]]:
    """Pairs of active vehicles in the same lane whose footprints overlap lengthwise."""
    idx = np.nonzero(state.active[b])[0]
    pairs = []
    for n, i in enumerate(idx):
        for j in idx[n + 1 :]:
            if state.lane[b, i] != state.lane[b, j]:
                continue
            half = 0.5 * (state.length_m[b, i] + state.length_m[b, j])
            if abs(state.x_m[b, i] - state.x_m[b, j]) < half:
                pairs.append((int(i), int(j)))
    return pairs
