"""What the car is doing and why, in words, and what made the supervisor step in.

Every tick each session gets one explanation, in this order of precedence:
1. the supervisor changed the controls: which rule, and the vehicle or lane that made it;
2. a lane change under way: "changing to lane 2", "taking the exit ramp";
3. an exit mission: "heading for the exit in 800 m; moving right when a gap opens";
4. a lane mission: "moving to lane 1: waiting for a safe gap";
5. a slower car close ahead holds the car below its target speed (adaptive cruise):
   "following a slower car at 90 km/h; will overtake when the left lane clears";
6. the speed: "holding 100 km/h", "speeding up to 120 km/h", "slowing to 80 km/h".
Whether a lane change would be allowed now is the supervisor's own verdict on that request.
A session that drove a plan (a variation of the heuristic driver chosen by a ``plan``-mode
model) has the plan's name in front: "plan: close up 0.8 s, faster 4 m/s — holding 100 km/h".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from car_ai_rl.policies.plans import PLAN_NAMES
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import views
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

from car_ai_sim_app.config import KMH_PER_MPS

HOLD_TOLERANCE_KMH = 2.0  # "holding" a speed within this of the target
NO_PLAN = -1  # in ``plans``: the session did not drive a plan


class Explanation(NamedTuple):
    """One session's explanation: a stable ``code`` and the words to show, and the name of
    the plan the session drove (None when it sent controls)."""

    code: str
    text: str
    plan: str | None = None


def with_plans(explanations: list[Explanation], plans: np.ndarray) -> list[Explanation]:
    """The explanations with the name of each session's plan (``NO_PLAN`` for none) in front."""
    out = list(explanations)
    for i in np.nonzero(plans != NO_PLAN)[0].tolist():
        e, name = out[i], PLAN_NAMES[int(plans[i])]
        out[i] = Explanation(e.code, f"plan: {name} — {e.text}", name)
    return out


@dataclass(frozen=True)
class Focus:
    """What made the supervisor step in for one session: JSON-ready items (one per rule)."""

    items: list[dict[str, Any]]
    text: str


def decode_lane_request(values: np.ndarray) -> np.ndarray:
    """-1, 0 or +1 from lane-request controls (beyond +-0.5 means a request)."""
    return np.where(values > 0.5, 1, np.where(values < -0.5, -1, 0))


def lane_change_allowed(
    state: SimState, slots: np.ndarray, directions: np.ndarray, params: SimParams
) -> np.ndarray:
    """The supervisor's verdict on a lane request of ``directions`` (coasting) for each slot."""
    if len(slots) == 0:
        return np.zeros(0, dtype=bool)
    probe = np.zeros((len(slots), 3))
    probe[:, 2] = directions
    _, intervened, _ = supervisor.filter(state.take(slots), probe, params)
    return ~intervened


def _vehicle(near: views.Neighbours, i: int, which: str) -> dict[str, Any] | None:
    vid = int(getattr(near, which)[i])
    if vid == views.NO_VEHICLE:
        return None
    return {
        "id": vid,
        "gap_m": round(float(getattr(near, f"{which}_gap_m")[i]), 1),
        "closing_kmh": round(float(getattr(near, f"{which}_closing_mps")[i]) * KMH_PER_MPS),
        "speed_kmh": round(float(getattr(near, f"{which}_speed_mps")[i]) * KMH_PER_MPS),
    }


def _closing_words(vehicle: dict[str, Any], where: str) -> str:
    closing = vehicle["closing_kmh"]
    if closing > 0:
        return f"{where} closing at {closing} km/h, {vehicle['gap_m']:.0f} m away"
    return f"{where} {vehicle['gap_m']:.0f} m away"


def _time_to_close(vehicle: dict[str, Any] | None) -> float:
    if vehicle is None:
        return np.inf
    return vehicle["gap_m"] / max(vehicle["closing_kmh"] / KMH_PER_MPS, 0.5)


def supervisor_focus(
    state: SimState,
    slots: np.ndarray,
    reasons: np.ndarray,
    requested: np.ndarray,
    params: SimParams,
) -> list[Focus]:
    """For each slot the supervisor changed: the lane or vehicle behind each rule it applied."""
    if len(slots) == 0:
        return []
    ego = views.ego_frame(state, params, slots)
    request = decode_lane_request(requested[:, 2])
    wanted = ego.lane + request
    # the lanes to look at per slot: the requested one, the lane, the lane being entered
    lanes = np.stack([wanted, ego.lane, ego.target_lane], axis=1)
    lanes = np.clip(lanes, 0, params.n_lanes - 1)
    near = views.lane_neighbours(state, np.repeat(slots, 3), lanes.ravel())
    out = []
    for i in range(len(slots)):
        names = supervisor.reason_names(int(reasons[i]))
        items: list[dict[str, Any]] = []
        words: list[str] = []
        k = 3 * i
        for name in names:
            if name == "lane_limit":
                items.append({"reason": name, "lane": int(wanted[i])})
                words.append("there is no lane there")
            elif name == "unsafe_gap":
                lead, follow = _vehicle(near, k, "leader"), _vehicle(near, k, "follower")
                items.append(
                    {"reason": name, "lane": int(wanted[i]), "leader": lead, "follower": follow}
                )
                lane_no = int(wanted[i]) + 1
                worst = follow if _time_to_close(follow) < _time_to_close(lead) else lead
                where = "car behind" if worst is follow else "car ahead"
                detail = f" ({_closing_words(worst, where)})" if worst else ""
                words.append(f"no safe gap in lane {lane_no}{detail}")
            elif name == "emergency_brake":
                options = [_vehicle(near, k + 1, "leader"), _vehicle(near, k + 2, "leader")]
                lead = min((v for v in options if v), key=lambda v: v["gap_m"], default=None)
                items.append({"reason": name, "lane": int(ego.lane[i]), "leader": lead})
                detail = f": {_closing_words(lead, 'car ahead')}" if lead else ""
                words.append(f"hard braking{detail}")
            elif name == "rear_guard":
                options = [_vehicle(near, k + 1, "follower"), _vehicle(near, k + 2, "follower")]
                follow = min((v for v in options if v), key=lambda v: v["gap_m"], default=None)
                items.append({"reason": name, "lane": int(ego.target_lane[i]), "follower": follow})
                detail = f": {_closing_words(follow, 'car behind')}" if follow else ""
                words.append(f"eased the braking{detail}")
        out.append(Focus(items, "safety supervisor: " + "; ".join(words)))
    return out


