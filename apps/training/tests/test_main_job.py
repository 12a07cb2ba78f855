"""``scripts/main_job.sh``'s control flow, with ``python`` and ``car-ai-rl`` replaced by stubs
that log their arguments: what runs on a fresh run, a finished one and a grown one, and that
a failed pick stops the job before the evaluation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "main_job.sh"
STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
run="${LOG_DIR:-runs/ppo-local}"
case "$*" in
  *train_ppo.py*) mkdir -p "$run"
                  [ "${STUB_TRAIN_WRITES:-1}" = 1 ] && touch "$run/ppo-highway-final.zip"
                  touch "$run/run.json" ;;
  *export_onnx.py*) touch "$3" ;;
  pick-checkpoint*) [ "${STUB_PICK_CODE:-0}" = 0 ] || exit "$STUB_PICK_CODE"
                    touch "$run/ppo-highway-best.zip" ;;
esac
exit 0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A tree with the real script and a venv whose ``activate`` puts the stubs first."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "main_job.sh")
    training = tmp_path / "apps" / "training"
    stubs = training / ".venv" / "bin"
    stubs.mkdir(parents=True)
    for name in ("python", "car-ai-rl"):
        (stubs / name).write_text(STUB)
        (stubs / name).chmod(0o755)
    (stubs / "activate").write_text(f'export PATH="{stubs}:$PATH"\n')
    (training / "runs" / "ppo-local").mkdir(parents=True)
    return tmp_path


def main_job(repo: Path, **env: str) -> tuple[int, list[str]]:
    log = repo / "calls.log"
    log.unlink(missing_ok=True)
    proc = subprocess.run(
        ["bash", str(repo / "scripts" / "main_job.sh")],
        env={**os.environ, "SERVE": "0", "STUB_LOG": str(log), **env},
        capture_output=True,
        text=True,
    )
    return proc.returncode, log.read_text().splitlines() if log.exists() else []


def run_file(repo: Path, name: str) -> Path:
    return repo / "apps" / "training" / "runs" / "ppo-local" / name


def age(path: Path, seconds_ago: float) -> None:
    t = path.stat().st_mtime - seconds_ago
    os.utime(path, (t, t))


def test_a_fresh_run_trains_picks_and_ships_the_pick(repo: Path) -> None:
    code, calls = main_job(repo)
    assert code == 0
    words = [c.split()[:2] for c in calls]
    assert words == [
        ["python", "scripts/train_ppo.py"],
        ["python", "scripts/export_onnx.py"],
        ["car-ai-rl", "pick-checkpoint"],
        ["python", "scripts/export_onnx.py"],
        ["car-ai-rl", "episodes"],
        ["car-ai-rl", "eval"],
    ]
    assert "--resume" not in calls[0] and "--force" in calls[2]
    assert calls[3].endswith("ppo-highway-best.zip runs/ppo-local/ppo-highway-best.onnx")
    assert "--policy runs/ppo-local/ppo-highway-best.zip" in calls[4]
    assert "evals/highway_cruise.yaml" in calls[5]
    assert "--candidate ppo=runs/ppo-local/ppo-highway-best.onnx" in calls[5]
    assert "--out runs/evals/highway_cruise" in calls[5]


def test_another_log_dir_is_trained_gated_and_served_together(repo: Path) -> None:
    code, calls = main_job(repo, LOG_DIR="runs/other", SERVE="1")
    assert code == 0
    assert "--log-dir runs/other" in calls[0]
    assert "car-ai-rl pick-checkpoint runs/other --force" in calls
    (gate,) = [c for c in calls if c.startswith("car-ai-rl eval")]
    # the config names runs/ppo-local's pick: the flag puts this run's in its place
    assert "--candidate ppo=runs/other/ppo-highway-best.onnx" in gate
    assert "--out runs/other/evals/highway_cruise" in gate
    assert calls[-1] == "car-ai-rl serve --model runs/other/ppo-highway-best.onnx"


def test_a_finished_run_keeps_its_pick(repo: Path) -> None:
    assert main_job(repo)[0] == 0
    age(run_file(repo, "ppo-highway-final.zip"), 60)
    code, calls = main_job(repo, STUB_TRAIN_WRITES="0")
    assert code == 0 and "--resume" in calls[0]
    assert not any("pick-checkpoint" in c for c in calls)
    assert any("--policy runs/ppo-local/ppo-highway-best.zip" in c for c in calls)


def test_a_run_with_a_newer_final_model_is_picked_again(repo: Path) -> None:
    assert main_job(repo)[0] == 0
    age(run_file(repo, "ppo-highway-best.zip"), 60)
    code, calls = main_job(repo, STEPS="3000000")
    assert code == 0 and "--resume" in calls[0] and "--steps 3000000" in calls[0]
    assert sum("pick-checkpoint" in c for c in calls) == 1


def test_a_failed_pick_stops_the_job_before_the_evaluation(repo: Path) -> None:
    code, calls = main_job(repo, STUB_PICK_CODE="2")
    assert code == 2
    assert calls[-1].startswith("car-ai-rl pick-checkpoint")
    assert not run_file(repo, "ppo-highway-best.onnx").exists()
