"""``car-ai-rl jobs create|list|status|logs|artifacts|cancel``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from car_ai_rl.errors import UserError
from car_ai_rl.jobs.record import JobRecord, JobStatus
from car_ai_rl.jobs.registry import make_backend
from car_ai_rl.jobs.service import create_job, plan_job, refresh
from car_ai_rl.jobs.spec import load_spec
from car_ai_rl.jobs.store import JOBS_DIR_ENV, JobStore, default_jobs_dir


def _store(args: argparse.Namespace) -> JobStore:
    return JobStore(args.jobs_dir or default_jobs_dir())


def _load(args: argparse.Namespace) -> JobRecord:
    return _store(args).load(args.job_id)


def cmd_create(args: argparse.Namespace) -> int:
    store = _store(args)
    spec = load_spec(args.spec, args.overrides)
    if args.dry_run:
        _, record = plan_job(store, spec, args.spec)
        print(json.dumps(record.spec, indent=2))
        env = " ".join(f"{name}={shlex.quote(value)}" for name, value in record.env.items())
        print(f"# backend {record.backend}, cwd {record.working_dir}", file=sys.stderr)
        print(f"# {env} {shlex.join(record.command)}", file=sys.stderr)
        return 0
    record = create_job(store, spec, args.spec)
    print(record.id)
    if record.status.terminal and record.status is not JobStatus.SUCCEEDED:
        print(f"error: job {record.id} {record.status.value}: {record.message}", file=sys.stderr)
        return 1
    print(
        f"{record.backend} job {record.status.value}; follow it with: car-ai-rl jobs logs {record.id} --follow",
        file=sys.stderr,
    )
    return 0


def _row(record: JobRecord) -> list[str]:
    return [record.id, record.status.value, record.backend, record.created_at, record.name]


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    records = []
    for record in store.list():
        try:
            records.append(refresh(store, record))
        except UserError as exc:
            records.append(record.model_copy(update={"message": f"status unknown: {exc}"}))
    if args.json:
        print(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return 0
    if not records:
        print(f"no jobs in {store.root}", file=sys.stderr)
        return 0
    rows = [["ID", "STATUS", "BACKEND", "CREATED", "NAME"], *(_row(record) for record in records)]
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    record = refresh(store, store.load(args.job_id))
    if args.json:
        print(record.model_dump_json(indent=2))
        return 0
    fields = {
        "id": record.id,
        "status": record.status.value,
        "backend": record.backend,
        "created": record.created_at,
        "started": record.started_at or "-",
        "ended": record.ended_at or "-",
        "exit code": "-" if record.exit_code is None else str(record.exit_code),
        "message": record.message or "-",
        "command": shlex.join(record.command),
        "output dir": record.output_dir,
    }
    for name, value in fields.items():
        print(f"{name + ':':<12} {value}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    store = _store(args)
    record = store.load(args.job_id)
    make_backend(record.backend, store).logs(record, sys.stdout, follow=args.follow)
    return 0


def cmd_artifacts(args: argparse.Namespace) -> int:
    store = _store(args)
    record = refresh(store, store.load(args.job_id))
    out_dir = Path(args.out)
    files = make_backend(record.backend, store).artifacts(record, out_dir)
    if not files:
        raise UserError(
            f"job {record.id} ({record.status.value}) has no artifacts yet", exit_code=1
        )
    for path in files:
        print(path)
    print(
        f"{len(files)} files from job {record.id} ({record.status.value}) in {out_dir}",
        file=sys.stderr,
    )
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    store = _store(args)
    record = store.load(args.job_id)
    backend = make_backend(record.backend, store)
    record = backend.status(record)
    if record.status.terminal:
        raise UserError(f"job {record.id} has already ended: {record.status.value}", exit_code=1)
    record = backend.cancel(record)
    print(f"{record.id} {record.status.value}")
    return 0 if record.status.terminal else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``jobs`` and its subcommands to the ``car-ai-rl`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--jobs-dir",
        help=f"where job state lives (default: ${JOBS_DIR_ENV} or ./jobs-data)",
    )
    jobs = subparsers.add_parser("jobs", help="run job specs locally or on a Ray cluster")
    jobs.set_defaults(func=lambda args: _missing_subcommand(jobs))
    sub = jobs.add_subparsers(dest="jobs_command", metavar="SUBCOMMAND")

    create = sub.add_parser(
        "create", parents=[common], help="validate a spec and start a job; prints its id"
    )
    create.add_argument("--spec", required=True, help="job spec YAML, e.g. fireworks/rft-ppo.yaml")
    create.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec field, e.g. entrypoint.args.steps=200000 (repeatable)",
    )
    create.add_argument(
        "--dry-run", action="store_true", help="print the resolved spec and command only"
    )
    create.set_defaults(func=cmd_create)

    listing = sub.add_parser("list", parents=[common], help="all jobs with their status")
    listing.add_argument("--json", action="store_true", help="print records as JSON")
    listing.set_defaults(func=cmd_list)

    status = sub.add_parser("status", parents=[common], help="one job's status")
    status.add_argument("job_id", metavar="ID")
    status.add_argument("--json", action="store_true", help="print the record as JSON")
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", parents=[common], help="print a job's output")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing until the job ends"
    )
    logs.set_defaults(func=cmd_logs)

    artifacts = sub.add_parser("artifacts", parents=[common], help="download a job's artifacts")
    artifacts.add_argument("job_id", metavar="ID")
    artifacts.add_argument("--out", required=True, help="directory to copy the artifacts into")
    artifacts.set_defaults(func=cmd_artifacts)

    cancel = sub.add_parser(
        "cancel", parents=[common], help="stop a job, keeping its artifacts so far"
    )
    cancel.add_argument("job_id", metavar="ID")
    cancel.set_defaults(func=cmd_cancel)


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2
