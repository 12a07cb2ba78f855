"""Typed views of the simulator for its consumers: the ego frame, the vehicles to draw, the
neighbours of the ego in a lane, and a step's events as booleans.

This is the one module outside the kernels that knows the state layout (``layout`` indices and
``SimState`` fields). Consumers such as the app and the Gymnasium adapters read the simulator
through these views, so a change of layout is absorbed here. Every view is batched: it takes
the env indices it is asked about and returns arrays over them, built with NumPy in one pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from car_ai_rl.sim import layout
from car_ai_rl.sim.core import StepResult
from car_ai_rl.sim.jit import kernel
from car_ai_rl.sim.missions import blocking_leader
from car_ai_rl.sim.neighbours import follower_in_lane, leader_in_lane
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.road import lane_change_progress
from car_ai_rl.sim.state import SimState

# Kinds of vehicle a renderer can draw; index = the ``kind`` code of DrawnVehicles.
VEHICLE_KINDS = ("car", "heavy")
# Columns of DrawnVehicles.rows, in order (float32 on the wire). ``heading_rad`` is the angle of
# the motion from the road's direction, + toward the right (during lane changes).
VEHICLE_FIELDS = ("id", "dx_m", "y_m", "length_m", "width_m", "speed_mps", "kind", "heading_rad")


@kernel
def _progress_of_egos(veh, idx, lane_width_m, out):
    for i in range(idx.shape[0]):
        out[i] = lane_change_progress(veh, idx[i], 0, lane_width_m)


@kernel
def _ego_neighbours(veh, env, idx, lanes, lead, follow):
    for i in range(idx.shape[0]):
        b = idx[i]
        ring = env[layout.RING_LENGTH_M, b]
        x = veh[layout.X_M, b, 0]
        lead[i] = leader_in_lane(veh, b, lanes[i], x, 0, ring)
        follow[i] = follower_in_lane(veh, b, lanes[i], x, 0, ring)


@kernel
def _blocking_leaders(veh, env, idx, pv, out):
    p = pv[0]
    for i in range(idx.shape[0]):
        out[i] = blocking_leader(veh, env, idx[i], p)


def _envs(envs: np.ndarray | list[int] | None, state: SimState) -> np.ndarray:
    if envs is None:
        return np.arange(state.n_envs)
    return np.asarray(envs, dtype=np.int64)


@dataclass(frozen=True)
class EgoFrame:
    """The ego of each selected env (arrays of shape (S,)).

    ``lane`` is the lane the ego is in, or leaving during a lane change; ``target_lane`` is the
    lane it is moving into (``n_lanes`` is the exit ramp). ``exit_x_m`` is the start of the
    next exit's diverge zone."""

    x_m: np.ndarray
    y_m: np.ndarray
    speed_mps: np.ndarray
    accel_mps2: np.ndarray
    length_m: np.ndarray
    width_m: np.ndarray
    lane: np.ndarray  # int64
    target_lane: np.ndarray  # int64
    lane_change_progress: np.ndarray
    exit_x_m: np.ndarray
    mission_kind: np.ndarray  # int64 codes of layout.MISSION_KIND_NAMES
    mission_status: np.ndarray  # int64 codes of layout.MISSION_STATUS_NAMES
    target_speed_mps: np.ndarray
    mission_target_lane: np.ndarray  # int64, -1 for a cruise mission

    @property
    def changing_lane(self) -> np.ndarray:
        return self.lane != self.target_lane

    @property
    def exit_distance_m(self) -> np.ndarray:
        return self.exit_x_m - self.x_m


MISSION_KIND_NAMES = layout.MISSION_KIND_NAMES
MISSION_STATUS_NAMES = layout.MISSION_STATUS_NAMES


