"""Step accounting and mission records.

After each step the counters of every stepped session are updated with a few array
operations; only sessions where something happened (a mission resolved, a collision, the end
of a drive) get per-session work. A mission's figures are its session's counters since it
started. Mission-log rows are bounded: a mission the user never asked for (the cruise every
drive starts with) is logged only when the simulator judged it, and one session writes at most
``Limits.max_missions_per_session`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from car_ai_rl.sim import views
from car_ai_rl.sim.params import SimParams

from car_ai_sim_app import missions
from car_ai_sim_app.batch import BatchSim, StepOutcome
from car_ai_sim_app.config import Limits
from car_ai_sim_app.counters import CounterTable, difference
from car_ai_sim_app.records import MissionRecord, MissionRecorder, utc_now
from car_ai_sim_app.session import Session

SOURCES = ("policy", "manual", "fallback")
JUDGED = ("succeeded", "failed", "collision")
REASON_COLUMNS = ("lane_limit", "unsafe_gap", "emergency_brake", "rear_guard")


@dataclass
class StepReport:
    """What one step did to the sessions stepped, by position in their list."""

    sources: list[str]
    events: list[list[str]]
    reasons: list[list[str]]
    intervened: np.ndarray  # bool (S,)
    drive_reasons: dict[int, str]  # position -> why the drive ended ("exited", ...)


class MissionBook:
    """Counters and mission records of every session."""

    def __init__(
        self,
        sim: BatchSim,
        params: SimParams,
        limits: Limits,
        recorder: MissionRecorder | None,
    ) -> None:
        self.sim = sim
        self.params = params
        self.limits = limits
        self.recorder = recorder
        self.counters = CounterTable(limits.max_sessions)
        self.rows_withheld = 0  # rows not written because a session reached its limit

    # ---------------------------------------------------------------------- steps
    def account(
        self,
        sessions: list[Session],
        slots: np.ndarray,
        sources: np.ndarray,
        out: StepOutcome,
        planned: np.ndarray | None = None,
    ) -> StepReport:
        """Count one step of ``sessions`` (in slots ``slots``); ``sources`` are indices into
        SOURCES and ``planned`` (bool, by position) marks the sessions that drove a plan.
        Returns the per-session events for their frames."""
        c = self.counters
        events = views.step_events(out.result)
        flags = events.flags[slots]
        done = events.done[slots]
        intervened = out.intervened[slots]
        reason_bits = out.reasons[slots]
        late = sources == SOURCES.index("fallback")
        c.add(slots, "ticks")
        c.add(slots, "late_answers", late.astype(np.int64))
        c.add(slots, "manual_ticks", (sources == SOURCES.index("manual")).astype(np.int64))
        if planned is not None:
            c.add(slots, "plan_ticks", planned.astype(np.int64))
        c.add(slots, "interventions", intervened.astype(np.int64))
        collision = flags[:, views.EVENT_FLAGS.index("collision")]
        c.add(slots, "collisions", collision.astype(np.int64))
        reasons: list[list[str]] = [[] for _ in sessions]
        for i in np.nonzero(intervened)[0].tolist():
            names = views.reason_lists(reason_bits[i : i + 1])[0]
            reasons[i] = names
            for name in names:
                c.bump(int(slots[i]), name)
        source_names = [SOURCES[k] for k in sources.tolist()]
        per_session: list[list[str]] = [[] for _ in sessions]
        busy = np.nonzero(late | intervened | flags.any(axis=1) | done)[0].tolist()
        drive_reasons: dict[int, str] = {}
        late_list, intervened_list = late.tolist(), intervened.tolist()
        codes = views.event_codes(flags).tolist()
        for i in busy:
            s = sessions[i]
            names = per_session[i]
            if late_list[i]:
                names.append("late_answer")
            if intervened_list[i]:
                names.append("intervention")
            names.extend(views.event_names(codes[i]))
            if "mission_success" in names:
                self.end_mission(s, "succeeded")
            elif "mission_failure" in names:
                self.end_mission(s, "failed")
            if done[i]:
                hit = bool(collision[i])
                self.end_mission(s, "collision" if hit else "failed")
                why = "collision" if hit else "exited" if "exited" in names else "time_limit"
                drive_reasons[i] = why
                names += ["drive_ended", "drive_started"]
                s.drives += 1
                c.bump(s.slot, "drives")
                self.start_mission(s, self.current_request(s), "drive_start", after=why)
        return StepReport(source_names, per_session, reasons, intervened, drive_reasons)

    # ------------------------------------------------------------------- missions
    def current_request(self, s: Session) -> missions.MissionRequest:
        return missions.current_request(missions.EgoView.of(self.sim.sim, s.slot, self.params))

    def start_mission(
        self,
        s: Session,
        request: missions.MissionRequest,
        source: str,
        tick: int = 0,
        text: str | None = None,
        parsed: dict[str, Any] | None = None,
        after: str | None = None,
    ) -> MissionRecord:
        self.counters.bump(s.slot, "missions")
        mission = {**request.to_dict(), "text": missions.describe(request, self.params.n_lanes)}
        if after:
            mission["after"] = after
        rec = MissionRecord(
            session_id=s.id,
            mission=mission,
            source=source,
            start_counts=self.counters.row(s.slot),
            command_text=text,
            parsed=parsed,
            start_tick=tick,
            model_name=s.model.name if s.model else None,
            model_identity=s.model.identity if s.model else None,
            models_used={s.model.name} if s.model else set(),
        )
        s.mission = rec
        s.mission_text = mission["text"]
        return rec

    def end_mission(self, s: Session, outcome: str) -> None:
        rec = s.mission
        if rec is None:
            return
        s.mission = None
        rec.ended_at = utc_now()
        rec.outcome = outcome
        rec.counts = difference(self.counters.counts[s.slot], rec.start_counts)
        if s.model is not None:
            rec.model_name = s.model.name
            rec.model_identity = s.model.identity
        if rec.source == "drive_start" and outcome not in JUDGED:
            return  # nobody asked for it and nothing judged it: nothing to learn from
        if self.recorder is None:
            return
        if s.missions_logged >= self.limits.max_missions_per_session:
            self.rows_withheld += 1
            return
        s.missions_logged += 1
        self.recorder.submit(rec)

    def rows_left(self, s: Session) -> int:
        return self.limits.max_missions_per_session - s.missions_logged

    def live(self, s: Session) -> dict[str, Any] | None:
        rec = s.mission
        if rec is None:
            return None
        rec.counts = difference(self.counters.counts[s.slot], rec.start_counts)
        return rec.live()
