"""Shared helpers for the jobs tests: a small fake trainer, spec writing and CLI calls."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

from car_ai_rl.cli import run
from car_ai_rl.jobs.record import JobRecord
from car_ai_rl.jobs.service import refresh
from car_ai_rl.jobs.store import JobStore
from car_ai_rl.policies.sb3_model import load_sb3

TRAINING_DIR = Path(__file__).resolve().parents[1]

# Behaves like scripts/train_ppo.py as far as jobs are concerned: writes run.json, periodic
# checkpoints and a final zip under --log-dir, and saves a checkpoint when interrupted.
FAKE_TRAINER = textwrap.dedent(
    """
    import argparse, json, os, signal, sys, time
    from pathlib import Path

    WORKER = (
        "import pathlib, signal, sys, time\\n"
        "out = pathlib.Path(sys.argv[1])\\n"
        "signal.signal(signal.SIGINT, lambda s, f: (out / 'worker-got-sigint').write_text('1'))\\n"
        "while True: time.sleep(0.1)\\n"
    )

    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--n-envs", type=int, default=1)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--step-s", type=float, default=0.02)
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument("--ignore-sigint", action="store_true")
    parser.add_argument("--worker", action="store_true", help="start a worker process, like a vec env")
    args = parser.parse_args()
    log_dir = Path(args.log_dir)
    (log_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    if args.worker:
        import subprocess
        worker = subprocess.Popen([sys.executable, "-c", WORKER, str(log_dir)])
        (log_dir / "worker.pid").write_text(str(worker.pid))
    env = {k: v for k, v in os.environ.items() if k.startswith("CAR_AI_RL_")}
    (log_dir / "run.json").write_text(json.dumps({"steps": args.steps, "n_envs": args.n_envs, "env": env}))
    stop = []
    if args.ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    for step in range(1, args.steps + 1):
        if stop:
            (log_dir / "checkpoints" / f"interrupted_{step}.zip").write_bytes(b"checkpoint")
            print(f"interrupted at step {step}; checkpoint saved", flush=True)
            sys.exit(130)
        print(f"step {step}/{args.steps}", flush=True)
        if step % 5 == 0:
            (log_dir / "checkpoints" / f"ckpt_{step}.zip").write_bytes(b"checkpoint")
        time.sleep(args.step_s)
    if args.exit_code:
        print("training diverged", flush=True)
        sys.exit(args.exit_code)
    (log_dir / "ppo-highway-final.zip").write_bytes(b"final model")
    print("training done", flush=True)
    """
)


def write_fake_project(root: Path) -> Path:
    """A working dir holding the fake trainer; returns it."""
    work = root / "project"
    work.mkdir(parents=True, exist_ok=True)
    (work / "fake_train.py").write_text(FAKE_TRAINER)
    return work


def write_spec(path: Path, working_dir: Path, **changes: object) -> Path:
    """A fake-trainer spec shaped like fireworks/rft-ppo.yaml; ``changes`` replace top-level keys."""
    spec: dict[str, object] = {
        "name": "fake-ppo",
        "entrypoint": {
            "command": "python fake_train.py",
            "args": {"steps": 20, "n-envs": 2, "log-dir": "{output_dir}"},
        },
        "cluster": {"backend": "local", "working_dir": str(working_dir), "resources": {"cpus": 1}},
        "max_duration": "1m",
        "stop_grace_period": "3s",
        "env": {"CAR_AI_RL_CURRICULUM": 1},
        "artifacts": {"paths": ["checkpoints/*.zip", "ppo-highway-final.zip", "run.json"]},
    }
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``car-ai-rl ARGV`` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def wait_for(store: JobStore, job_id: str, done, timeout_s: float = 60.0) -> JobRecord:
    """Poll the job's status until ``done(record)`` or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = refresh(store, store.load(job_id))
        if done(record):
            return record
        assert time.monotonic() < deadline, (
            f"job {job_id} stuck in {record.status}: {record.message}"
        )
        time.sleep(0.1)


def wait_until_ended(store: JobStore, job_id: str, timeout_s: float = 60.0) -> JobRecord:
    return wait_for(store, job_id, lambda record: record.status.terminal, timeout_s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_trained_artifacts(out_dir: Path, tmp_path: Path) -> None:
    """The final model loads with SB3 and exports to ONNX with scripts/export_onnx.py."""
    import onnxruntime

    final = out_dir / "ppo-highway-final.zip"
    assert final.is_file(), sorted(p.name for p in out_dir.rglob("*"))
    model = load_sb3(final)[0]
    onnx_path = tmp_path / "ppo-highway-final.onnx"
    export = subprocess.run(
        [sys.executable, "scripts/export_onnx.py", str(final), str(onnx_path)],
        cwd=TRAINING_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert export.returncode == 0, export.stdout + export.stderr
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    obs = model.observation_space.sample()[None].astype("float32")
    outputs = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, {"obs": obs}), strict=True)
    )
    # the default action mode chooses plans: the graph gives the plan the driver follows
    assert list(outputs) == ["plan"]
    assert outputs["plan"].shape == (1,) and 0 <= int(outputs["plan"][0]) < model.action_space.n


def ray_executable() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else (shutil.which("ray") or "ray")
