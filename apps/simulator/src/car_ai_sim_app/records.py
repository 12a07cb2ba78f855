"""Mission records: one row per mission in the SQLite mission log shared with evaluation.

Rows are written by one background thread (SQLite commits wait on the disk; the tick loop must
not), through ``car_ai_rl.evals.mission_log.MissionLog.record_mission``.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from car_ai_rl.errors import UserError
from car_ai_rl.evals.mission_log import MissionLog

log = logging.getLogger("car_ai_sim_app.records")


def utc_now() -> str:
    """The mission log's timestamp format (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


REASON_COUNTERS = ("lane_limit", "unsafe_gap", "emergency_brake", "rear_guard")


@dataclass
class MissionRecord:
    """A mission while it runs; ``row()`` is what the mission log stores when it ends.

    Its figures (ticks, collisions, interventions, ...) are the session's counters since the
    mission started: ``counts`` is set from the counter table when it ends (or for a live view).
    Outcomes: succeeded, failed (as the simulator judged), collision, replaced, cancelled,
    abandoned (the session closed)."""

    session_id: str
    mission: dict[str, Any]
    source: str  # "text", "voice", "drive_start"
    start_counts: np.ndarray
    command_text: str | None = None
    parsed: dict[str, Any] | None = None
    started_at: str = field(default_factory=utc_now)
    start_tick: int = 0
    model_name: str | None = None
    model_identity: dict[str, Any] | None = None
    models_used: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    ended_at: str | None = None
    outcome: str | None = None

    def row(self) -> dict[str, Any]:
        c = self.counts
        reasons = {name: c.get(name, 0) for name in REASON_COUNTERS if c.get(name, 0)}
        return {
            "session_id": self.session_id,
            "mission": {**self.mission, "source": self.source, "parsed": self.parsed},
            "started_at": self.started_at,
            "command_text": self.command_text,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
            "collisions": c.get("collisions", 0),
            "interventions": c.get("interventions", 0),
            "late_answers": c.get("late_answers", 0),
            "model": self.model_identity,
            "extra": {
                "model_name": self.model_name,
                "models_used": sorted(self.models_used),
                "ticks": c.get("ticks", 0),
                "manual_ticks": c.get("manual_ticks", 0),
                "plan_ticks": c.get("plan_ticks", 0),
                "rejected_controls": c.get("rejected_controls", 0),
                "clamped_controls": c.get("clamped_controls", 0),
                "intervention_reasons": dict(sorted(reasons.items())),
            },
        }

    def live(self) -> dict[str, Any]:
        out = self.row()
        out["mission_json"] = out.pop("mission")
        out["extra_json"] = out.pop("extra")
        out.pop("model")
        return {**out, "live": True}


class MissionRecorder:
    """Append finished missions to the mission log from a writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        MissionLog(self.path).close()  # create and migrate now, so errors show at startup
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.written = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name="mission-log", daemon=True)
        self._thread.start()

    def submit(self, record: MissionRecord) -> None:
        self._queue.put(record.row())

    def _run(self) -> None:
        db = MissionLog(self.path)
        try:
            while True:
                row = self._queue.get()
                try:
                    if row is None:
                        return
                    session_id = row.pop("session_id")
                    mission = row.pop("mission")
                    started_at = row.pop("started_at")
                    db.record_mission(session_id, mission, started_at, **row)
                    self.written += 1
                except (sqlite3.Error, UserError, TypeError, ValueError) as exc:
                    self.failed += 1
                    log.error("mission log write failed: %s", exc)
                finally:
                    self._queue.task_done()
        finally:
            db.close()

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every submitted row is written (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10.0)

    def list(self, limit: int, session_id: str | None = None) -> list[dict[str, Any]]:
        """Stored missions, newest first, with the model's name, kind and hash."""
        where, params = "", []
        if session_id:
            where, params = "WHERE m.session_id = ?", [session_id]
        sql = (
            "SELECT m.id, m.session_id, m.command_text, m.mission_json, m.started_at, "
            "m.ended_at, m.outcome, m.collisions, m.interventions, m.late_answers, "
            "m.extra_json, mo.sha256 AS model_sha256, mo.kind AS model_kind, "
            "mo.path AS model_path FROM missions m LEFT JOIN models mo ON mo.id = m.model_id "
            f"{where} ORDER BY m.id DESC LIMIT ?"
        )
        with MissionLog(self.path, readonly=True) as db:
            rows = db.conn.execute(sql, [*params, int(limit)]).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            for key in ("mission_json", "extra_json"):
                item[key] = json.loads(item[key]) if item[key] else None
            out.append(item)
        return out
