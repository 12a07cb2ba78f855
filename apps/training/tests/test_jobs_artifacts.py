"""A short real training job on the local backend: its downloaded final model loads and exports."""

from __future__ import annotations

import pytest
from test_jobs_support import (
    TRAINING_DIR,
    check_trained_artifacts,
    cli,
    wait_until_ended,
)

from car_ai_rl.jobs.record import JobStatus
from car_ai_rl.jobs.store import JobStore

pytestmark = pytest.mark.slow


def test_local_short_training_job_artifacts_load_and_export(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(TRAINING_DIR)
    jobs_dir = tmp_path / "jobs"
    code, out, err = cli(
        capsys,
        "jobs",
        "create",
        "--spec",
        "fireworks/rft-ppo.yaml",
        "--jobs-dir",
        str(jobs_dir),
        "--set",
        "entrypoint.args.steps=2000",
        "--set",
        "entrypoint.args.n-envs=2",
        "--set",
        "max_duration=10m",
        "--set",
        "env.CAR_AI_RL_KICKSTART=0",  # a plumbing test: skip the imitation phase
    )
    assert code == 0, err
    job_id = out.strip()
    record = wait_until_ended(JobStore(jobs_dir), job_id, timeout_s=600)
    _, logs, _ = cli(capsys, "jobs", "logs", job_id, "--jobs-dir", str(jobs_dir))
    assert record.status is JobStatus.SUCCEEDED, logs[-3000:]
    dest = tmp_path / "downloaded"
    code, _, err = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0, err
    assert (dest / "run.json").is_file() and (dest / "config.yaml").is_file()
    assert list((dest / "tb").rglob("events.out.tfevents.*"))
    check_trained_artifacts(dest, tmp_path)
