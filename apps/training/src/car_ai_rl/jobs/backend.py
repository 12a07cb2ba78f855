"""The interface every place a job can run implements (backends are found in ``registry``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TextIO

from car_ai_rl.jobs.record import JobRecord
from car_ai_rl.jobs.store import JobStore

if TYPE_CHECKING:
    from car_ai_rl.jobs.spec import JobSpec


class Backend(ABC):
    """Runs jobs somewhere. The CLI only ever talks to this interface."""

    name: ClassVar[str]

    def __init__(self, store: JobStore) -> None:
        self.store = store

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[tuple[str, str]]:
        """Backend-specific spec problems as ``(path, problem)``; empty when fine."""
        return []

    @abstractmethod
    def output_dir(self, job_id: str) -> str:
        """The directory the entrypoint writes to, as seen by the running job."""

    @abstractmethod
    def submit(self, record: JobRecord) -> JobRecord:
        """Start the job described by ``record`` (already saved) and return the updated record."""

    @abstractmethod
    def status(self, record: JobRecord) -> JobRecord:
        """Refresh and return the record, saving any change."""

    @abstractmethod
    def logs(self, record: JobRecord, out: TextIO, *, follow: bool = False) -> None:
        """Write the job's output to ``out``; with ``follow``, keep going until the job ends."""

    @abstractmethod
    def artifacts(self, record: JobRecord, out_dir: Path) -> list[Path]:
        """Copy the job's artifacts into ``out_dir``; return the files written."""

    @abstractmethod
    def cancel(self, record: JobRecord) -> JobRecord:
        """Stop the job, keeping its artifacts so far; return the final record."""

    def list(self) -> list[JobRecord]:
        """This backend's jobs in the store, refreshed."""
        return [self.status(record) for record in self.store.list() if record.backend == self.name]
