"""The ray backend against a real single-node Ray head started on 127.0.0.1 by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_jobs_support import (
    TRAINING_DIR,
    check_trained_artifacts,
    cli,
    free_port,
    ray_executable,
    wait_for,
    wait_until_ended,
    write_fake_project,
    write_spec,
)

from car_ai_rl.jobs.record import JobStatus
from car_ai_rl.jobs.store import JobStore

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="Ray comes with the ray extra: pip install -e .[ray]")


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory, request) -> str:
    """Start ``ray start --head`` on free local ports; ``ray stop`` when the module is done."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("RAY_ADDRESS", None)
    ray = ray_executable()
    request.addfinalizer(
        lambda: subprocess.run([ray, "stop"], env=env, capture_output=True, timeout=120)
    )
    dashboard_port = free_port()
    started = subprocess.run(
        [
            ray,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={free_port()}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard_port}",
            f"--ray-client-server-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            "--num-cpus=2",
            "--disable-usage-stats",
            f"--temp-dir={tmp_path_factory.mktemp('ray')}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    return f"http://127.0.0.1:{dashboard_port}"


@pytest.fixture
def ray_spec(tmp_path, ray_head):
    def make(**changes: object) -> Path:
        project = write_fake_project(tmp_path)
        cluster = {
            "backend": "ray",
            "address": ray_head,
            "working_dir": str(project),
            "resources": {"cpus": 1},
        }
        artifacts = {
            "paths": ["checkpoints/*.zip", "ppo-highway-final.zip", "run.json"],
            "storage": str(tmp_path / "storage"),
        }
        return write_spec(
            tmp_path / "spec.yaml", project, cluster=cluster, artifacts=artifacts, **changes
        )

    return make


def _create(capsys, spec: Path, jobs_dir: Path, *overrides: str) -> str:
    sets = [word for override in overrides for word in ("--set", override)]
    code, out, err = cli(
        capsys, "jobs", "create", "--spec", str(spec), "--jobs-dir", str(jobs_dir), *sets
    )
    assert code == 0, err
    return out.strip()


def test_ray_life_cycle(tmp_path, ray_spec, capsys):
    jobs_dir = tmp_path / "jobs"
    spec = ray_spec()
    job_id = _create(
        capsys, spec, jobs_dir, "entrypoint.args.steps=30", "entrypoint.args.step-s=0.05"
    )

    code, out, _ = cli(capsys, "jobs", "logs", job_id, "--follow", "--jobs-dir", str(jobs_dir))
    assert code == 0
    assert "step 1/30" in out and "step 30/30" in out and "training done" in out
    assert "copied 8 artifacts" in out

    record = wait_until_ended(JobStore(jobs_dir), job_id)
    assert (record.status, record.exit_code) == (JobStatus.SUCCEEDED, 0)
    assert record.started_at and record.ended_at

    code, out, _ = cli(capsys, "jobs", "list", "--jobs-dir", str(jobs_dir))
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [[job_id, "succeeded", "ray"]]

    dest = tmp_path / "downloaded"
    code, _, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    names = sorted(str(path.relative_to(dest)) for path in dest.rglob("*") if path.is_file())
    assert names == sorted(
        ["ppo-highway-final.zip", "run.json"]
        + [f"checkpoints/ckpt_{step}.zip" for step in range(5, 31, 5)]
    )
    run = json.loads((dest / "run.json").read_text())
    assert run["env"] == {"CAR_AI_RL_CURRICULUM": "1"} and run["steps"] == 30
    # The job ran in Ray's copy of the working dir, not in ours.
    assert not (tmp_path / "project" / "job-outputs").exists()


def test_ray_timeout_keeps_artifacts(tmp_path, ray_spec, capsys):
    jobs_dir = tmp_path / "jobs"
    job_id = _create(capsys, ray_spec(max_duration="2s"), jobs_dir, "entrypoint.args.steps=100000")
    record = wait_until_ended(JobStore(jobs_dir), job_id, timeout_s=120)
    assert record.status is JobStatus.TIMED_OUT
    assert record.message == "stopped after max_duration 2s"
    dest = tmp_path / "partial"
    code, _, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    assert list((dest / "checkpoints").glob("interrupted_*.zip"))
    assert not (dest / "ppo-highway-final.zip").exists()


def test_ray_cancel_keeps_artifacts(tmp_path, ray_spec, capsys):
    jobs_dir = tmp_path / "jobs"
    store = JobStore(jobs_dir)
    job_id = _create(capsys, ray_spec(), jobs_dir, "entrypoint.args.steps=100000")

    def has_checkpoint(_record) -> bool:
        _, out, _ = cli(capsys, "jobs", "logs", job_id, "--jobs-dir", str(jobs_dir))
        return "step 6/" in out

    wait_for(store, job_id, has_checkpoint, timeout_s=120)
    code, out, _ = cli(capsys, "jobs", "cancel", job_id, "--jobs-dir", str(jobs_dir))
    assert (code, out) == (0, f"{job_id} cancelled\n")
    _, logs, _ = cli(capsys, "jobs", "logs", job_id, "--jobs-dir", str(jobs_dir))
    assert "checkpoint saved" in logs
    dest = tmp_path / "kept"
    code, _, _ = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0
    assert (dest / "checkpoints" / "ckpt_5.zip").exists()
    assert list((dest / "checkpoints").glob("interrupted_*.zip"))


def test_ray_short_training_job_artifacts_load_and_export(tmp_path, ray_head, capsys, monkeypatch):
    monkeypatch.chdir(TRAINING_DIR)
    jobs_dir = tmp_path / "jobs"
    job_id = _create(
        capsys,
        TRAINING_DIR / "fireworks" / "rft-ppo.yaml",
        jobs_dir,
        "cluster.backend=ray",
        f"cluster.address={ray_head}",
        "cluster.resources.cpus=1",
        f"artifacts.storage={tmp_path / 'storage'}",
        "entrypoint.args.steps=2000",
        "entrypoint.args.n-envs=2",
        "max_duration=10m",
        "env.CAR_AI_RL_KICKSTART=0",  # a plumbing test: skip the imitation phase
    )
    code, out, _ = cli(capsys, "jobs", "logs", job_id, "--follow", "--jobs-dir", str(jobs_dir))
    record = wait_until_ended(JobStore(jobs_dir), job_id, timeout_s=120)
    assert record.status is JobStatus.SUCCEEDED, out[-3000:]
    dest = tmp_path / "downloaded"
    code, _, err = cli(
        capsys, "jobs", "artifacts", job_id, "--out", str(dest), "--jobs-dir", str(jobs_dir)
    )
    assert code == 0, err
    check_trained_artifacts(dest, tmp_path)
