"""The jobs directory: one folder per job holding ``job.json`` and the backend's files."""

from __future__ import annotations

import os
import re
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from car_ai_rl.atomic_io import write_text_atomic
from car_ai_rl.errors import UserError
from car_ai_rl.jobs.record import JobRecord

JOBS_DIR_ENV = "CAR_AI_RL_JOBS_DIR"
DEFAULT_JOBS_DIR = "jobs-data"
RECORD_FILE = "job.json"
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def default_jobs_dir() -> Path:
    """``$CAR_AI_RL_JOBS_DIR`` or ``./jobs-data``."""
    return Path(os.environ.get(JOBS_DIR_ENV) or DEFAULT_JOBS_DIR)


class UnknownJobError(UserError):
    """No job with that id in the jobs directory."""


class JobStore:
    """Reads and writes job records; writes are atomic."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def new_id(self, name: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        while True:
            job_id = f"{name}-{stamp}-{secrets.token_hex(2)}"
            if not self.job_dir(job_id).exists():
                return job_id

    def job_dir(self, job_id: str) -> Path:
        if not _JOB_ID.match(job_id):
            raise UnknownJobError(f"not a valid job id: {job_id!r}")
        return self.root / job_id

    def save(self, record: JobRecord) -> None:
        write_text_atomic(
            self.job_dir(record.id) / RECORD_FILE, record.model_dump_json(indent=2) + "\n"
        )

    def load(self, job_id: str) -> JobRecord:
        path = self.job_dir(job_id) / RECORD_FILE
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise UnknownJobError(f"unknown job id {job_id!r} (jobs dir: {self.root})") from None
        try:
            return JobRecord.model_validate_json(text)
        except ValidationError as exc:
            raise UserError(
                f"{path}: damaged job record ({exc.error_count()} problems)", exit_code=1
            ) from None

    def list(self) -> list[JobRecord]:
        """All readable records, oldest first; none when the jobs dir does not exist yet."""
        if not self.root.exists():
            return []
        if not self.root.is_dir():
            raise UserError(f"--jobs-dir: {self.root} is not a directory")
        try:
            job_dirs = [path for path in self.root.iterdir() if path.is_dir()]
        except OSError as exc:
            raise UserError(f"--jobs-dir: cannot read {self.root}: {exc.strerror or exc}") from None
        records = []
        for job_dir in job_dirs:
            try:
                records.append(JobRecord.model_validate_json((job_dir / RECORD_FILE).read_text()))
            except FileNotFoundError:
                continue  # not a job folder
            except (OSError, ValidationError) as exc:
                print(
                    f"warning: skipping {job_dir / RECORD_FILE}: unreadable ({type(exc).__name__})",
                    file=sys.stderr,
                )
        return sorted(records, key=lambda record: (record.created_at, record.id))
