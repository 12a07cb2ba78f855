"""The SQLite mission log: schema, WAL, versioning, append-only writes, live missions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from car_ai_rl.errors import UserError
from car_ai_rl.evals.mission_log import SCHEMA_VERSION, MissionLog, identity_key

ONNX = {"kind": "onnx", "path": "/m/a.onnx", "sha256": "f" * 64, "metadata": {"algo": "ppo"}}
HEURISTIC = {"kind": "heuristic", "path": None, "sha256": None, "metadata": {"version": "1"}}


def _run(run_id: str, when: str) -> dict:
    return {
        "run_id": run_id,
        "started_at": when,
        "finished_at": when,
        "config_name": "t",
        "config_path": None,
        "config_json": "{}",
        "package_version": "0",
        "argv_json": "[]",
        "passed": 1,
    }


def _result(candidate: str, value: float, metric: str = "success_rate") -> dict:
    return {
        "candidate": candidate,
        "baseline": "heuristic",
        "suite": "cruise",
        "suite_digest": "d",
        "supervisor": "off",
        "metric": metric,
        "value": value,
        "ci_low": value - 0.05,
        "ci_high": value + 0.05,
        "n": 200,
        "confidence": 0.95,
        "diff_value": None,
        "diff_low": None,
        "diff_high": None,
    }


def test_new_log_has_the_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "log.sqlite"
    with MissionLog(path) as log:
        assert log.version == SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= {
        "schema_version",
        "models",
        "eval_runs",
        "eval_results",
        "eval_checks",
        "missions",
    }
    columns = {r[1] for r in db.execute("PRAGMA table_info(missions)")}
    assert columns >= {
        "session_id",
        "command_text",
        "mission_json",
        "started_at",
        "ended_at",
        "outcome",
        "collisions",
        "interventions",
        "late_answers",
        "model_id",
    }
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with MissionLog(path) as log:
        log.record_eval(_run("r1", "2026-01-01T00:00:00"), {"ppo": ONNX}, [_result("ppo", 0.9)])
    with MissionLog(path) as log:
        assert log.count("eval_results") == 1
        assert log.count("models") == 1
        rows = log.eval_rows()
        assert [(r.candidate, r.value, r.model_sha256) for r in rows] == [("ppo", 0.9, "f" * 64)]
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_models_are_identified_by_hash_or_by_metadata(tmp_path: Path) -> None:
    with MissionLog(tmp_path / "log.sqlite") as log:
        a = log.model_id(ONNX, "ppo", "2026-01-01")
        moved = {**ONNX, "path": "/elsewhere/renamed.onnx"}
        assert log.model_id(moved, "ppo-copy", "2026-02-01") == a  # same file content
        h = log.model_id(HEURISTIC, "heuristic", "2026-01-01")
        assert h != a
        assert log.model_id(dict(HEURISTIC), "heuristic", "2026-03-01") == h
        newer = {**HEURISTIC, "metadata": {"version": "2"}}
        assert log.model_id(newer, "heuristic", "2026-03-01") not in (a, h)
        first_seen = log.conn.execute("SELECT first_seen FROM models WHERE id = ?", (a,))
        assert first_seen.fetchone()[0] == "2026-01-01"
    assert identity_key(ONNX) == f"sha256:{'f' * 64}"


def test_failed_write_leaves_no_partial_run(tmp_path: Path) -> None:
    with MissionLog(tmp_path / "log.sqlite") as log:
        bad = _result("ppo", 0.9)
        del bad["n"]
        with pytest.raises(sqlite3.ProgrammingError):
            log.record_eval(_run("r1", "2026-01-01"), {"ppo": ONNX}, [_result("ppo", 0.8), bad])
        assert (log.count("eval_runs"), log.count("eval_results"), log.count("models")) == (0, 0, 0)


def test_live_missions_are_appended(tmp_path: Path) -> None:
    with MissionLog(tmp_path / "log.sqlite") as log:
        first = log.record_mission(
            "session-1",
            {"kind": "exit", "exit_index": 1},
            "2026-01-01T10:00:00Z",
            command_text="take the next exit",
            ended_at="2026-01-01T10:00:31Z",
            outcome="success",
            interventions=2,
            model=ONNX,
        )
        second = log.record_mission("session-1", {"kind": "cruise"}, "2026-01-01T10:01:00Z")
        assert second > first
        rows = log.conn.execute(
            "SELECT session_id, command_text, outcome, interventions, model_id FROM missions "
            "ORDER BY id"
        ).fetchall()
        assert [tuple(r) for r in rows] == [
            ("session-1", "take the next exit", "success", 2, 1),
            ("session-1", None, None, 0, None),
        ]


def test_a_newer_schema_is_refused_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    MissionLog(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(UserError, match="newer than this car-ai-rl supports"):
        MissionLog(path)
    with MissionLog(path, readonly=True) as log:  # reading still works
        assert log.version == SCHEMA_VERSION + 1
        assert log.eval_rows() == []


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    path.write_text("this is not sqlite " * 100)
    with pytest.raises(UserError, match=r"mission log .*log\.sqlite"):
        MissionLog(path)
    with pytest.raises(UserError, match="mission log not found"):
        MissionLog(tmp_path / "missing.sqlite", readonly=True)
