"""Turn Ctrl-C and SIGTERM into a clean stop between training steps.

A ``KeyboardInterrupt`` raised at an arbitrary point of ``model.learn`` can land inside a lock
held by TensorBoard's writer thread or torch, and the process may then hang at exit. Instead the
first SIGINT or SIGTERM only sets a flag; a callback ends ``learn`` at the next env step, and the
runner saves a checkpoint. A second SIGINT interrupts at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from stable_baselines3.common.callbacks import BaseCallback


class StopRequest:
    """The signal that asked training to stop, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number."""
        return 128 + (self.signum or signal.SIGINT)


class TrainingStopped(Exception):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StopOnRequestCallback(BaseCallback):
    """Ends ``learn`` at the next env step once a stop was requested."""

    def __init__(self, request: StopRequest) -> None:
        super().__init__()
        self.request = request

    def _on_step(self) -> bool:
        return not self.request.requested


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """Within the block, SIGINT/SIGTERM set the returned request instead of raising."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be installed from the main thread
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if request.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        request.signum = signum

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
