"""Session life cycle: opening a session in a free batch slot, closing it (its mission ends
as abandoned, its counters fold into the totals), and closing sessions gone idle."""

from __future__ import annotations

import time

from car_ai_sim_app.accounting import MissionBook
from car_ai_sim_app.batch import BatchFull, BatchSim
from car_ai_sim_app.config import Limits
from car_ai_sim_app.session import Session

CLOSE_IDLE = 4001
CLOSE_FULL = 1013


class ServerFull(RuntimeError):
    pass


class SessionPool:
    def __init__(self, sim: BatchSim, book: MissionBook, limits: Limits) -> None:
        self.sim = sim
        self.book = book
        self.limits = limits
        self.sessions: dict[str, Session] = {}
        self.joining: list[Session] = []
        self.opened = 0
        self.refused = 0

    def open(self) -> Session:
        if len(self.sessions) >= self.limits.max_sessions:
            self.refused += 1
            raise ServerFull(
                f"server full: {self.limits.max_sessions} sessions are open; try again later"
            )
        try:
            slot = self.sim.acquire()
        except BatchFull as exc:
            self.refused += 1
            raise ServerFull(f"server full: {exc}") from None
        session = Session(slot, self.limits.outbox_frames, self.limits)
        self.sessions[session.id] = session
        self.joining.append(session)
        self.opened += 1
        return session

    def close(self, session: Session, outcome: str = "abandoned") -> None:
        if self.sessions.pop(session.id, None) is None:
            return
        self.book.end_mission(session, outcome)
        if session in self.joining:
            self.joining.remove(session)
        counters = self.book.counters
        counters.counts[session.slot, counters.COLUMN_DROPPED] = session.outbox.dropped
        counters.retire(session.slot)
        self.sim.release(session.slot)
        session.outbox.close()

    def close_all(self) -> None:
        for session in list(self.sessions.values()):
            session.kick(1001, "server shutting down")
            self.close(session, "abandoned")

    def close_idle(self) -> None:
        """Close sessions whose last accepted message is older than the idle timeout."""
        limit = self.limits.idle_timeout_s
        now = time.monotonic()
        for session in list(self.sessions.values()):
            if now - session.last_seen > limit:
                session.kick(CLOSE_IDLE, f"no message for {limit:g} s; session closed")
                self.close(session, "abandoned")
