"""Process helpers: liveness that survives pid reuse, and signalling a process group."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain spaces.
    return text[text.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None where /proc is unavailable."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def is_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """True if ``pid`` runs (not a zombie) and, when given, started at ``start_ticks``."""
    if not pid:
        return False
    fields = _stat_fields(pid)
    if fields is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if fields[0] in ("Z", "X"):
        return False
    return start_ticks is None or int(fields[19]) == start_ticks


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def signal_tree(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` and all its descendants (psutil when present, else the pid only)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    targets = [pid]
    if psutil is not None:
        with contextlib.suppress(psutil.Error):
            targets += [child.pid for child in psutil.Process(pid).children(recursive=True)]
    for target in targets:
        try:
            os.kill(target, sig)
        except (ProcessLookupError, PermissionError):
            continue


SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGKILL: "SIGKILL"}


def stop_sender(pid: int, *, whole: Callable[[int, int], object]) -> Callable[[int], None]:
    """A signal sender for stopping a job: SIGINT goes to the main process only, so it can save a
    checkpoint and close its own workers; SIGTERM and SIGKILL go to ``whole(pid, sig)`` (its group
    or its process tree)."""

    def send(sig: int) -> None:
        if sig == signal.SIGINT:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        else:
            whole(pid, sig)

    return send
