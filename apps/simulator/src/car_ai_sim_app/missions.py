"""Turn a parsed :class:`Command` into a simulator mission for one ego, and describe missions.

People number lanes from 1 at the left; the simulator from 0 at the left. A speed command
during a pending lane or exit mission keeps that mission and changes its speed; otherwise it
becomes a cruise mission. "cancel" drops the current mission for a cruise at its speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from car_ai_rl.errors import UserError
from car_ai_rl.sim import core, views
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

from car_ai_sim_app.config import KMH_PER_MPS
from car_ai_sim_app.parser import Command

MIN_SPEED_KMH = 20.0
MIN_EXIT_M = 50.0  # the range core.set_mission accepts
MAX_EXIT_M = 10_000.0


class CommandRefused(ValueError):
    """The command is understood but cannot apply now; the message is the reply."""


class AlreadyDone(ValueError):
    """The command asks for what the car already does; the message is the reply."""


@dataclass(frozen=True)
class EgoView:
    """What command resolution reads from one env of the batch."""

    lane: int  # simulator lane, 0 = leftmost; the lane being entered during a change
    n_lanes: int
    mission_kind: str
    mission_status: str
    target_speed_mps: float
    mission_target_lane: int
    exit_ahead_m: float
    speed_max_mps: float

    @classmethod
    def of(cls, state: SimState, b: int, params: SimParams) -> EgoView:
        ego = views.ego_frame(state, params, [b])
        return cls(
            lane=int(min(ego.target_lane[0], params.n_lanes - 1)),
            n_lanes=params.n_lanes,
            mission_kind=views.MISSION_KIND_NAMES[int(ego.mission_kind[0])],
            mission_status=views.MISSION_STATUS_NAMES[int(ego.mission_status[0])],
            target_speed_mps=float(ego.target_speed_mps[0]),
            mission_target_lane=int(ego.mission_target_lane[0]),
            exit_ahead_m=float(ego.exit_distance_m[0]),
            speed_max_mps=params.speed_max_mps,
        )


@dataclass(frozen=True)
class MissionRequest:
    """Arguments of ``core.set_mission``; ``target_lane`` is a simulator lane."""

    kind: str
    target_speed_mps: float
    target_lane: int | None = None
    exit_distance_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "target_speed_mps": round(self.target_speed_mps, 3),
            "target_speed_kmh": round(self.target_speed_mps * KMH_PER_MPS, 1),
        }
        if self.target_lane is not None:
            out["target_lane"] = self.target_lane
            out["target_lane_number"] = human_lane(self.target_lane)
        if self.exit_distance_m is not None:
            out["exit_distance_m"] = round(self.exit_distance_m, 1)
        return out


def human_lane(sim_lane: int) -> int:
    return int(sim_lane) + 1


def lane_words(sim_lane: int, n_lanes: int) -> str:
    side = " (leftmost)" if sim_lane == 0 else " (rightmost)" if sim_lane == n_lanes - 1 else ""
    return f"lane {human_lane(sim_lane)}{side}"


def describe(request: MissionRequest, n_lanes: int) -> str:
    speed = f"{request.target_speed_mps * KMH_PER_MPS:.0f} km/h"
    if request.kind == "lane" and request.target_lane is not None:
        return f"move to {lane_words(request.target_lane, n_lanes)} at {speed}"
    if request.kind == "exit":
        where = (
            f"the exit {request.exit_distance_m:.0f} m ahead"
            if request.exit_distance_m is not None
            else "the next exit"
        )
        return f"take {where} at {speed}"
    return f"cruise at {speed}"


def current_request(ego: EgoView) -> MissionRequest:
    """The mission the ego has now, as a request (exit missions keep the same exit)."""
    if ego.mission_kind == "lane":
        return MissionRequest("lane", ego.target_speed_mps, ego.mission_target_lane)
    return MissionRequest(ego.mission_kind, ego.target_speed_mps)


def _speed_request(ego: EgoView, speed_kmh: float) -> MissionRequest:
    top_kmh = ego.speed_max_mps * KMH_PER_MPS
    if not (np.isfinite(speed_kmh) and MIN_SPEED_KMH <= speed_kmh <= top_kmh):
        raise CommandRefused(
            f"{speed_kmh:.0f} km/h is outside the range I can drive "
            f"({MIN_SPEED_KMH:.0f} to {top_kmh:.0f} km/h)."
        )
    speed_mps = speed_kmh / KMH_PER_MPS
    if ego.mission_status == "pending" and ego.mission_kind == "lane":
        return MissionRequest("lane", speed_mps, ego.mission_target_lane)
    if ego.mission_status == "pending" and ego.mission_kind == "exit":
        return MissionRequest("exit", speed_mps)
    return MissionRequest("cruise", speed_mps)


def _lane_request(ego: EgoView, lane: int, asked: str) -> MissionRequest:
    if not 0 <= lane < ego.n_lanes:
        if asked.startswith("move"):
            edge = "leftmost" if lane < 0 else "rightmost"
            raise CommandRefused(f"Already in the {edge} lane; there is no lane further out.")
        raise CommandRefused(
            f"There is no {asked} on this road: lanes are 1 (leftmost) to {ego.n_lanes}."
        )
    moving_elsewhere = ego.mission_status == "pending" and (
        ego.mission_kind == "exit"
        or (ego.mission_kind == "lane" and ego.mission_target_lane != lane)
    )
    if lane == ego.lane and not moving_elsewhere:
        raise AlreadyDone(f"Already in {lane_words(lane, ego.n_lanes)}; staying here.")
    return MissionRequest("lane", ego.target_speed_mps, lane)


def resolve(command: Command, ego: EgoView) -> MissionRequest:
    """The mission ``command`` asks for, given the ego now; CommandRefused if impossible."""
    action = command.action
    if action == "set_speed":
        return _speed_request(ego, float(command.speed_kmh or 0.0))
    if action == "change_speed":
        return _speed_request(
            ego, ego.target_speed_mps * KMH_PER_MPS + float(command.delta_kmh or 0.0)
        )
    if action == "lane":
        number = int(command.lane_number or 0)
        lane = ego.n_lanes - number if command.from_right else number - 1
        side = " from the right" if command.from_right else ""
        return _lane_request(ego, lane, f"lane {number}{side}")
    if action == "lane_named":
        if command.lane_name == "left":
            return _lane_request(ego, 0, "left lane")
        if command.lane_name == "right":
            return _lane_request(ego, ego.n_lanes - 1, "right lane")
        if ego.n_lanes % 2 == 0:
            raise CommandRefused(
                f"With {ego.n_lanes} lanes there is no single middle lane; say a lane number "
                f"(1 = leftmost)."
            )
        return _lane_request(ego, ego.n_lanes // 2, "middle lane")
    if action == "lane_relative":
        step = int(command.direction or 0)
        return _lane_request(ego, ego.lane + step, "move")
    if action == "exit":
        distance = command.exit_distance_m
        if distance is not None and not MIN_EXIT_M <= distance <= MAX_EXIT_M:
            raise CommandRefused(
                f"An exit {distance:.0f} m ahead is out of range: say between "
                f"{MIN_EXIT_M:.0f} m and {MAX_EXIT_M / 1000:.0f} km."
            )
        return MissionRequest("exit", ego.target_speed_mps, exit_distance_m=distance)
    if action == "cancel":
        return MissionRequest("cruise", ego.target_speed_mps)
    raise CommandRefused(f"Unsupported command {action!r}.")


def apply(state: SimState, b: int, params: SimParams, request: MissionRequest) -> None:
    """Start ``request`` in env ``b`` now; a refusal by the simulator becomes CommandRefused."""
    try:
        core.set_mission(
            state,
            b,
            params,
            request.kind,
            target_speed_mps=request.target_speed_mps,
            target_lane=request.target_lane,
            exit_distance_m=request.exit_distance_m,
        )
    except UserError as exc:
        raise CommandRefused(f"The simulator refused the mission: {exc}") from None
