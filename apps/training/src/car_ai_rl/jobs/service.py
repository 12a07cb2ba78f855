"""Creating a job from a validated spec: resolve paths, render the command, hand to a backend."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from car_ai_rl.atomic_io import write_text_atomic
from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.jobs.backend import Backend
from car_ai_rl.jobs.command import render_command, render_env
from car_ai_rl.jobs.record import JobRecord
from car_ai_rl.jobs.registry import make_backend
from car_ai_rl.jobs.spec import JobSpec
from car_ai_rl.jobs.store import JobStore

SPEC_COPY = "spec.yaml"


def resolve_paths(spec: JobSpec, base_dir: Path | None = None) -> JobSpec:
    """Make ``cluster.working_dir`` and ``artifacts.storage`` absolute (relative to ``base_dir``)."""
    base_dir = (base_dir or Path.cwd()).absolute()
    working_dir = (base_dir / spec.cluster.working_dir).resolve()
    if not working_dir.is_dir():
        raise ConfigError("cluster.working_dir", f"not a directory: {working_dir}")
    cluster = spec.cluster.model_copy(update={"working_dir": str(working_dir)})
    artifacts = spec.artifacts
    if artifacts.storage:
        storage = artifacts.storage.removeprefix("file://")
        artifacts = artifacts.model_copy(update={"storage": str((base_dir / storage).resolve())})
    return spec.model_copy(update={"cluster": cluster, "artifacts": artifacts})


def plan_job(
    store: JobStore, spec: JobSpec, spec_file: str | None = None
) -> tuple[Backend, JobRecord]:
    """The backend and the record a job would get, without starting or saving anything."""
    spec = resolve_paths(spec)
    backend = make_backend(spec.cluster.backend, store)
    job_id = store.new_id(spec.name)
    output_dir = backend.output_dir(job_id)
    record = JobRecord(
        id=job_id,
        name=spec.name,
        backend=spec.cluster.backend,
        spec_file=spec_file,
        spec=spec.model_dump(mode="json"),
        command=render_command(spec, job_id, output_dir),
        env=render_env(spec, job_id, output_dir),
        working_dir=spec.cluster.working_dir,
        output_dir=output_dir,
    )
    return backend, record


def create_job(store: JobStore, spec: JobSpec, spec_file: str | None = None) -> JobRecord:
    """Save a new job record and submit it; returns the record after submission."""
    backend, record = plan_job(store, spec, spec_file)
    job_dir = store.job_dir(record.id)
    store.save(record)
    write_text_atomic(job_dir / SPEC_COPY, yaml.safe_dump(record.spec, sort_keys=False))
    try:
        return backend.submit(record)
    except UserError:
        shutil.rmtree(job_dir, ignore_errors=True)  # nothing started: leave no record behind
        raise


def refresh(store: JobStore, record: JobRecord) -> JobRecord:
    return make_backend(record.backend, store).status(record)
