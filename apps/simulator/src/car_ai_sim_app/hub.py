"""The hub: sessions, the tick loop that steps every session's env in one batched call, and
the handling of client messages.

Each tick: the controls every session answered for the previous frame (or, for a late or
missing answer, the heuristic driver's) pass through the safety supervisor, the batch steps
once, and each session gets its next frame. Joining sessions start their drive at a tick
boundary, so their first answer has a whole period to arrive.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections import deque
from typing import Any

import numpy as np
from car_ai_rl.safety.supervisor import reason_names
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.observation import OBS_DIM, OBS_FEATURES, OBS_SCHEMA_VERSION

from car_ai_sim_app import missions, protocol
from car_ai_sim_app.batch import BatchFull, BatchSim, StepOutcome
from car_ai_sim_app.config import KMH_PER_MPS, PROTOCOL_VERSION, AppConfig, app_sim_params
from car_ai_sim_app.model_store import RegistryStore
from car_ai_sim_app.parser import EXAMPLES, ParseError, parse
from car_ai_sim_app.records import MissionRecord, MissionRecorder, utc_now
from car_ai_sim_app.session import Counters, Session

log = logging.getLogger("car_ai_sim_app.hub")

IDLE_CHECK_S = 1.0
# tick frames carry the other vehicles as base64 float32 little-endian rows of these fields
VEHICLE_FIELDS = ("id", "dx_m", "y_m", "length_m", "width_m", "speed_mps")
CLOSE_IDLE = 4001
CLOSE_FULL = 1013


class ServerFull(RuntimeError):
    pass


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class TickStats:
    """Recent tick latencies (sim + supervisor + frames) and intervals between ticks."""

    def __init__(self, window: int = 3000) -> None:
        self.step_ms: deque[float] = deque(maxlen=window)
        self.interval_s: deque[float] = deque(maxlen=window)
        self.last_start: float | None = None
        self.ticks = 0
        self.overruns = 0

    def record(self, start: float, step_ms: float) -> None:
        if self.last_start is not None:
            self.interval_s.append(start - self.last_start)
        self.last_start = start
        self.step_ms.append(step_ms)
        self.ticks += 1

    def summary(self) -> dict[str, Any]:
        steps, intervals = list(self.step_ms), list(self.interval_s)
        mean_interval = float(np.mean(intervals)) if intervals else None
        return {
            "ticks": self.ticks,
            "overruns": self.overruns,
            "tick_hz": round(1.0 / mean_interval, 3) if mean_interval else None,
            "step_ms": {
                "p50": _percentile(steps, 50),
                "p90": _percentile(steps, 90),
                "p99": _percentile(steps, 99),
                "max": round(max(steps), 3) if steps else None,
                "window": len(steps),
            },
        }


class Hub:
    def __init__(
        self, config: AppConfig, store: RegistryStore, recorder: MissionRecorder | None
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.store = store
        self.recorder = recorder
        self.params = app_sim_params(config)
        self.period_s = self.params.dt_s / config.time_scale
        self.sim = BatchSim(self.params, self.limits.max_sessions, config.seed)
        self.sessions: dict[str, Session] = {}
        self.joining: list[Session] = []
        self.tick = 0
        self.stats = TickStats()
        self.closed_totals = Counters()
        self.sessions_opened = 0
        self.sessions_refused = 0
        self.started_at = time.monotonic()
        self._last_idle_check = 0.0

    # ------------------------------------------------------------------ life cycle
    def warm_up(self) -> None:
        """Compile (or load from cache) every kernel the ticks use, both batch sizes."""
        for n in (self.sim.capacity, core.PARALLEL_MIN_ENVS):
            warm = BatchSim(self.params, n, self.config.seed)
            warm._grow(n)
            warm.step(warm.fallback_controls())
        self.sim.step(self.sim.fallback_controls())

    async def run(self) -> None:
        """Tick at the decision rate until cancelled; an overrun shifts the schedule."""
        loop = asyncio.get_running_loop()
        next_t = loop.time() + self.period_s
        while True:
            delay = next_t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            if now - next_t > self.period_s:
                self.stats.overruns += 1
                next_t = now
            try:
                self.tick_once()
            except Exception:  # a bug in one tick must not stop every session
                log.exception("tick %d failed", self.tick)
            next_t += self.period_s
            if now - self._last_idle_check >= IDLE_CHECK_S:
                self._last_idle_check = now
                self.close_idle()

    def hello(self, session: Session) -> dict[str, Any]:
        p = self.params
        return {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "session_id": session.id,
            "tick_hz": round(1.0 / self.period_s, 6),
            "decision_hz": p.decision_hz,
            "dt_s": p.dt_s,
            "time_scale": self.config.time_scale,
            "road": {
                "n_lanes": p.n_lanes,
                "lane_width_m": p.lane_width_m,
                "exit_ramp_length_m": p.exit_ramp_length_m,
                "speed_max_kmh": round(p.speed_max_mps * KMH_PER_MPS, 1),
                "lane_numbering": "lane 1 is the leftmost lane",
            },
            "vehicle_fields": list(VEHICLE_FIELDS),
            "obs": {
                "schema_version": OBS_SCHEMA_VERSION,
                "dim": OBS_DIM,
                "features": list(OBS_FEATURES),
                "encoding": "base64 of float32 little-endian",
            },
            "limits": self.limits.public(),
            "registry": self.store.current.public(),
            "examples": list(EXAMPLES),
        }

    def open_session(self) -> Session:
        if len(self.sessions) >= self.limits.max_sessions:
            self.sessions_refused += 1
            raise ServerFull(
                f"server full: {self.limits.max_sessions} sessions are open; try again later"
            )
        try:
            slot = self.sim.acquire()
        except BatchFull as exc:
            self.sessions_refused += 1
            raise ServerFull(f"server full: {exc}") from None
        lim = self.limits
        session = Session(slot, lim.outbox_frames, lim.messages_per_s, lim.message_burst)
        self.sessions[session.id] = session
        self.joining.append(session)
        self.sessions_opened += 1
        session.outbox.put(protocol.dumps(self.hello(session)))
        return session

    def close_session(self, session: Session, outcome: str = "abandoned") -> None:
        if self.sessions.pop(session.id, None) is None:
            return
        self._end_mission(session, outcome)
        if session in self.joining:
            self.joining.remove(session)
        self.sim.release(session.slot)
        session.counters.dropped_frames = session.outbox.dropped
        for key, value in session.counters.public().items():
            setattr(self.closed_totals, key, getattr(self.closed_totals, key) + value)
        session.outbox.close()

    def close_all(self) -> None:
        for session in list(self.sessions.values()):
            session.kick(1001, "server shutting down")
            self.close_session(session, "abandoned")

    def close_idle(self) -> None:
        limit = self.limits.idle_timeout_s
        now = time.monotonic()
        for session in list(self.sessions.values()):
            if now - session.last_seen > limit:
                session.kick(CLOSE_IDLE, f"no message for {limit:g} s; session closed")
                self.close_session(session, "abandoned")

    # ------------------------------------------------------------------------ ticks
    def tick_once(self) -> None:
        start = time.perf_counter()
        expected = self.tick
        ready = [s for s in self.sessions.values() if s.ready]
        controls = self.sim.fallback_controls()
        sources: dict[str, str] = {}
        for s in ready:
            answer = s.answer
            if answer is not None and answer.tick == expected:
                controls[s.slot] = answer.values
                sources[s.id] = answer.source
            else:
                sources[s.id] = "fallback"
            s.answer = None
        outcome = self.sim.step(controls)
        done = outcome.result.done
        steps = {s.id: self._account(s, outcome, sources[s.id], bool(done[s.slot])) for s in ready}
        joining, self.joining = self.joining, []
        self.sim.start_drives([s.slot for s in joining])
        for s in joining:
            s.ready = True
            s.counters.drives += 1
            self._start_mission(s, self._current_request(s), "drive_start")
            steps[s.id] = {
                "source": None,
                "requested": None,
                "applied": None,
                "intervened": False,
                "reasons": [],
                "events": ["drive_started"],
            }
        self.tick += 1
        self._send_frames(ready + joining, steps)
        self.stats.record(start, (time.perf_counter() - start) * 1000.0)

    def _account(self, s: Session, out: StepOutcome, source: str, done: bool) -> dict[str, Any]:
        """Update counters and the mission record of one session after a step."""
        b = s.slot
        ev = out.result.events[b]
        c = s.counters
        rec = s.mission
        c.ticks += 1
        late = source == "fallback"
        intervened = bool(out.intervened[b])
        reasons = reason_names(int(out.reasons[b])) if intervened else []
        events = []
        if late:
            c.late_answers += 1
            events.append("late_answer")
        if intervened:
            c.interventions += 1
            events.append("intervention")
        collision = bool(ev[layout.EV_COLLISION] > 0.5)
        if collision:
            c.collisions += 1
            events.append("collision_at_fault" if ev[layout.EV_AT_FAULT] > 0.5 else "collision")
        if ev[layout.EV_LANE_CHANGE_STARTED] > 0.5:
            events.append("lane_change_started")
        if ev[layout.EV_EXITED] > 0.5:
            events.append("exited")
        if rec is not None:
            rec.ticks += 1
            rec.late_answers += int(late)
            rec.manual_ticks += int(source == "manual")
            rec.collisions += int(collision)
            if intervened:
                rec.interventions += 1
                for name in reasons:
                    rec.reasons[name] = rec.reasons.get(name, 0) + 1
        if ev[layout.EV_MISSION_SUCCESS] > 0.5:
            events.append("mission_succeeded")
            self._end_mission(s, "succeeded")
        elif ev[layout.EV_MISSION_FAILURE] > 0.5:
            events.append("mission_failed")
            self._end_mission(s, "failed")
        if done:
            self._end_mission(s, "collision" if collision else "failed")
            events.append("drive_ended")
            c.drives += 1
            exited = ev[layout.EV_EXITED] > 0.5
            reason = "collision" if collision else "exited" if exited else "time_limit"
            self._start_mission(s, self._current_request(s), "drive_start", extra_reason=reason)
        return {
            "source": source,
            "requested": [round(float(v), 3) for v in out.requested[b]],
            "applied": [round(float(v), 3) for v in out.applied[b]],
            "intervened": intervened,
            "reasons": reasons,
            "events": events,
        }

    def _send_frames(self, sessions: list[Session], steps: dict[str, dict[str, Any]]) -> None:
        if not sessions:
            return
        st = self.sim.sim
        p = self.params
        slots = np.array([s.slot for s in sessions])
        ego_x = st.x_m[slots, 0]
        ids = np.broadcast_to(np.arange(st.n_vehicles, dtype=np.float64), st.x_m[slots].shape)
        fields = [st.x_m[slots] - ego_x[:, None], st.y_m[slots], st.length_m[slots]]
        fields += [st.width_m[slots], st.speed_mps[slots]]
        others = np.stack([ids, *fields], axis=-1).astype("<f4")
        egos = np.round(np.stack([ego_x, *(f[:, 0] for f in fields[1:])], axis=-1), 3).tolist()
        active = st.active[slots]
        obs = self.sim.obs[slots]
        lanes = st.lane[slots, 0].astype(int).tolist()
        targets = st.target_lane[slots, 0].astype(int).tolist()
        exit_x = st.exit_x_m[slots]
        kinds = st.mission_kind[slots].tolist()
        statuses = st.mission_status[slots].tolist()
        target_speed = st.target_speed_mps[slots].tolist()
        mission_lane = st.mission_target_lane[slots].tolist()
        step_ms = self.stats.step_ms[-1] if self.stats.step_ms else None
        for i, s in enumerate(sessions):
            ego = egos[i]
            rows = others[i, 1:][active[i, 1:]]
            kind = layout.MISSION_KIND_NAMES[kinds[i]]
            frame = {
                "type": "tick",
                "tick": self.tick,
                "t_s": round(s.counters.ticks * p.dt_s, 3),
                "drive": s.counters.drives,
                "obs": base64.b64encode(obs[i].astype("<f4").tobytes()).decode(),
                "ego": {
                    "x_m": ego[0],
                    "y_m": ego[1],
                    "length_m": ego[2],
                    "width_m": ego[3],
                    "speed_mps": ego[4],
                    "speed_kmh": round(ego[4] * KMH_PER_MPS, 1),
                    "lane": lanes[i],
                    "target_lane": targets[i],
                },
                "vehicles": base64.b64encode(rows.tobytes()).decode(),
                "exit": {
                    "x_m": round(float(exit_x[i]), 2),
                    "ramp_length_m": p.exit_ramp_length_m,
                    "distance_m": round(float(exit_x[i] - ego_x[i]), 1),
                },
                "mission": {
                    "kind": kind,
                    "status": layout.MISSION_STATUS_NAMES[statuses[i]],
                    "target_speed_kmh": round(target_speed[i] * KMH_PER_MPS, 1),
                    "target_lane": mission_lane[i] if kind == "lane" else None,
                    "text": s.mission_text,
                },
                "supervisor": steps.get(s.id, {}),
                "counters": s.counters.public(),
                "server": {"step_ms": round(step_ms, 3) if step_ms else None},
            }
            s.counters.dropped_frames = s.outbox.dropped
            s.outbox.put(protocol.dumps(frame), droppable=True)

    # --------------------------------------------------------------------- missions
    def _current_request(self, s: Session) -> missions.MissionRequest:
        return missions.current_request(missions.EgoView.of(self.sim.sim, s.slot, self.params))

    def _start_mission(
        self,
        s: Session,
        request: missions.MissionRequest,
        source: str,
        text: str | None = None,
        parsed: dict[str, Any] | None = None,
        extra_reason: str | None = None,
    ) -> MissionRecord:
        s.counters.missions += 1
        mission = {**request.to_dict(), "text": missions.describe(request, self.params.n_lanes)}
        if extra_reason:
            mission["after"] = extra_reason
        rec = MissionRecord(
            session_id=s.id,
            mission=mission,
            source=source,
            command_text=text,
            parsed=parsed,
            start_tick=self.tick,
            model_name=s.model.name if s.model else None,
            model_identity=s.model.identity if s.model else None,
            models_used={s.model.name} if s.model else set(),
        )
        s.mission = rec
        s.mission_text = mission["text"]
        return rec

    def _end_mission(self, s: Session, outcome: str) -> None:
        rec = s.mission
        if rec is None:
            return
        s.mission = None
        rec.ended_at = utc_now()
        rec.outcome = outcome
        if s.model is not None:
            rec.model_name = s.model.name
            rec.model_identity = s.model.identity
        if self.recorder is not None:
            self.recorder.submit(rec)

    def live_missions(self) -> list[dict[str, Any]]:
        return [s.mission.live() for s in self.sessions.values() if s.mission is not None]

    # ---------------------------------------------------------------------- messages
    def on_message(self, s: Session, text: str | None, data: bytes | None) -> None:
        s.last_seen = time.monotonic()
        if not s.bucket.take():
            s.counters.rate_limited += 1
            self._error(s, "rate_limited", "too many messages; this one was dropped", 1.0)
            return
        try:
            msg = protocol.decode(text, data, self.limits)
            kind = msg["type"]
            if kind == "controls":
                self._on_controls(s, msg)
            elif kind == "command":
                self._on_command(s, protocol.parse_command(msg, self.limits))
            elif kind == "model":
                self._on_model(s, protocol.parse_model_report(msg))
            else:
                s.outbox.put(protocol.dumps({"type": "pong", "tick": self.tick}))
        except protocol.ProtocolError as exc:
            if exc.code == "non_finite_controls":
                s.counters.rejected_controls += 1
                if s.mission is not None:
                    s.mission.rejected_controls += 1
            else:
                s.counters.malformed += 1
            self._error(s, exc.code, exc.message)

    def _error(self, s: Session, code: str, message: str, min_gap_s: float = 0.0) -> None:
        now = time.monotonic()
        if min_gap_s and now - s.last_error_at < min_gap_s:
            return
        s.last_error_at = now
        s.outbox.put(protocol.error(code, message))

    def _on_controls(self, s: Session, msg: dict[str, Any]) -> None:
        controls = protocol.parse_controls(msg)
        if controls.clamped:
            s.counters.clamped_controls += 1
            if s.mission is not None:
                s.mission.clamped_controls += 1
        if controls.tick == self.tick and s.ready:
            s.answer = controls
        elif controls.tick < self.tick:
            s.counters.stale_answers += 1
        else:
            raise protocol.ProtocolError(
                "bad_controls", f"tick {controls.tick} has not been sent yet (now {self.tick})"
            )

    def _reply(self, s: Session, ok: bool, command: str, reply: str, **extra: Any) -> None:
        s.outbox.put(
            protocol.dumps(
                {"type": "command_result", "ok": ok, "text": command, "reply": reply, **extra}
            )
        )

    def _on_command(self, s: Session, msg: protocol.CommandMessage) -> None:
        s.counters.commands += 1
        if not s.ready:
            s.counters.commands_refused += 1
            self._reply(s, False, msg.text, "The drive is starting; say that again in a moment.")
            return
        try:
            command = parse(msg.text)
            ego = missions.EgoView.of(self.sim.sim, s.slot, self.params)
            request = missions.resolve(command, ego)
            missions.apply(self.sim.sim, s.slot, self.params, request)
        except (ParseError, missions.CommandRefused) as exc:
            s.counters.commands_refused += 1
            self._reply(s, False, msg.text, str(exc), source=msg.source)
            return
        self._end_mission(s, "cancelled" if command.action == "cancel" else "replaced")
        rec = self._start_mission(s, request, msg.source, msg.text, command.to_dict())
        reply = f"OK: {rec.mission['text']}."
        if request.kind == "exit":
            ahead = float(self.sim.sim.exit_x_m[s.slot] - self.sim.sim.x_m[s.slot, 0])
            rec.mission["exit_ahead_m"] = round(ahead, 1)
            reply = f"OK: {rec.mission['text']} (exit zone starts in {ahead:.0f} m)."
        self._reply(
            s,
            True,
            msg.text,
            reply,
            source=msg.source,
            mission=rec.mission,
            parsed=command.to_dict(),
        )

    def _on_model(self, s: Session, report: protocol.ModelReport) -> None:
        entry = self.store.current.models.get(report.name)
        if entry is None or entry.sha256 != report.sha256:
            raise protocol.ProtocolError(
                "unknown_model", f"{report.name!r} with that hash is not in the current registry"
            )
        s.model = entry
        if s.mission is not None:
            s.mission.models_used.add(entry.name)
            s.mission.model_name = entry.name
            s.mission.model_identity = entry.identity

    def notify_registry(self) -> None:
        text = protocol.dumps({"type": "registry", **self.store.current.public()})
        for s in self.sessions.values():
            s.outbox.put(text)

    # ------------------------------------------------------------------------- stats
    def stats_summary(self) -> dict[str, Any]:
        times = os.times()
        live = Counters()
        for s in self.sessions.values():
            s.counters.dropped_frames = s.outbox.dropped
            for key, value in s.counters.public().items():
                setattr(live, key, getattr(live, key) + value)
        totals = {k: v + getattr(self.closed_totals, k) for k, v in live.public().items()}
        return {
            **self.stats.summary(),
            "tick_hz_target": round(1.0 / self.period_s, 6),
            "sessions": len(self.sessions),
            "sessions_opened": self.sessions_opened,
            "sessions_refused": self.sessions_refused,
            "batch_capacity": self.sim.capacity,
            "uptime_s": round(time.monotonic() - self.started_at, 3),
            "cpu_s": round(times.user + times.system, 3),
            "pid": os.getpid(),
            "counters": totals,
            "mission_log": {
                "written": self.recorder.written if self.recorder else 0,
                "failed": self.recorder.failed if self.recorder else 0,
            },
        }
