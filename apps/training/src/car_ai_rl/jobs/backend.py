"""The backend interface every place a job can run implements, and the registry of backends."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TextIO

from car_ai_rl.errors import UserError
from car_ai_rl.jobs.record import JobRecord
from car_ai_rl.jobs.store import JobStore

if TYPE_CHECKING:
    from car_ai_rl.jobs.spec import JobSpec

# Built-in backends as "module:Class"; imported only when used.
BUILTIN_BACKENDS: dict[str, str] = {
    "local": "car_ai_rl.jobs.local_backend:LocalBackend",
    "ray": "car_ai_rl.jobs.ray_backend:RayBackend",
}
# Installed packages can add backends under this entry-point group.
ENTRY_POINT_GROUP = "car_ai_rl.job_backends"


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


def _registry() -> dict[str, str]:
    registry = dict(BUILTIN_BACKENDS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        registry.setdefault(entry.name, entry.value)
    return registry


def backend_names() -> list[str]:
    return sorted(_registry())


def backend_class(name: str) -> type[Backend]:
    target = _registry().get(name)
    if target is None:
        raise UserError(f"unknown backend {name!r} (known: {', '.join(backend_names())})")
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_backend(name: str, store: JobStore) -> Backend:
    return backend_class(name)(store)
