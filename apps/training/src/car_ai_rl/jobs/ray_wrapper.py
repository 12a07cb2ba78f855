"""Runs on the Ray cluster around the entrypoint: enforces ``max_duration`` and copies artifacts.

``python -m car_ai_rl.jobs.ray_wrapper --job-id ID --output-dir DIR --storage DIR
[--max-duration-s S] [--grace-s S] [--artifact GLOB ...] -- COMMAND ...``

Whatever the ending (success, failure, cancel, timeout), the artifacts found so far are copied to
``STORAGE/ID/`` and ``STORAGE/ID/.car-ai-rl-job.json`` records how the job ended.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from car_ai_rl.atomic_io import write_json_atomic
from car_ai_rl.jobs.artifacts import copy_artifacts
from car_ai_rl.jobs.command import resolve_python
from car_ai_rl.jobs.proc import signal_tree, stop_sender
from car_ai_rl.jobs.supervise import TIMED_OUT_EXIT_CODE, Outcome, supervise

RESULT_FILE = ".car-ai-rl-job.json"
CANCELLED_EXIT_CODE = 130


def _log(message: str) -> None:
    print(f"[car-ai-rl {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ray_wrapper")
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--storage", required=True)
    parser.add_argument("--max-duration-s", type=float)
    parser.add_argument("--grace-s", type=float, default=30.0)
    parser.add_argument("--artifact", action="append", default=[])
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("missing the command after --")
    return args


def _run(args: argparse.Namespace, stop: list[int]) -> Outcome:
    try:
        child = subprocess.Popen(resolve_python(args.command), stdin=subprocess.DEVNULL)
    except OSError as exc:
        return Outcome("failed", None, f"cannot start {args.command[0]}: {exc.strerror}")
    return supervise(
        child,
        max_duration_s=args.max_duration_s,
        grace_s=args.grace_s,
        send=stop_sender(child.pid, whole=signal_tree),
        stop_requested=lambda: bool(stop),
        log=_log,
        stop_already_interrupted=True,  # Ray signals the whole process tree itself
    )


def _exit_code(outcome: Outcome) -> int:
    if outcome.status == "succeeded":
        return 0
    if outcome.status == "timed_out":
        return TIMED_OUT_EXIT_CODE
    if outcome.status == "cancelled":
        return CANCELLED_EXIT_CODE
    code = outcome.exit_code
    return 1 if code is None or code == 0 else (128 - code if code < 0 else code)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    stop: list[int] = []
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # Ray blocks SIGINT by default
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    output_dir = Path(args.output_dir).absolute()
    output_dir.mkdir(parents=True, exist_ok=True)
    dest = Path(args.storage) / args.job_id
    _log(f"job {args.job_id}: {' '.join(args.command)} (output dir {output_dir})")
    outcome = Outcome("failed", None, "wrapper error")
    try:
        outcome = _run(args, stop)
    finally:
        files = copy_artifacts(output_dir, args.artifact, dest)
        result = {**asdict(outcome), "files": [str(path.relative_to(dest)) for path in files]}
        write_json_atomic(dest / RESULT_FILE, result)
        _log(f"job {outcome.status}: {outcome.message}; copied {len(files)} artifacts to {dest}")
    return _exit_code(outcome)


if __name__ == "__main__":
    sys.exit(main())
