"""The detached supervisor of one local job: ``python -m car_ai_rl.jobs.local_runner JOB_DIR``.

It forks into the background, starts the entrypoint in its own process group with its output
appended to ``logs.txt``, enforces ``max_duration``, honours cancel requests, and records every
state change in ``job.json``. It is the only writer of the record while it runs.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from car_ai_rl.jobs.command import resolve_python
from car_ai_rl.jobs.proc import process_start_ticks, signal_group, stop_sender
from car_ai_rl.jobs.record import JobStatus, utc_now
from car_ai_rl.jobs.store import JobStore
from car_ai_rl.jobs.supervise import supervise

LOG_FILE = "logs.txt"
CANCEL_FILE = "cancel-requested"
RUNNER_LOG = "runner.log"


class _Runner:
    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.store = JobStore(job_dir.parent)
        self.record = self.store.load(job_dir.name)
        self.stop_signalled = False
        self.log_file = open(job_dir / LOG_FILE, "ab")  # noqa: SIM115 - kept open for the child

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log_file.write(f"[car-ai-rl {stamp}] {message}\n".encode())
        self.log_file.flush()

    def save(self, **changes: object) -> None:
        self.record = self.record.model_copy(update=changes)
        self.store.save(self.record)

    def stop_requested(self) -> bool:
        return self.stop_signalled or (self.job_dir / CANCEL_FILE).exists()

    def finish(self, status: JobStatus, exit_code: int | None, message: str) -> None:
        self.save(status=status, exit_code=exit_code, message=message, ended_at=utc_now())
        self.log(f"job {status.value}: {message}")

    def run(self) -> int:
        state = dict(self.record.backend_state)
        state.update(runner_pid=os.getpid(), runner_start_ticks=process_start_ticks(os.getpid()))
        self.save(backend_state=state)
        if self.stop_requested():
            self.finish(JobStatus.CANCELLED, None, "cancelled before start")
            return 0
        record = self.record
        Path(record.output_dir).mkdir(parents=True, exist_ok=True)
        self.log(f"starting in {record.working_dir}: {shlex.join(record.command)}")
        try:
            child = subprocess.Popen(
                resolve_python(record.command),
                cwd=record.working_dir,
                env={**os.environ, **record.env},
                stdin=subprocess.DEVNULL,
                stdout=self.log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.finish(JobStatus.FAILED, None, f"cannot start {record.command[0]}: {exc.strerror}")
            return 0
        state.update(pid=child.pid, pgid=child.pid, start_ticks=process_start_ticks(child.pid))
        self.save(status=JobStatus.RUNNING, started_at=utc_now(), backend_state=state)
        outcome = supervise(
            child,
            max_duration_s=record.spec.get("max_duration"),
            grace_s=float(record.spec.get("stop_grace_period", 30.0)),
            send=stop_sender(child.pid, whole=signal_group),
            stop_requested=self.stop_requested,
            log=self.log,
        )
        signal_group(child.pid, signal.SIGKILL)  # leftovers such as vec-env workers
        self.finish(JobStatus(outcome.status), outcome.exit_code, outcome.message)
        return 0


def _on_stop_signal(runner: _Runner) -> None:
    def handler(signum: int, frame: object) -> None:
        runner.stop_signalled = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _detach() -> None:
    """Fork so the launcher can exit at once; the job's supervisor is then nobody's child."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m car_ai_rl.jobs.local_runner JOB_DIR", file=sys.stderr)
        return 2
    _detach()
    runner = _Runner(Path(args[0]).absolute())
    _on_stop_signal(runner)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
