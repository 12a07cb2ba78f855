"""The eval outputs: results.json, the Markdown summary, report.html plots, mission-log rows."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import sqlite3
from pathlib import Path

import pytest
from test_evals_support import FakePolicy, base_config, install_fakes, strict_json, write_config

from car_ai_rl.cli import run
from car_ai_rl.evals.metrics import METRICS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict]:
    """One fake evaluation shared by the tests of this module (they only read it)."""
    tmp_path = tmp_path_factory.mktemp("report")
    policies = {
        "heuristic": FakePolicy("heuristic", kind="heuristic"),
        "ppo": FakePolicy("ppo", quality=0.8, sha256="ab" * 32),
    }
    data, sources = base_config(tmp_path, policies)
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(stdout):
        install_fakes(monkeypatch, sources)
        path = write_config(tmp_path / "eval.yaml", data)
        assert run(["eval", "--config", str(path), "--no-progress"]) == 1
    return tmp_path, stdout.getvalue(), data


def test_results_json_is_complete_and_strict(outputs: tuple[Path, str, dict]) -> None:
    tmp_path, _, data = outputs
    results = strict_json(tmp_path / "out" / "results.json")
    assert results["schema"] == "car-ai-rl/eval-results/1"
    assert results["config"]["baseline"] == "heuristic"
    assert [s["name"] for s in results["config"]["suites"]] == ["cruise", "exit"]
    assert results["candidates"]["ppo"]["identity"]["sha256"] == "ab" * 32
    rows = results["results"]
    # 2 candidates x 2 suites x 2 supervisor modes x every metric
    assert len(rows) == 2 * 2 * 2 * len(METRICS)
    for row in rows:
        estimate = row["estimate"]
        if estimate is None:
            # only metrics that cannot apply: no exit missions in cruise, no supervisor
            assert (row["metric"], row["suite"]) in {
                ("exit_completion_rate", "cruise"),
                ("exit_time_s", "cruise"),
            } or (row["metric"], row["supervisor"]) == ("interventions_per_km", "off")
            continue
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
        assert (row["diff_vs_baseline"] is None) == (row["candidate"] == "heuristic")
    success = {
        (r["candidate"], r["suite"], r["supervisor"]): r
        for r in rows
        if r["metric"] == "success_rate"
    }
    ppo = success[("ppo", "cruise", "off")]
    base = success[("heuristic", "cruise", "off")]
    assert ppo["diff_vs_baseline"]["value"] == pytest.approx(
        ppo["estimate"]["value"] - base["estimate"]["value"]
    )
    assert ppo["estimate"]["n"] == data["suites"][0]["episodes"]
    assert len(results["timing"]) == 8 and all(t["episodes"] == 300 for t in results["timing"])
    assert results["gate"]["failed"] > 0 and results["passed"] is False


def test_html_report_embeds_a_plot_per_metric(outputs: tuple[Path, str, dict]) -> None:
    tmp_path, _, _ = outputs
    html = (tmp_path / "out" / "report.html").read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert [alt for alt, _ in images] == [spec.label for spec in METRICS.values()]
    for _, payload in images:
        png = base64.b64decode(payload, validate=True)
        assert png.startswith(PNG_MAGIC) and len(png) > 5000
    assert "Gate: FAILED" in html
    assert "http://" not in html and "https://" not in html  # self-contained
    assert html.count("<table>") >= 1 + 4  # gate + one per suite and supervisor mode


def test_markdown_summary_is_written_and_printed(outputs: tuple[Path, str, dict]) -> None:
    tmp_path, stdout, _ = outputs
    summary = (tmp_path / "out" / "summary.md").read_text()
    for text in (summary, stdout):
        assert "## Gate: FAILED" in text
        assert "## Suite `exit` · supervisor on · 300 episodes (seeds 5000–5299)" in text
        assert "| metric | heuristic (baseline) | ppo | ppo − heuristic |" in text
        assert re.search(r"\| mission success rate \| \d+\.\d% \[", text)
    assert "## Timing" in summary  # the file has the full version
    assert f"results: {tmp_path / 'out' / 'results.json'}" in stdout
    assert "mission log:" in stdout


def test_mission_log_gains_the_rows_and_keeps_earlier_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = {
        "heuristic": FakePolicy("heuristic", kind="heuristic"),
        "ppo": FakePolicy("ppo", quality=0.8, sha256="ab" * 32),
    }
    data, sources = base_config(tmp_path, policies, supervisor="off")
    install_fakes(monkeypatch, sources)
    path = write_config(tmp_path / "eval.yaml", data)
    assert run(["eval", "--config", str(path), "--no-progress"]) == 1
    stdout = capsys.readouterr().out
    results = strict_json(tmp_path / "out" / "results.json")
    expected = sum(r["estimate"] is not None for r in results["results"])
    assert f"(+{expected} results)" in stdout
    db = sqlite3.connect(tmp_path / "log.sqlite")
    assert db.execute("SELECT COUNT(*) FROM eval_results").fetchone()[0] == expected
    models = db.execute("SELECT kind, sha256, name FROM models ORDER BY id").fetchall()
    assert models == [("heuristic", None, "heuristic"), ("onnx", "ab" * 32, "ppo")]
    row = db.execute(
        "SELECT r.value, r.ci_low, r.ci_high, r.n, r.run_id FROM eval_results r "
        "JOIN models m ON m.id = r.model_id WHERE m.name = 'ppo' AND r.suite = 'cruise' "
        "AND r.supervisor = 'off' AND r.metric = 'success_rate'"
    ).fetchone()
    ppo = next(
        r
        for r in results["results"]
        if (r["candidate"], r["suite"], r["supervisor"], r["metric"])
        == ("ppo", "cruise", "off", "success_rate")
    )
    estimate = ppo["estimate"]
    assert row == (
        estimate["value"],
        estimate["low"],
        estimate["high"],
        estimate["n"],
        results["run_id"],
    )
    assert db.execute("SELECT passed FROM eval_runs").fetchall() == [(0,)]
    assert db.execute("SELECT COUNT(*) FROM eval_checks WHERE status = 'fail'").fetchone()[0] > 0
    db.close()

    # a second run appends; the models are recognised, not duplicated
    assert run(["eval", "--config", str(path), "--no-progress"]) == 1
    capsys.readouterr()
    db = sqlite3.connect(tmp_path / "log.sqlite")
    assert db.execute("SELECT COUNT(*) FROM eval_results").fetchone()[0] == 2 * expected
    assert db.execute("SELECT COUNT(*) FROM eval_runs").fetchone()[0] == 2
    assert db.execute("SELECT COUNT(*) FROM models").fetchone()[0] == 2
    db.close()


def test_output_dir_holds_the_three_outputs_and_no_temporary_files(
    outputs: tuple[Path, str, dict],
) -> None:
    tmp_path, _, _ = outputs
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json", "summary.md"]
