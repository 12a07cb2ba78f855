"""The mission log: a SQLite store of model identities, eval results and live app missions.

The database runs in WAL mode so the app can write missions while an eval appends results.
Its schema is versioned in ``schema_version``; migrations only add tables, columns and
indexes, and never drop or rewrite data.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from car_ai_rl.errors import UserError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # version 1
    (
        """CREATE TABLE IF NOT EXISTS models (
            id INTEGER PRIMARY KEY,
            identity_key TEXT NOT NULL UNIQUE,
            sha256 TEXT,
            kind TEXT NOT NULL,
            name TEXT,
            path TEXT,
            metadata_json TEXT NOT NULL DEFAULT '{}',
            first_seen TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS eval_runs (
            run_id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            config_name TEXT,
            config_path TEXT,
            config_json TEXT,
            package_version TEXT,
            argv_json TEXT,
            passed INTEGER
        )""",
        """CREATE TABLE IF NOT EXISTS eval_results (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES eval_runs(run_id),
            time TEXT NOT NULL,
            model_id INTEGER NOT NULL REFERENCES models(id),
            candidate TEXT NOT NULL,
            baseline TEXT,
            suite TEXT NOT NULL,
            suite_digest TEXT,
            supervisor TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL,
            ci_low REAL,
            ci_high REAL,
            n INTEGER NOT NULL,
            confidence REAL NOT NULL,
            diff_value REAL,
            diff_low REAL,
            diff_high REAL
        )""",
        """CREATE INDEX IF NOT EXISTS eval_results_lookup
            ON eval_results (metric, suite, supervisor, model_id)""",
        """CREATE TABLE IF NOT EXISTS eval_checks (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES eval_runs(run_id),
            rule TEXT NOT NULL,
            metric TEXT NOT NULL,
            candidate TEXT NOT NULL,
            suite TEXT NOT NULL,
            supervisor TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS missions (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL,
            command_text TEXT,
            mission_json TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT,
            collisions INTEGER NOT NULL DEFAULT 0,
            interventions INTEGER NOT NULL DEFAULT 0,
            late_answers INTEGER NOT NULL DEFAULT 0,
            model_id INTEGER REFERENCES models(id),
            extra_json TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS missions_session ON missions (session_id, started_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class EvalRow:
    """One stored metric estimate of one model, joined with its model."""

    run_id: str
    time: str
    model_id: int
    model_sha256: str | None
    model_kind: str
    model_name: str | None
    first_seen: str
    candidate: str
    suite: str
    suite_digest: str | None
    supervisor: str
    metric: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    confidence: float


def identity_key(identity: dict[str, Any]) -> str:
    """The file hash when there is one, otherwise a hash of kind and metadata."""
    if identity.get("sha256"):
        return f"sha256:{identity['sha256']}"
    text = json.dumps(
        {"kind": identity.get("kind"), "metadata": identity.get("metadata") or {}},
        sort_keys=True,
    )
    return f"{identity.get('kind')}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


class MissionLog:
    """Open (creating and migrating if needed) the mission log at ``path``."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise UserError(f"mission log not found: {self.path}")
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"{self.path.resolve().as_uri()}?mode={'ro' if readonly else 'rwc'}"
            self.conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._enable_wal()
                self._migrate()
            self.version = self._current_version()
        except sqlite3.DatabaseError as exc:
            raise UserError(f"mission log {self.path}: {exc}") from None

    def _enable_wal(self, timeout_s: float = 30.0) -> None:
        """Switch to write-ahead logging. Changing the journal mode needs the database to
        itself, and SQLite answers "database is locked" at once rather than waiting when
        another process (a second server opening the same log) holds it: retry for as long
        as the connection's own timeout would have waited."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    # --------------------------------------------------------------------- lifecycle
    def __enter__(self) -> MissionLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def _current_version(self) -> int:
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return 0
        row = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = self._current_version()
            if current > SCHEMA_VERSION:
                raise UserError(
                    f"mission log {self.path} has schema version {current}, newer than this "
                    f"car-ai-rl supports ({SCHEMA_VERSION}); upgrade car-ai-rl"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_version (version, applied_at) "
                    "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    (version,),
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------------ models
    def model_id(self, identity: dict[str, Any], name: str | None, seen_at: str) -> int:
        """The row id of a model, inserting it (with ``first_seen = seen_at``) if new."""
        key = identity_key(identity)
        row = self.conn.execute("SELECT id FROM models WHERE identity_key = ?", (key,)).fetchone()
        if row:
            return int(row[0])
        cursor = self.conn.execute(
            "INSERT INTO models (identity_key, sha256, kind, name, path, metadata_json, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                identity.get("sha256"),
                identity.get("kind", "unknown"),
                name,
                identity.get("path"),
                json.dumps(identity.get("metadata") or {}, sort_keys=True),
                seen_at,
            ),
        )
        return int(cursor.lastrowid or 0)

    # ------------------------------------------------------------------------- evals
    def record_eval(
        self,
        run: dict[str, Any],
        models: dict[str, dict[str, Any]],
        results: Iterable[dict[str, Any]],
        checks: Iterable[dict[str, Any]] = (),
    ) -> int:
        """Append one eval run in a single transaction; return the number of result rows.

        ``run`` has run_id, started_at, finished_at, config_name, config_path, config_json,
        package_version, argv_json, passed. ``models`` maps candidate name to identity.
        Each result has candidate, baseline, suite, suite_digest, supervisor, metric,
        value, ci_low, ci_high, n, confidence, diff_value, diff_low, diff_high.
        """
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "INSERT INTO eval_runs (run_id, started_at, finished_at, config_name, "
                "config_path, config_json, package_version, argv_json, passed) "
                "VALUES (:run_id, :started_at, :finished_at, :config_name, :config_path, "
                ":config_json, :package_version, :argv_json, :passed)",
                run,
            )
            ids = {
                name: self.model_id(identity, name, run["started_at"])
                for name, identity in models.items()
            }
            rows = [
                {
                    **r,
                    "run_id": run["run_id"],
                    "time": run["finished_at"],
                    "model_id": ids[r["candidate"]],
                }
                for r in results
            ]
            self.conn.executemany(
                "INSERT INTO eval_results (run_id, time, model_id, candidate, baseline, suite, "
                "suite_digest, supervisor, metric, value, ci_low, ci_high, n, confidence, "
                "diff_value, diff_low, diff_high) VALUES (:run_id, :time, :model_id, "
                ":candidate, :baseline, :suite, :suite_digest, :supervisor, :metric, :value, "
                ":ci_low, :ci_high, :n, :confidence, :diff_value, :diff_low, :diff_high)",
                rows,
            )
            self.conn.executemany(
                "INSERT INTO eval_checks (run_id, rule, metric, candidate, suite, supervisor, "
                "status, message) VALUES (:run_id, :rule, :metric, :candidate, :suite, "
                ":supervisor, :status, :message)",
                [{**c, "run_id": run["run_id"]} for c in checks],
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return len(rows)

    def eval_rows(
        self,
        metrics: Sequence[str] | None = None,
        suites: Sequence[str] | None = None,
        supervisor: str | None = None,
        candidates: Sequence[str] | None = None,
    ) -> list[EvalRow]:
        """Stored estimates, oldest model first (by ``first_seen``), then by time."""
        where, params = [], []
        for column, values in (
            ("r.metric", metrics),
            ("r.suite", suites),
            ("r.candidate", candidates),
        ):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if supervisor:
            where.append("r.supervisor = ?")
            params.append(supervisor)
        sql = (
            "SELECT r.run_id, r.time, r.model_id, m.sha256 AS model_sha256, "
            "m.kind AS model_kind, m.name AS model_name, m.first_seen, r.candidate, r.suite, "
            "r.suite_digest, r.supervisor, r.metric, r.value, r.ci_low, r.ci_high, r.n, "
            "r.confidence FROM eval_results r JOIN models m ON m.id = r.model_id"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY m.first_seen, m.id, r.time, r.id"
        )
        return [EvalRow(**dict(row)) for row in self.conn.execute(sql, params)]

    # ----------------------------------------------------------------- live missions
    def record_mission(
        self,
        session_id: str,
        mission: dict[str, Any],
        started_at: str,
        *,
        command_text: str | None = None,
        ended_at: str | None = None,
        outcome: str | None = None,
        collisions: int = 0,
        interventions: int = 0,
        late_answers: int = 0,
        model: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Append one live mission from the app; ``model`` is a policy identity, if any."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            model_id = self.model_id(model, None, started_at) if model else None
            cursor = self.conn.execute(
                "INSERT INTO missions (session_id, command_text, mission_json, started_at, "
                "ended_at, outcome, collisions, interventions, late_answers, model_id, "
                "extra_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    command_text,
                    json.dumps(mission, sort_keys=True),
                    started_at,
                    ended_at,
                    outcome,
                    collisions,
                    interventions,
                    late_answers,
                    model_id,
                    json.dumps(extra, sort_keys=True) if extra is not None else None,
                ),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)

    def count(self, table: str) -> int:
        if table not in {"models", "eval_runs", "eval_results", "eval_checks", "missions"}:
            raise ValueError(f"unknown table {table}")
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
