"""Runs jobs on a Ray cluster through Ray's job submission API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import car_ai_rl
from car_ai_rl.errors import UserError
from car_ai_rl.jobs.artifacts import copy_artifacts
from car_ai_rl.jobs.backend import Backend
from car_ai_rl.jobs.ray_wrapper import RESULT_FILE
from car_ai_rl.jobs.record import JobRecord, JobStatus
from car_ai_rl.jobs.supervise import TERM_WAIT_S

if TYPE_CHECKING:
    from car_ai_rl.jobs.spec import JobSpec

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
OUTPUT_ROOT = "job-outputs"
COPY_MARGIN_S = 60
POLL_S = 0.5
_RAY_STATUS = {
    "PENDING": JobStatus.PENDING,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.SUCCEEDED,
    "FAILED": JobStatus.FAILED,
    "STOPPED": JobStatus.CANCELLED,
}


class RayBackend(Backend):
    """Ships ``cluster.working_dir`` and the ``car_ai_rl`` package; artifacts come back via storage."""

    name = "ray"

    @classmethod
    def check_spec(cls, spec: JobSpec) -> list[tuple[str, str]]:
        problems = []
        storage = spec.artifacts.storage
        if not storage:
            problems.append(
                (
                    "artifacts.storage",
                    "required by the ray backend: a directory the job writes its artifacts to "
                    "and this machine reads them from",
                )
            )
        elif "://" in storage and not storage.startswith("file://"):
            problems.append(
                (
                    "artifacts.storage",
                    f"only local paths and file:// URIs are supported (got {storage!r})",
                )
            )
        address = spec.cluster.address
        if address and not address.startswith(("http://", "https://")):
            problems.append(
                (
                    "cluster.address",
                    f"must be the Ray dashboard URL, e.g. {DEFAULT_ADDRESS} (got {address!r})",
                )
            )
        return problems

    def output_dir(self, job_id: str) -> str:
        return f"{OUTPUT_ROOT}/{job_id}"

    def submit(self, record: JobRecord) -> JobRecord:
        spec = record.spec
        address = spec["cluster"]["address"] or os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS
        storage_dir = Path(spec["artifacts"]["storage"]) / record.id
        grace_s = float(spec["stop_grace_period"])
        resources = spec["cluster"]["resources"]
        env_vars = {
            **record.env,
            "RAY_JOB_STOP_SIGNAL": "SIGINT",
            "RAY_JOB_STOP_WAIT_TIME_S": str(int(grace_s + 2 * TERM_WAIT_S + COPY_MARGIN_S)),
        }
        runtime_env = {
            "working_dir": record.working_dir,
            "excludes": spec["cluster"]["excludes"],
            "py_modules": [str(Path(car_ai_rl.__file__).parent)],
            "env_vars": env_vars,
        }
        memory_mb = resources.get("memory_mb")
        state = {"address": address, "submission_id": record.id, "storage_dir": str(storage_dir)}
        record = record.model_copy(update={"backend_state": state})
        self.store.save(record)
        _call(
            address,
            lambda client: client.submit_job(
                entrypoint=shlex.join(_wrapper_command(record, spec, storage_dir.parent)),
                submission_id=record.id,
                runtime_env=runtime_env,
                metadata={"car_ai_rl_job": record.id, "name": record.name},
                entrypoint_num_cpus=resources["cpus"],
                entrypoint_num_gpus=resources["gpus"] or None,
                entrypoint_memory=memory_mb * 2**20 if memory_mb else None,
            ),
        )
        return self.status(record)

    def status(self, record: JobRecord) -> JobRecord:
        record = self.store.load(record.id)
        if record.status.terminal:
            return record
        state = record.backend_state
        info = _call(state["address"], lambda client: client.get_job_info(state["submission_id"]))
        status = _RAY_STATUS.get(str(getattr(info.status, "value", info.status)), JobStatus.PENDING)
        update: dict[str, Any] = {
            "status": status,
            "started_at": _iso(info.start_time) if status is not JobStatus.PENDING else None,
            "message": info.message or "",
        }
        if status.terminal:
            result = _read_result(Path(state["storage_dir"]))
            if result.get("status") == JobStatus.TIMED_OUT.value:
                update["status"] = JobStatus.TIMED_OUT
            if result.get("message"):
                update["message"] = result["message"]
            update["ended_at"] = _iso(info.end_time)
            update["exit_code"] = result.get("exit_code", info.driver_exit_code)
        new = record.model_copy(update=update)
        if new != record:
            self.store.save(new)
        return new

    def logs(self, record: JobRecord, out: TextIO, *, follow: bool = False) -> None:
        state = record.backend_state
        if not follow:
            out.write(
                _call(state["address"], lambda client: client.get_job_logs(state["submission_id"]))
            )
            out.flush()
            return

        async def tail(client: Any) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # raised inside Ray's SDK
                async for chunk in client.tail_job_logs(state["submission_id"]):
                    out.write(chunk)
                    out.flush()

        _call(state["address"], lambda client: asyncio.run(tail(client)))

    def artifacts(self, record: JobRecord, out_dir: Path) -> list[Path]:
        storage_dir = Path(record.backend_state["storage_dir"])
        return copy_artifacts(storage_dir, ["**"], out_dir, skip=[RESULT_FILE])

    def cancel(self, record: JobRecord) -> JobRecord:
        state = record.backend_state
        _call(state["address"], lambda client: client.stop_job(state["submission_id"]))
        grace_s = float(record.spec["stop_grace_period"])
        deadline = time.monotonic() + grace_s + 2 * TERM_WAIT_S + COPY_MARGIN_S + 30
        while time.monotonic() < deadline:
            record = self.status(record)
            if record.status.terminal:
                break
            time.sleep(POLL_S)
        return record


def _wrapper_command(record: JobRecord, spec: dict[str, Any], storage: Path) -> list[str]:
    words = [
        "python",
        "-m",
        "car_ai_rl.jobs.ray_wrapper",
        "--job-id",
        record.id,
        "--output-dir",
        record.output_dir,
        "--storage",
        str(storage),
        "--grace-s",
        str(spec["stop_grace_period"]),
    ]
    if spec["max_duration"] is not None:
        words += ["--max-duration-s", str(spec["max_duration"])]
    for pattern in spec["artifacts"]["paths"]:
        words += ["--artifact", pattern]
    return [*words, "--", *record.command]


def _call(address: str, action: Any) -> Any:
    """Run ``action(client)``; connection problems become a UserError with exit code 1."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError:
        raise UserError(
            "the ray backend needs Ray: pip install -e '.[ray]' (the ray extra)", exit_code=1
        ) from None
    logging.getLogger("ray.dashboard.modules.job.sdk").setLevel(logging.WARNING)
    try:
        return action(JobSubmissionClient(address))
    except ConnectionError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address}: {exc}", exit_code=1) from None
    except RuntimeError as exc:
        raise UserError(f"Ray at {address}: {exc}", exit_code=1) from None


def _iso(epoch_ms: int | None) -> str | None:
    if not epoch_ms:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds")


def _read_result(storage_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((storage_dir / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return {}
