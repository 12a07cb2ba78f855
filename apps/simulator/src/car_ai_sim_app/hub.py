"""The hub: the tick loop that steps every session's drive in one batched call.

Each tick: the controls every session answered for the previous frame (for a session that
answered with a driving plan, the heuristic driver's controls following that plan), or the
heuristic driver's for the sessions that did not answer in time, pass through the safety
supervisor; the batch steps once; the step is accounted (``accounting``), explained
(``explain``) and encoded into frames (``frames``) for every session at once. Joining
sessions start their drive at a tick boundary, so their first answer has a whole period to
arrive. Sessions come and go through ``pool``; their messages are handled by ``dispatch``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from typing import Any

import numpy as np
from car_ai_rl.sim import core
from car_ai_rl.sim.observation import OBS_DIM, OBS_FEATURES, OBS_SCHEMA_VERSION
from car_ai_rl.sim.views import VEHICLE_FIELDS, VEHICLE_KINDS

from car_ai_sim_app import explain, protocol
from car_ai_sim_app.accounting import SOURCES, MissionBook
from car_ai_sim_app.batch import BatchSim
from car_ai_sim_app.config import KMH_PER_MPS, PROTOCOL_VERSION, AppConfig, app_sim_params
from car_ai_sim_app.dispatch import Dispatcher
from car_ai_sim_app.frames import FrameEncoder, FrameInputs
from car_ai_sim_app.model_store import RegistryStore
from car_ai_sim_app.parser import EXAMPLES
from car_ai_sim_app.pool import CLOSE_FULL, CLOSE_IDLE, ServerFull, SessionPool
from car_ai_sim_app.records import MissionRecorder
from car_ai_sim_app.session import Session
from car_ai_sim_app.stats import TickStats

__all__ = ["CLOSE_FULL", "CLOSE_IDLE", "Hub", "ServerFull"]

log = logging.getLogger("car_ai_sim_app.hub")

IDLE_CHECK_S = 1.0
GC_GEN0_THRESHOLD = 20_000
_POLICY, _MANUAL, _FALLBACK = (SOURCES.index(name) for name in SOURCES)


class Hub:
    def __init__(
        self, config: AppConfig, store: RegistryStore, recorder: MissionRecorder | None
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.store = store
        self.params = app_sim_params(config)
        self.period_s = self.params.dt_s / config.time_scale
        self.sim = BatchSim(self.params, self.limits.max_sessions, config.seed)
        self.book = MissionBook(self.sim, self.params, self.limits, recorder)
        self.pool = SessionPool(self.sim, self.book, self.limits)
        self.dispatch = Dispatcher(self)
        self.frames = FrameEncoder(self.params)
        self.tick = 0
        self.stats = TickStats()
        self.started_at = time.monotonic()
        self._last_idle_check = 0.0

    @property
    def sessions(self) -> dict[str, Session]:
        return self.pool.sessions

    # ------------------------------------------------------------------ life cycle
    def warm_up(self) -> None:
        """Compile (or load from cache) every kernel the ticks use, both batch sizes."""
        for n in (self.sim.capacity, core.PARALLEL_MIN_ENVS):
            warm = BatchSim(self.params, n, self.config.seed)
            warm._grow(n)
            warm.step(warm.fallback_controls())
            warm.fallback_controls(np.arange(2))
            warm.plan_controls(np.arange(2), np.arange(2))
            slots = np.arange(n)
            explain.explain(warm.sim, slots, self.params, {})
        self.sim.step(self.sim.fallback_controls())
        # the tick allocates many short-lived objects: keep the cyclic collector off the
        # long-lived ones (models, registry, compiled code) and run it less often
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_GEN0_THRESHOLD, 20, 100)

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
                self.pool.close_idle()

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
            "vehicle_kinds": list(VEHICLE_KINDS),
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
        session = self.pool.open()
        session.outbox.put(protocol.dumps(self.hello(session)))
        return session

    def close_session(self, session: Session, outcome: str = "abandoned") -> None:
        self.pool.close(session, outcome)

    def close_all(self) -> None:
        self.pool.close_all()

    def on_message(self, s: Session, text: str | None, data: bytes | None) -> None:
        self.dispatch.on_message(s, text, data)

    # ------------------------------------------------------------------------ ticks
    def collect_controls(self, ready: list[Session]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every ready session's controls for this tick, their source (index into SOURCES) and
        the plan each drove (``explain.NO_PLAN`` for none). A plan answer's controls are the
        heuristic driver's following that plan, computed for all of them in one call; the
        heuristic driver fills in only for sessions without a timely answer."""
        controls = np.zeros((self.sim.capacity, 3))
        sources = np.full(len(ready), _FALLBACK, dtype=np.int64)
        plans = np.full(len(ready), explain.NO_PLAN, dtype=np.int64)
        expected = self.tick
        for i, s in enumerate(ready):
            answer = s.answer
            if answer is not None and answer.tick == expected:
                if answer.plan is None:
                    controls[s.slot] = answer.values
                else:
                    plans[i] = answer.plan
                sources[i] = _MANUAL if answer.source == "manual" else _POLICY
            s.answer = None
        answered = np.zeros(self.sim.capacity, dtype=bool)
        ready_slots = np.fromiter((s.slot for s in ready), dtype=np.int64, count=len(ready))
        answered[ready_slots[sources != _FALLBACK]] = True
        planned = np.nonzero(plans != explain.NO_PLAN)[0]
        if len(planned):
            controls[ready_slots[planned]] = self.sim.plan_controls(
                ready_slots[planned], plans[planned]
            )
        missing = np.nonzero(~answered)[0]  # late sessions and free slots
        controls[missing] = self.sim.fallback_controls(missing)
        return controls, sources, plans

    def tick_once(self) -> None:
        start = time.perf_counter()
        ready = [s for s in self.sessions.values() if s.ready]
        slots = np.fromiter((s.slot for s in ready), dtype=np.int64, count=len(ready))
        controls, sources, plans = self.collect_controls(ready)
        out = self.sim.step(controls)
        report = self.book.account(ready, slots, sources, out, plans != explain.NO_PLAN)
        joining, self.pool.joining = self.pool.joining, []
        self.sim.start_drives([s.slot for s in joining])
        for s in joining:
            s.ready = True
            s.drives += 1
            self.book.counters.bump(s.slot, "drives")
            self.book.start_mission(s, self.book.current_request(s), "drive_start", self.tick)
        self.tick += 1
        sessions = ready + joining
        all_slots = np.concatenate([slots, [s.slot for s in joining]]).astype(np.int64)
        state = self.sim.sim
        hit = np.nonzero(report.intervened)[0]
        focus_list = explain.supervisor_focus(
            state, slots[hit], out.reasons[slots[hit]], out.requested[slots[hit]], self.params
        )
        focus = dict(zip(hit.tolist(), focus_list, strict=True))
        all_plans = np.concatenate([plans, np.full(len(joining), explain.NO_PLAN)])
        inputs = FrameInputs(
            sources=[*report.sources, *([None] * len(joining))],
            requested=out.requested[all_slots],
            applied=out.applied[all_slots],
            intervened=np.concatenate([report.intervened, np.zeros(len(joining), dtype=bool)]),
            reasons=[*report.reasons, *([[]] * len(joining))],
            events=[*report.events, *([["drive_started"]] * len(joining))],
            focus=focus,
            plans=all_plans,
            explanations=explain.explain(state, all_slots, self.params, focus, all_plans),
            drive_reasons=report.drive_reasons,
        )
        counts = self.book.counters.counts
        for s in sessions:
            counts[s.slot, self.book.counters.COLUMN_DROPPED] = s.outbox.dropped
        texts = self.frames.encode(
            self.tick,
            state,
            self.sim.obs,
            sessions,
            all_slots,
            counts,
            inputs,
            self.stats.last_step_ms,
        )
        for s, text in zip(sessions, texts, strict=True):
            s.outbox.put(text, droppable=True)
        self.stats.record(start, (time.perf_counter() - start) * 1000.0)

    # --------------------------------------------------------------------- missions
    def live_missions(self) -> list[dict[str, Any]]:
        return [m for s in self.sessions.values() if (m := self.book.live(s)) is not None]

    def notify_registry(self) -> None:
        text = protocol.dumps({"type": "registry", **self.store.current.public()})
        for s in self.sessions.values():
            s.outbox.put(text)

    # ------------------------------------------------------------------------- stats
    def stats_summary(self) -> dict[str, Any]:
        times = os.times()
        counters = self.book.counters
        for s in self.sessions.values():
            counters.counts[s.slot, counters.COLUMN_DROPPED] = s.outbox.dropped
        recorder = self.book.recorder
        return {
            **self.stats.summary(),
            "tick_hz_target": round(1.0 / self.period_s, 6),
            "sessions": len(self.sessions),
            "sessions_opened": self.pool.opened,
            "sessions_refused": self.pool.refused,
            "batch_capacity": self.sim.capacity,
            "uptime_s": round(time.monotonic() - self.started_at, 3),
            "cpu_s": round(times.user + times.system, 3),
            "pid": os.getpid(),
            "counters": counters.totals([s.slot for s in self.sessions.values()]),
            "mission_log": {
                "written": recorder.written if recorder else 0,
                "failed": recorder.failed if recorder else 0,
                "withheld": self.book.rows_withheld,
            },
        }
