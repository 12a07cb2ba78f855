"""A job's status and the record kept for it in the jobs directory."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        return self not in (JobStatus.PENDING, JobStatus.RUNNING)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class JobRecord(BaseModel):
    """Everything the CLI knows about one job; ``backend_state`` is the backend's own data."""

    id: str
    name: str
    backend: str
    status: JobStatus = JobStatus.PENDING
    created_at: str = Field(default_factory=utc_now)
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    message: str = ""
    spec_file: str | None = None
    spec: dict[str, Any]
    command: list[str]
    env: dict[str, str]
    working_dir: str
    output_dir: str
    backend_state: dict[str, Any] = Field(default_factory=dict)