def ego_frame(
    state: SimState, params: SimParams, envs: np.ndarray | list[int] | None = None
) -> EgoFrame:
    """The ego of envs ``envs`` (all envs when None) of a simulation with ``params``."""
    idx = _envs(envs, state)
    veh = state.veh[:, idx, 0]
    env = state.env[:, idx]
    progress = np.empty(len(idx))
    _progress_of_egos(state.veh, idx, params.lane_width_m, progress)
    return EgoFrame(
        x_m=veh[layout.X_M],
        y_m=veh[layout.Y_M],
        speed_mps=veh[layout.SPEED_MPS],
        accel_mps2=env[layout.PREV_ACCEL_MPS2],
        length_m=veh[layout.LENGTH_M],
        width_m=veh[layout.WIDTH_M],
        lane=veh[layout.LANE].astype(np.int64),
        target_lane=veh[layout.TARGET_LANE].astype(np.int64),
        lane_change_progress=progress,
        exit_x_m=env[layout.EXIT_X_M],
        mission_kind=env[layout.MISSION_KIND].astype(np.int64),
        mission_status=env[layout.MISSION_STATUS].astype(np.int64),
        target_speed_mps=env[layout.TARGET_SPEED_MPS],
        mission_target_lane=env[layout.MISSION_TARGET_LANE].astype(np.int64),
    )


@dataclass(frozen=True)
class DrawnVehicles:
    """The other vehicles taking part in traffic, flattened over the selected envs.

    ``rows`` (M, len(VEHICLE_FIELDS)) float32 holds every drawn vehicle, grouped by env in the
    order asked; env i's vehicles are ``rows[offsets[i]:offsets[i + 1]]``. ``dx_m`` is measured
    from the ego's centre."""

    rows: np.ndarray
    offsets: np.ndarray  # (S + 1,) int64

    def of(self, i: int) -> np.ndarray:
        return self.rows[self.offsets[i] : self.offsets[i + 1]]


