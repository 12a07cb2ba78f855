"""Run a child process under a deadline and a stop request, stopping it gently."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from car_ai_rl.jobs.duration import format_duration
from car_ai_rl.jobs.proc import SIGNAL_NAMES

TERM_WAIT_S = 5.0
POLL_S = 0.2
TIMED_OUT_EXIT_CODE = 124


@dataclass(frozen=True)
class Outcome:
    """How the child ended: a final status name, its exit code and a short message."""

    status: str
    exit_code: int | None
    message: str


def stop_child(
    child: subprocess.Popen,
    send: Callable[[int], None],
    grace_s: float,
    log: Callable[[str], None],
    *,
    interrupted: bool = False,
) -> int | None:
    """SIGINT (unless already sent), wait ``grace_s``, then SIGTERM, then SIGKILL."""
    steps = [(signal.SIGTERM, TERM_WAIT_S), (signal.SIGKILL, TERM_WAIT_S)]
    if interrupted:
        waited = _wait(child, grace_s)
        if waited is not None:
            return waited
    else:
        steps.insert(0, (signal.SIGINT, grace_s))
    for sig, wait_s in steps:
        log(f"sending {SIGNAL_NAMES[sig]}")
        send(sig)
        code = _wait(child, wait_s)
        if code is not None:
            return code
    return child.poll()


def _wait(child: subprocess.Popen, timeout_s: float) -> int | None:
    try:
        return child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None


def supervise(
    child: subprocess.Popen,
    *,
    max_duration_s: float | None,
    grace_s: float,
    send: Callable[[int], None],
    stop_requested: Callable[[], bool],
    log: Callable[[str], None],
    stop_already_interrupted: bool = False,
) -> Outcome:
    """Wait for ``child``; past ``max_duration_s`` or on a stop request, stop it."""
    started = time.monotonic()
    while True:
        code = child.poll()
        if code is not None:
            if stop_requested():
                return Outcome("cancelled", code, f"cancelled; exited with code {code}")
            status = "succeeded" if code == 0 else "failed"
            return Outcome(status, code, f"exited with code {code}")
        if stop_requested():
            log(f"cancel requested; stopping (grace period {format_duration(grace_s)})")
            code = stop_child(child, send, grace_s, log, interrupted=stop_already_interrupted)
            return Outcome("cancelled", code, "cancelled")
        if max_duration_s is not None and time.monotonic() - started >= max_duration_s:
            limit = format_duration(max_duration_s)
            log(f"max_duration {limit} reached; stopping (grace period {format_duration(grace_s)})")
            code = stop_child(child, send, grace_s, log)
            return Outcome("timed_out", code, f"stopped after max_duration {limit}")
        time.sleep(POLL_S)