def explain(
    state: SimState,
    slots: np.ndarray,
    params: SimParams,
    focus: dict[int, Focus],
    plans: np.ndarray | None = None,
) -> list[Explanation]:
    """One explanation per slot; ``focus`` maps positions in ``slots`` to supervisor focus and
    ``plans`` (by position, ``NO_PLAN`` for none) gives the plan each slot drove."""
    out = _explain(state, slots, params, focus)
    return out if plans is None else with_plans(out, np.asarray(plans))


def _explain(
    state: SimState, slots: np.ndarray, params: SimParams, focus: dict[int, Focus]
) -> list[Explanation]:
    n = len(slots)
    if n == 0:
        return []
    n_lanes = params.n_lanes
    ego = views.ego_frame(state, params, slots)
    near = views.lane_neighbours(state, slots, np.minimum(ego.lane, n_lanes - 1))
    held = views.held_by_slower_leader(state, slots, params)
    kinds = [views.MISSION_KIND_NAMES[k] for k in ego.mission_kind.tolist()]
    pending = ego.mission_status == views.MISSION_STATUS_NAMES.index("pending")
    # which lane change each slot would want now, for the supervisor's verdict
    wants = np.zeros(n, dtype=np.int64)
    is_lane = np.array([k == "lane" for k in kinds]) & pending
    is_exit = np.array([k == "exit" for k in kinds]) & pending
    wants[is_lane] = np.sign(ego.mission_target_lane - ego.lane)[is_lane]
    wants[is_exit & (ego.lane < n_lanes - 1)] = 1
    wants[held & ~is_lane & ~is_exit & (ego.lane > 0)] = -1
    probe = np.nonzero((wants != 0) & ~ego.changing_lane)[0]
    allowed = np.ones(n, dtype=bool)
    allowed[probe] = lane_change_allowed(state, slots[probe], wants[probe], params)

    speed_kmh = ego.speed_mps * KMH_PER_MPS
    target_kmh = ego.target_speed_mps * KMH_PER_MPS
    lead_kmh = near.leader_speed_mps * KMH_PER_MPS
    exit_m = ego.exit_distance_m
    out = []
    for i in range(n):
        if i in focus:
            out.append(Explanation("supervisor", focus[i].text))
            continue
        lane, target = int(ego.lane[i]), int(ego.target_lane[i])
        if target != lane:
            if target >= n_lanes:
                out.append(Explanation("taking_ramp", "taking the exit ramp"))
            else:
                out.append(Explanation("changing_lane", f"changing to lane {target + 1}"))
            continue
        if is_exit[i]:
            if exit_m[i] > 0:
                text = f"heading for the exit in {exit_m[i]:.0f} m"
            else:
                text = "in the exit zone: taking the ramp"
            if lane < n_lanes - 1:
                text += "; moving right" if allowed[i] else "; moving right when a gap opens"
            out.append(Explanation("exit", text))
            continue
        if is_lane[i] and int(ego.mission_target_lane[i]) != lane:
            goal = int(ego.mission_target_lane[i]) + 1
            if allowed[i]:
                out.append(Explanation("lane", f"moving to lane {goal}"))
            else:
                out.append(
                    Explanation("lane_wait", f"moving to lane {goal}: waiting for a safe gap")
                )
            continue
        if held[i]:
            text = f"following a slower car at {lead_kmh[i]:.0f} km/h"
            if lane == 0:
                text += "; no lane to its left to overtake in"
            elif allowed[i]:
                text += "; the left lane is clear to overtake"
            else:
                text += "; will overtake when the left lane clears"
            out.append(Explanation("following", text))
            continue
        error = speed_kmh[i] - target_kmh[i]
        if abs(error) <= HOLD_TOLERANCE_KMH:
            out.append(Explanation("holding", f"holding {target_kmh[i]:.0f} km/h"))
        elif error < 0:
            out.append(Explanation("speeding_up", f"speeding up to {target_kmh[i]:.0f} km/h"))
        else:
            out.append(Explanation("slowing", f"slowing to {target_kmh[i]:.0f} km/h"))
    return out
