"""The local backend: a detached job's full life cycle, timeouts, cancels and failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_jobs_support import cli, wait_for, wait_until_ended, write_fake_project, write_spec

from car_ai_rl.jobs.proc import is_alive
from car_ai_rl.jobs.record import JobStatus
from car_ai_rl.jobs.store import JobStore


@pytest.fixture
def project(tmp_path):
    return write_fake_project(tmp_path)


@pytest.fixture
def jobs_dir(tmp_path):
    return tmp_path / "jobs"


def _create(capsys, spec, jobs_dir, *overrides: str) -> str:
    sets = [word for override in overrides for word in ("--set", override)]
    code, out, err = cli(
        capsys, "jobs", "create", "--spec", str(spec), "--jobs-dir", str(jobs_dir), *sets
    )
    assert code == 0, err
    return out.strip()


def test_full_life_cycle_survives_the_cli_exiting(tmp_path, project, jobs_dir, capsys):
    spec = write_spec(tmp_path / "spec.yaml", project)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "car_ai_rl.cli",
            "jobs",
            "create",
            "--spec",
            str(spec),
            "--jobs-dir",
            str(jobs_dir),
        ]
        + ["--set", "entrypoint.args.steps=40", "--set", "entrypoint.args.step-s=0.05"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    job_id = created.stdout.strip()
    assert job_id.startswith("fake-ppo-") and "\n" not in job_id
    store = JobStore(jobs_dir)
    # The CLI has exited; the job goes on under its detached supervisor.
    running = store.load(job_id)
    assert running.status is JobStatus.RUNNING
    assert is_alive(
        running.backend_state["runner_pid"], running.backend_state["runner_start_ticks"]
    )

    code, out, _ = cli(capsys, "jobs", "logs", job_id, "--follow", "--jobs-dir", str(jobs_dir))
    assert code == 0
    assert "step 1/40" in out and "step 40/40" in out and "training done" in out
    assert out.index("step 40/40") < out.index("training done")

    code, out, _ = cli(capsys, "jobs", "status", job_id, "--jobs-dir", str(jobs_dir))
    assert code == 0
    assert "status:      succeeded" in out and "exit code:   0" in out

    code, out, _ = cli(capsys, "jobs", "list", "--jobs-dir", str(jobs_dir))
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [[job_id, "succeeded", "local"]]

    dest = tmp_path / "downloaded"
    code, out, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    names = sorted(str(path.relative_to(dest)) for path in dest.rglob("*") if path.is_file())
    assert names == sorted(
        ["ppo-highway-final.zip", "run.json"]
        + [f"checkpoints/ckpt_{step}.zip" for step in range(5, 41, 5)]
    )
    assert (dest / "ppo-highway-final.zip").read_bytes() == b"final model"
    run = json.loads((dest / "run.json").read_text())
    assert run["steps"] == 40 and run["n_envs"] == 2
    assert run["env"] == {"CAR_AI_RL_CURRICULUM": "1"}
    # the supervisor records the end, then its interpreter exits: give it a moment
    deadline = time.monotonic() + 10
    while is_alive(
        running.backend_state["runner_pid"], running.backend_state["runner_start_ticks"]
    ):
        assert time.monotonic() < deadline, "the job's supervisor outlived the job"
        time.sleep(0.05)


def test_timeout_stops_the_job_and_keeps_its_artifacts(tmp_path, project, jobs_dir, capsys):
    spec = write_spec(tmp_path / "spec.yaml", project, max_duration="1s")
    job_id = _create(capsys, spec, jobs_dir, "entrypoint.args.steps=100000")
    record = wait_until_ended(JobStore(jobs_dir), job_id)
    assert record.status is JobStatus.TIMED_OUT
    assert record.message == "stopped after max_duration 1s"
    assert record.exit_code == 130  # the trainer's own exit after saving on SIGINT
    _, logs, _ = cli(capsys, "jobs", "logs", job_id, "--jobs-dir", str(jobs_dir))
    assert "max_duration 1s reached" in logs and "checkpoint saved" in logs
    dest = tmp_path / "partial"
    code, _, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    assert list((dest / "checkpoints").glob("interrupted_*.zip"))
    assert not (dest / "ppo-highway-final.zip").exists()


def test_sigint_goes_to_the_main_process_and_leftovers_are_killed(
    tmp_path, project, jobs_dir, capsys
):
    spec = write_spec(tmp_path / "spec.yaml", project, max_duration="1s")
    job_id = _create(
        capsys, spec, jobs_dir, "entrypoint.args.steps=100000", "entrypoint.args.worker=true"
    )
    store = JobStore(jobs_dir)
    record = wait_until_ended(store, job_id)
    assert record.status is JobStatus.TIMED_OUT
    output = store.job_dir(job_id) / "output"
    worker_pid = int((output / "worker.pid").read_text())
    assert not is_alive(worker_pid)
    assert not (output / "worker-got-sigint").exists()


def test_a_job_that_ignores_sigint_is_terminated_after_the_grace_period(
    tmp_path, project, jobs_dir, capsys
):
    spec = write_spec(
        tmp_path / "spec.yaml", project, max_duration="0.5s", stop_grace_period="0.5s"
    )
    job_id = _create(
        capsys, spec, jobs_dir, "entrypoint.args.steps=100000", "entrypoint.args.ignore-sigint=true"
    )
    record = wait_until_ended(JobStore(jobs_dir), job_id)
    assert record.status is JobStatus.TIMED_OUT
    assert record.exit_code == -signal.SIGTERM
    _, logs, _ = cli(capsys, "jobs", "logs", job_id, "--jobs-dir", str(jobs_dir))
    assert "sending SIGINT" in logs and "sending SIGTERM" in logs


def test_cancel_stops_the_job_and_keeps_its_artifacts(tmp_path, project, jobs_dir, capsys):
    spec = write_spec(tmp_path / "spec.yaml", project)
    job_id = _create(capsys, spec, jobs_dir, "entrypoint.args.steps=100000")
    store = JobStore(jobs_dir)
    wait_for(
        store, job_id, lambda _: (store.job_dir(job_id) / "output/checkpoints/ckpt_5.zip").exists()
    )

    code, out, _ = cli(capsys, "jobs", "cancel", job_id, "--jobs-dir", str(jobs_dir))
    assert code == 0
    assert out == f"{job_id} cancelled\n"
    record = store.load(job_id)
    assert record.status is JobStatus.CANCELLED and record.ended_at
    assert not is_alive(record.backend_state["pid"], record.backend_state["start_ticks"])

    dest = tmp_path / "kept"
    code, _, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    assert (dest / "checkpoints" / "ckpt_5.zip").exists()
    assert list((dest / "checkpoints").glob("interrupted_*.zip"))

    code, _, err = cli(capsys, "jobs", "cancel", job_id, "--jobs-dir", str(jobs_dir))
    assert code == 1 and "already ended: cancelled" in err


def test_failures_are_reported(tmp_path, project, jobs_dir, capsys):
    spec = write_spec(tmp_path / "spec.yaml", project)
    store = JobStore(jobs_dir)
    job_id = _create(
        capsys, spec, jobs_dir, "entrypoint.args.steps=3", "entrypoint.args.exit-code=3"
    )
    record = wait_until_ended(store, job_id)
    assert (record.status, record.exit_code) == (JobStatus.FAILED, 3)

    code, out, err = cli(
        capsys,
        "jobs",
        "create",
        "--spec",
        str(spec),
        "--jobs-dir",
        str(jobs_dir),
        "--set",
        "entrypoint.command=no-such-program-xyz",
    )
    missing = store.load(out.strip())
    assert code == 1 and "cannot start no-such-program-xyz" in err
    assert missing.status is JobStatus.FAILED

    code, _, err = cli(
        capsys,
        "jobs",
        "artifacts",
        missing.id,
        "--out",
        str(tmp_path / "none"),
        "--jobs-dir",
        str(jobs_dir),
    )
    assert code == 1 and "has no artifacts yet" in err


def test_a_dead_supervisor_marks_the_job_failed(tmp_path, project, jobs_dir, capsys):
    spec = write_spec(tmp_path / "spec.yaml", project)
    job_id = _create(capsys, spec, jobs_dir, "entrypoint.args.steps=100000")
    store = JobStore(jobs_dir)
    state = store.load(job_id).backend_state
    os.kill(state["runner_pid"], signal.SIGKILL)
    record = wait_until_ended(store, job_id)
    assert record.status is JobStatus.FAILED
    assert "supervisor exited unexpectedly" in record.message
    wait_for(
        store, job_id, lambda _: not is_alive(state["pid"], state["start_ticks"]), timeout_s=10
    )


def test_jobs_dir_comes_from_the_environment_or_the_cwd(tmp_path, project, capsys, monkeypatch):
    spec = write_spec(tmp_path / "spec.yaml", project)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAR_AI_RL_JOBS_DIR", raising=False)
    code, out, _ = cli(
        capsys, "jobs", "create", "--spec", str(spec), "--set", "entrypoint.args.steps=1"
    )
    assert code == 0
    first = out.strip()
    assert (tmp_path / "jobs-data" / first / "job.json").exists()

    monkeypatch.setenv("CAR_AI_RL_JOBS_DIR", str(tmp_path / "elsewhere"))
    code, out, _ = cli(
        capsys, "jobs", "create", "--spec", str(spec), "--set", "entrypoint.args.steps=1"
    )
    assert code == 0
    assert (tmp_path / "elsewhere" / out.strip() / "job.json").exists()
    code, _, err = cli(capsys, "jobs", "status", first)
    assert code == 2 and "unknown job id" in err
    wait_until_ended(JobStore(tmp_path / "jobs-data"), first)
    wait_until_ended(JobStore(tmp_path / "elsewhere"), out.strip())
