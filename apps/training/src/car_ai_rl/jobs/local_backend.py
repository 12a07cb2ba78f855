"""Runs jobs on this machine as detached processes supervised by ``local_runner``."""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from car_ai_rl.jobs.artifacts import copy_artifacts
from car_ai_rl.jobs.backend import Backend
from car_ai_rl.jobs.local_runner import CANCEL_FILE, LOG_FILE, RUNNER_LOG
from car_ai_rl.jobs.proc import is_alive, signal_group
from car_ai_rl.jobs.record import JobRecord, JobStatus, utc_now
from car_ai_rl.jobs.supervise import TERM_WAIT_S

START_TIMEOUT_S = 20.0
POLL_S = 0.1
FOLLOW_POLL_S = 0.25


class LocalBackend(Backend):
    """State, logs and outputs live in ``JOBS_DIR/<id>/``; the job outlives the CLI."""

    name = "local"

    def output_dir(self, job_id: str) -> str:
        return str(self.store.job_dir(job_id) / "output")

    def submit(self, record: JobRecord) -> JobRecord:
        job_dir = self.store.job_dir(record.id)
        with open(job_dir / RUNNER_LOG, "ab") as runner_log:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "car_ai_rl.jobs.local_runner", str(job_dir)],
                cwd=job_dir,
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if launcher.wait() != 0:
                return self._mark_lost(record, "the job's supervisor failed to start")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            record = self.status(record)
            if record.status is not JobStatus.PENDING:
                break
            time.sleep(POLL_S)
        return record

    def status(self, record: JobRecord) -> JobRecord:
        record = self.store.load(record.id)
        if record.status.terminal:
            return record
        state = record.backend_state
        runner_pid = state.get("runner_pid")
        if runner_pid is None:
            if _age_s(record.created_at) < START_TIMEOUT_S:
                return record
            return self._mark_lost(record, "the job's supervisor never started")
        if is_alive(runner_pid, state.get("runner_start_ticks")):
            return record
        record = self.store.load(record.id)  # it may have finished just now
        if record.status.terminal:
            return record
        return self._mark_lost(record, "the job's supervisor exited unexpectedly")

    def _mark_lost(self, record: JobRecord, reason: str) -> JobRecord:
        pgid = record.backend_state.get("pgid")
        if pgid and is_alive(pgid, record.backend_state.get("start_ticks")):
            signal_group(pgid, signal.SIGTERM)
        runner_log = self.store.job_dir(record.id) / RUNNER_LOG
        record = record.model_copy(
            update={
                "status": JobStatus.FAILED,
                "ended_at": utc_now(),
                "message": f"{reason} (see {runner_log})",
            }
        )
        self.store.save(record)
        return record

    def logs(self, record: JobRecord, out: TextIO, *, follow: bool = False) -> None:
        path = self.store.job_dir(record.id) / LOG_FILE
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        offset = 0
        while True:
            ended = self.status(record).status.terminal if follow else True
            offset = _copy_new(path, offset, decoder, out)
            if ended:
                out.write(decoder.decode(b"", final=True))
                out.flush()
                return
            time.sleep(FOLLOW_POLL_S)

    def artifacts(self, record: JobRecord, out_dir: Path) -> list[Path]:
        patterns = record.spec["artifacts"]["paths"]
        return copy_artifacts(Path(record.output_dir), patterns, out_dir)

    def cancel(self, record: JobRecord) -> JobRecord:
        record = self.status(record)
        if record.status.terminal:
            return record
        (self.store.job_dir(record.id) / CANCEL_FILE).touch()
        state = record.backend_state
        runner_pid = state.get("runner_pid")
        if runner_pid and is_alive(runner_pid, state.get("runner_start_ticks")):
            os.kill(runner_pid, signal.SIGTERM)
        grace_s = float(record.spec.get("stop_grace_period", 30.0))
        deadline = time.monotonic() + grace_s + 2 * TERM_WAIT_S + START_TIMEOUT_S
        while time.monotonic() < deadline:
            record = self.status(record)
            if record.status.terminal:
                return record
            time.sleep(POLL_S)
        return record


def _age_s(iso_time: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(iso_time)).total_seconds()


def _copy_new(path: Path, offset: int, decoder: codecs.IncrementalDecoder, out: TextIO) -> int:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    if data:
        out.write(decoder.decode(data))
        out.flush()
    return offset + len(data)
