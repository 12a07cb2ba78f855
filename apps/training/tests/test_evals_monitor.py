"""``car-ai-rl monitor``: trends across model versions, regressions flagged on intervals."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_evals_support import FakePolicy, base_config, install_fakes, write_config

from car_ai_rl.cli import run
from car_ai_rl.evals.mission_log import MissionLog
from car_ai_rl.evals.monitor import build_trends
from car_ai_rl.evals.stats import wilson_interval

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _record(log: MissionLog, version: int, success: tuple[int, int], error_mps: float) -> None:
    """One eval of model ``version`` with a success count and a speed-tracking error."""
    when = f"2026-0{version}-01T00:00:00+00:00"
    k, n = success
    rate = wilson_interval(k, n)
    identity = {
        "kind": "onnx",
        "path": f"/m/v{version}.onnx",
        "sha256": f"{version}" * 64,
        "metadata": {},
    }
    common = {
        "candidate": "ppo",
        "baseline": "heuristic",
        "suite": "cruise",
        "suite_digest": "d",
        "supervisor": "off",
        "confidence": 0.95,
        "diff_value": None,
        "diff_low": None,
        "diff_high": None,
    }
    results = [
        {
            **common,
            "metric": "success_rate",
            "value": rate.value,
            "ci_low": rate.low,
            "ci_high": rate.high,
            "n": n,
        },
        {
            **common,
            "metric": "speed_tracking_error_mps",
            "value": error_mps,
            "ci_low": error_mps - 0.1,
            "ci_high": error_mps + 0.1,
            "n": n,
        },
    ]
    run_row = {
        "run_id": f"r{version}",
        "started_at": when,
        "finished_at": when,
        "config_name": "t",
        "config_path": None,
        "config_json": "{}",
        "package_version": "0",
        "argv_json": "[]",
        "passed": 1,
    }
    log.record_eval(run_row, {"ppo": identity}, results)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "log.sqlite"
    with MissionLog(path) as log:
        _record(log, 1, (360, 400), 1.00)  # 90%
        _record(log, 2, (366, 400), 0.95)  # 91.5%: a better version
        _record(log, 3, (355, 400), 1.05)  # 88.8%: within noise of v2
        _record(log, 4, (300, 400), 1.60)  # 75%: clearly worse on both metrics
    return path


def test_trends_flag_only_clear_regressions(history: Path) -> None:
    with MissionLog(history, readonly=True) as log:
        trends = build_trends(log.eval_rows())
    assert [v.label for v in trends.versions] == [
        "v1 ppo@11111111",
        "v2 ppo@22222222",
        "v3 ppo@33333333",
        "v4 ppo@44444444",
    ]
    flagged = {(r.metric, r.version.index) for r in trends.regressions}
    assert flagged == {("success_rate", 4), ("speed_tracking_error_mps", 4)}
    v4 = next(r for r in trends.rows if r.metric == "success_rate" and r.version.index == 4)
    assert v4.change is not None
    assert v4.change.value == pytest.approx(300 / 400 - 355 / 400)
    assert v4.change.high < 0.0
    v3 = next(r for r in trends.rows if r.metric == "success_rate" and r.version.index == 3)
    assert v3.change.low < 0.0 < v3.change.high and not v3.regressed


def test_monitor_cli_prints_table_and_writes_plot(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plots" / "trend.png"
    assert run(["monitor", "--mission-log", str(history), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "### mission success rate · suite `cruise` · supervisor off" in stdout
    assert "### speed-tracking error · suite `cruise` · supervisor off" in stdout
    flagged = [line for line in stdout.splitlines() if line.startswith("|") and "REGRESSED" in line]
    assert len(flagged) == 2 and all(line.startswith("| v4 ppo@44444444") for line in flagged)
    assert re.search(r"\| v1 ppo@11111111 \| 2026-01-01T00:00:00 \| 90\.0% \[", stdout)
    assert "2 regression(s):" in stdout
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_monitor_filters_and_default_plot_path(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["monitor", "--mission-log", str(history), "--metric", "success_rate"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "speed-tracking error" not in stdout
    assert "1 regression(s):" in stdout
    assert (history.parent / "monitor.png").read_bytes().startswith(PNG_MAGIC)


def test_monitor_errors_exit_2(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["monitor", "--mission-log", str(tmp_path / "none.sqlite")]) == 2
    assert "mission log not found" in capsys.readouterr().err
    assert run(["monitor", "--mission-log", str(history), "--suite", "nope"]) == 2
    assert "no eval results" in capsys.readouterr().err


def test_monitor_follows_evaluations_of_successive_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = [
        FakePolicy("ppo", quality=0.9, sha256="a" * 64),
        FakePolicy("ppo", quality=0.6, sha256="b" * 64),
    ]
    for i, policy in enumerate(versions):
        data, sources = base_config(
            tmp_path / f"v{i}",
            {"heuristic": FakePolicy("heuristic", kind="heuristic"), "ppo": policy},
            supervisor="off",
            mission_log=str(tmp_path / "log.sqlite"),
            rules=[],
        )
        install_fakes(monkeypatch, sources)
        path = write_config(tmp_path / f"v{i}" / "eval.yaml", data)
        assert run(["eval", "--config", str(path), "--no-progress"]) == 0
    capsys.readouterr()
    code = run(
        [
            "monitor",
            "--mission-log",
            str(tmp_path / "log.sqlite"),
            "--candidate",
            "ppo",
            "--metric",
            "success_rate",
            "--suite",
            "cruise",
        ]
    )
    assert code == 0
    stdout = capsys.readouterr().out
    rows = [line for line in stdout.splitlines() if re.match(r"\| v\d", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| v1 ppo@aaaaaaaa", "| v2 ppo@bbbbbbbb"]
    assert "REGRESSED" not in rows[0] and "REGRESSED" in rows[1]
