"""Tick frames: the JSON text each session gets after a step, for all sessions in one pass.

Every number a frame carries is gathered for all sessions at once with NumPy (the ego, the
vehicles, the observations, the counters, the controls) and turned into Python values with one
``tolist`` per block; the per-session part only slices and formats. Parts that rarely change
(the mission, the explanation) are cached per session as JSON text.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from car_ai_rl.sim import views
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.state import SimState

from car_ai_sim_app.config import KMH_PER_MPS
from car_ai_sim_app.counters import N_PUBLIC, PUBLIC
from car_ai_sim_app.explain import NO_PLAN, Explanation, Focus
from car_ai_sim_app.session import Session

COUNTERS_TEMPLATE = "{" + ",".join(f'"{name}":%d' for name in PUBLIC) + "}"
NO_STEP = (
    '{"source":null,"plan":null,"requested":null,"applied":null,"intervened":false,'
    '"reasons":[],"focus":[]}'
)


def dumps(msg: Any) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)


_EVENT_TEXT: dict[tuple[str, ...], str] = {}


def events_json(events: list[str]) -> str:
    """JSON of an event list; the few combinations that occur are encoded once."""
    key = tuple(events)
    text = _EVENT_TEXT.get(key)
    if text is None:
        text = dumps(events)
        if len(_EVENT_TEXT) < 4096:
            _EVENT_TEXT[key] = text
    return text


@dataclass
class FrameInputs:
    """One tick's per-session facts for :meth:`FrameEncoder.encode`, by position."""

    sources: list[str | None]  # None for a session whose drive starts this tick
    requested: np.ndarray  # (S, 3)
    applied: np.ndarray  # (S, 3)
    intervened: np.ndarray  # (S,) bool
    reasons: list[list[str]]
    events: list[list[str]]
    focus: dict[int, Focus]
    plans: np.ndarray  # (S,) the plan each session drove, explain.NO_PLAN for none
    explanations: list[Explanation]
    drive_reasons: dict[int, str]


class FrameEncoder:
    def __init__(self, params: SimParams) -> None:
        self.params = params
        self.mission_kinds = views.MISSION_KIND_NAMES
        self.mission_statuses = views.MISSION_STATUS_NAMES

    def encode(
        self,
        tick: int,
        state: SimState,
        obs: np.ndarray,
        sessions: list[Session],
        slots: np.ndarray,
        counts: np.ndarray,
        inputs: FrameInputs,
        step_ms: float | None,
    ) -> list[str]:
        """The frame text of each session (``counts``: the counter table)."""
        p = self.params
        ego = views.ego_frame(state, p, slots)
        drawn = views.drawn_vehicles(state, slots)
        row_bytes = drawn.rows.shape[1] * 4
        vehicle_bytes = drawn.rows.astype("<f4", copy=False).tobytes()
        vehicle_cut = (drawn.offsets * row_bytes).tolist()
        obs_rows = np.ascontiguousarray(obs[slots], dtype="<f4")
        obs_len = obs_rows.shape[1] * 4
        obs_bytes = obs_rows.tobytes()
        numbers = np.stack(
            [
                ego.x_m,
                ego.y_m,
                ego.length_m,
                ego.width_m,
                ego.speed_mps,
                ego.speed_mps * KMH_PER_MPS,
                ego.lane_change_progress,
                ego.exit_x_m,
                ego.exit_distance_m,
            ],
            axis=1,
        ).tolist()
        lanes = ego.lane.tolist()
        targets = ego.target_lane.tolist()
        kinds = ego.mission_kind.tolist()
        statuses = ego.mission_status.tolist()
        target_kmh = np.round(ego.target_speed_mps * KMH_PER_MPS, 1).tolist()
        mission_lanes = ego.mission_target_lane.tolist()
        counters = counts[slots, :N_PUBLIC].tolist()
        requested = np.round(inputs.requested, 3).tolist()
        applied = np.round(inputs.applied, 3).tolist()
        plans = [None if k == NO_PLAN else k for k in inputs.plans.tolist()]
        ramp = p.exit_ramp_length_m
        dt = p.dt_s
        server = f'{{"step_ms":{round(step_ms, 3) if step_ms else "null"}}}'
        frames = []
        for i, s in enumerate(sessions):
            x, y, length, width, speed, kmh, progress, exit_x, exit_d = numbers[i]
            ticks = counters[i][0]
            kind = self.mission_kinds[kinds[i]]
            mission_key = (kind, statuses[i], target_kmh[i], mission_lanes[i], s.mission_text)
            if s.frame_cache.get("mission_key") != mission_key:
                s.frame_cache["mission_key"] = mission_key
                s.frame_cache["mission"] = dumps(
                    {
                        "kind": kind,
                        "status": self.mission_statuses[statuses[i]],
                        "target_speed_kmh": target_kmh[i],
                        "target_lane": mission_lanes[i] if kind == "lane" else None,
                        "text": s.mission_text,
                    }
                )
            explanation = inputs.explanations[i]
            if s.frame_cache.get("explain_key") != explanation:
                s.frame_cache["explain_key"] = explanation
                s.frame_cache["explain"] = dumps(
                    {"code": explanation.code, "text": explanation.text, "plan": explanation.plan}
                )
            source = inputs.sources[i]
            if source is None:
                step = NO_STEP
            else:
                req = requested[i]
                app = applied[i]
                if inputs.intervened[i]:
                    focus = inputs.focus.get(i)
                    tail = (
                        f'"intervened":true,"reasons":{dumps(inputs.reasons[i])},'
                        f'"focus":{dumps(focus.items if focus else [])}'
                    )
                else:
                    tail = '"intervened":false,"reasons":[],"focus":[]'
                plan = plans[i]
                step = (
                    f'{{"source":"{source}","plan":{"null" if plan is None else plan},'
                    f'"requested":[{req[0]},{req[1]},{req[2]}],'
                    f'"applied":[{app[0]},{app[1]},{app[2]}],{tail}}}'
                )
            events = inputs.events[i]
            drive_reason = inputs.drive_reasons.get(i)
            obs_text = base64.b64encode(obs_bytes[i * obs_len : (i + 1) * obs_len]).decode()
            vehicles = base64.b64encode(vehicle_bytes[vehicle_cut[i] : vehicle_cut[i + 1]]).decode()
            frames.append(
                f'{{"type":"tick","tick":{tick},"t_s":{round(ticks * dt, 3)},"drive":{s.drives},'
                f'"drive_reason":{dumps(drive_reason) if drive_reason else "null"},'
                f'"obs":"{obs_text}",'
                f'"ego":{{"x_m":{x:.3f},"y_m":{y:.3f},"length_m":{length:.3f},'
                f'"width_m":{width:.3f},"speed_mps":{speed:.3f},"speed_kmh":{kmh:.1f},'
                f'"lane":{lanes[i]},"target_lane":{targets[i]},'
                f'"lane_change_progress":{progress:.3f}}},'
                f'"vehicles":"{vehicles}",'
                f'"exit":{{"x_m":{exit_x:.2f},"ramp_length_m":{ramp},"distance_m":{exit_d:.1f}}},'
                f'"mission":{s.frame_cache["mission"]},"explain":{s.frame_cache["explain"]},'
                f'"supervisor":{step},"events":{events_json(events) if events else "[]"},'
                f'"counters":{COUNTERS_TEMPLATE % tuple(counters[i])},"server":{server}}}'
            )
        return frames