def drawn_vehicles(state: SimState, envs: np.ndarray | list[int] | None = None) -> DrawnVehicles:
    """Every active vehicle but the ego, in one vectorized gather."""
    idx = _envs(envs, state)
    veh = state.veh[:, idx]  # (F, S, N)
    n = state.n_vehicles
    x = veh[layout.X_M]
    table = np.empty((len(idx), n, len(VEHICLE_FIELDS)), dtype=np.float32)
    table[..., 0] = np.arange(n, dtype=np.float32)
    table[..., 1] = x - x[:, :1]
    table[..., 2] = veh[layout.Y_M]
    table[..., 3] = veh[layout.LENGTH_M]
    table[..., 4] = veh[layout.WIDTH_M]
    table[..., 5] = veh[layout.SPEED_MPS]
    table[..., 6] = veh[layout.HEAVY] > 0.5
    table[..., 7] = np.arctan2(veh[layout.LAT_SPEED_MPS], np.maximum(veh[layout.SPEED_MPS], 0.1))
    shown = veh[layout.ACTIVE] > 0.5
    shown[:, 0] = False
    counts = shown.sum(axis=1)
    offsets = np.zeros(len(idx) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return DrawnVehicles(rows=table[shown], offsets=offsets)


NO_VEHICLE = -1


@dataclass(frozen=True)
class Neighbours:
    """The nearest vehicle ahead of and behind the ego in one lane of each selected env.

    Indices are vehicle numbers (NO_VEHICLE when there is none). Gaps are bumper to bumper
    (inf without a vehicle); closing speeds are positive when the gap shrinks: ego minus
    leader, follower minus ego."""

    leader: np.ndarray
    leader_gap_m: np.ndarray
    leader_speed_mps: np.ndarray
    leader_closing_mps: np.ndarray
    follower: np.ndarray
    follower_gap_m: np.ndarray
    follower_speed_mps: np.ndarray
    follower_closing_mps: np.ndarray


def lane_neighbours(state: SimState, envs: np.ndarray | list[int], lanes: np.ndarray) -> Neighbours:
    """Leader and follower of the ego in ``lanes[i]`` of env ``envs[i]``, found by the
    simulator's own neighbour search (a vehicle is in a lane when it is in it or moving into it;
    distances run around the periodic traffic segment)."""
    idx = np.asarray(envs, dtype=np.int64)
    lead = np.empty(len(idx), dtype=np.int64)
    follow = np.empty(len(idx), dtype=np.int64)
    _ego_neighbours(state.veh, state.env, idx, np.asarray(lanes, dtype=np.float64), lead, follow)
    rows = np.arange(len(idx))
    ring = state.env[layout.RING_LENGTH_M, idx]
    x = state.veh[layout.X_M][idx]
    length = state.veh[layout.LENGTH_M][idx]
    speed = state.veh[layout.SPEED_MPS][idx]
    has_lead, has_follow = lead != NO_VEHICLE, follow != NO_VEHICLE
    li, fi = np.where(has_lead, lead, 0), np.where(has_follow, follow, 0)
    half = 0.5 * (length[:, 0] + length[rows, li]), 0.5 * (length[:, 0] + length[rows, fi])
    lead_gap = np.mod(x[rows, li] - x[:, 0], ring) - half[0]
    follow_gap = np.mod(x[:, 0] - x[rows, fi], ring) - half[1]
    v_ego = speed[:, 0]
    return Neighbours(
        leader=lead,
        leader_gap_m=np.where(has_lead, lead_gap, np.inf),
        leader_speed_mps=np.where(has_lead, speed[rows, li], np.nan),
        leader_closing_mps=np.where(has_lead, v_ego - speed[rows, li], 0.0),
        follower=follow,
        follower_gap_m=np.where(has_follow, follow_gap, np.inf),
        follower_speed_mps=np.where(has_follow, speed[rows, fi], np.nan),
        follower_closing_mps=np.where(has_follow, speed[rows, fi] - v_ego, 0.0),
    )


# ------------------------------------------------------------------------------ events
# Boolean flags of a step, by the name every consumer uses (info keys of the adapters, event
# names of the app's frames).
EVENT_FLAGS = (
    "collision",
    "at_fault",
    "mission_success",
    "mission_failure",
    "exited",
    "lane_change_started",
    "mission_changed",
)
_FLAG_INDEX = np.array([layout.EVENT_NAMES.index(name) for name in EVENT_FLAGS])


@dataclass(frozen=True)
class StepEvents:
    """What happened in one step of every env: ``flags`` (B, len(EVENT_FLAGS)) bool, named by
    EVENT_FLAGS, and the per-step measurements."""

    flags: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    speed_mps: np.ndarray
    target_speed_mps: np.ndarray
    accel_mps2: np.ndarray
    distance_m: np.ndarray
    mission_kind: np.ndarray  # int64

    def flag(self, name: str) -> np.ndarray:
        return self.flags[:, EVENT_FLAGS.index(name)]

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated

    def names(self, b: int) -> list[str]:
        """The flags set in env ``b``."""
        return [name for name, on in zip(EVENT_FLAGS, self.flags[b], strict=True) if on]


def step_events(result: StepResult) -> StepEvents:
    ev = result.events
    return StepEvents(
        flags=ev[:, _FLAG_INDEX] > 0.5,
        terminated=ev[:, layout.EV_TERMINATED] > 0.5,
        truncated=ev[:, layout.EV_TRUNCATED] > 0.5,
        speed_mps=ev[:, layout.EV_SPEED_MPS],
        target_speed_mps=ev[:, layout.EV_TARGET_SPEED_MPS],
        accel_mps2=ev[:, layout.EV_ACCEL_MPS2],
        distance_m=ev[:, layout.EV_DISTANCE_M],
        mission_kind=ev[:, layout.EV_MISSION_KIND].astype(np.int64),
    )


def exit_ramp_lane(params: SimParams) -> int:
    """The lane number of the exit ramp (one beyond the rightmost lane)."""
    return params.n_lanes


# -------------------------------------------------------------------------- step infos
def reason_lists(reasons: np.ndarray) -> list[list[str]]:
    """The supervisor's rule names for each env's reason bitmask."""
    return [list(names) for names in reason_column(np.asarray(reasons)).tolist()]


def reason_column(reasons: np.ndarray) -> np.ndarray:
    """The rule names of each env's reason bitmask as an object array of tuples, looked up only
    where a bit is set: most steps have none, and those entries share one empty tuple (a
    tuple, not a list, so that sharing is safe; a thousand fresh lists per step cost more
    than the rest of the info)."""
    from car_ai_rl.safety.supervisor import reason_names

    names = np.empty(len(reasons), dtype=object)
    names.fill(())
    for b in np.flatnonzero(reasons).tolist():
        names[b] = tuple(reason_names(reasons[b]))
    return names


def step_info(
    result: StepResult, intervened: np.ndarray, reasons: np.ndarray
) -> dict[str, np.ndarray]:
    """The info of a step as columns over the batch: the one mapping from events to info keys
    that the Gymnasium adapters and the app share.

    Keys: every EVENT_FLAGS name (bool), ``supervisor_intervened`` (bool),
    ``supervisor_reasons`` (object array of tuples of rule names), ``speed_mps``,
    ``target_speed_mps``, ``accel_mps2``, ``distance_m``, ``mission_kind`` (int) and
    ``reward_<term>`` for every reward term."""
    from car_ai_rl.sim.reward import REWARD_TERMS

    events = step_events(result)
    info: dict[str, np.ndarray] = {name: events.flags[:, k] for k, name in enumerate(EVENT_FLAGS)}
    info["supervisor_intervened"] = np.asarray(intervened, dtype=bool)
    info["supervisor_reasons"] = reason_column(np.asarray(reasons))
    info["speed_mps"] = events.speed_mps
    info["target_speed_mps"] = events.target_speed_mps
    info["accel_mps2"] = events.accel_mps2
    info["distance_m"] = events.distance_m
    info["mission_kind"] = events.mission_kind
    for k, name in enumerate(REWARD_TERMS):
        info[f"reward_{name}"] = result.terms[:, k]
    return info


def info_rows(columns: dict[str, np.ndarray]) -> list[dict]:
    """Per-env info dicts of plain Python values from :func:`step_info` columns."""
    keys = list(columns)
    values = [columns[k].tolist() for k in keys]
    return [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]


def held_by_slower_leader(
    state: SimState, envs: np.ndarray | list[int], params: SimParams
) -> np.ndarray:
    """True where a slower vehicle close ahead in the ego's lane holds it below its target
    speed: the adaptive-cruise case of the cruise mission (``missions.blocking_leader``)."""
    idx = np.asarray(envs, dtype=np.int64)
    out = np.empty(len(idx), dtype=np.int64)
    _blocking_leaders(state.veh, state.env, idx, params.kernel_record, out)
    return out != NO_VEHICLE


_FLAG_BITS = 1 << np.arange(len(EVENT_FLAGS), dtype=np.int64)


def event_codes(flags: np.ndarray) -> np.ndarray:
    """One integer per env for its row of ``StepEvents.flags`` (bit k = EVENT_FLAGS[k])."""
    return flags.astype(np.int64) @ _FLAG_BITS


@functools.cache
def event_names(code: int) -> tuple[str, ...]:
    """The EVENT_FLAGS names in an :func:`event_codes` value."""
    return tuple(name for k, name in enumerate(EVENT_FLAGS) if code >> k & 1)


def copy_envs(dst: SimState, src: SimState, count: int) -> None:
    """Copy the first ``count`` envs of ``src`` into ``dst`` (growing a batch in place)."""
    dst.veh[:, :count] = src.veh[:, :count]
    dst.env[:, :count] = src.env[:, :count]
    dst.seeds[:count] = src.seeds[:count]
    dst.order[:count] = src.order[:count]
