"""What makes a training run a function of its config, seed and machine alone.

- Every random draw is seeded: SB3 seeds Python, NumPy and torch from ``seed``; the simulator
  draws from counters hashed with each episode's seed; the kickstart's shuffles use their own
  seeded generator.
- torch runs on ``torch_threads`` threads for the whole run, the kickstart included. With one
  thread (the default) every matrix product and reduction adds in one fixed order, so two runs
  give bit-identical checkpoints and final models. With more threads, the split of a sum over
  threads (and in MKL, how many threads it actually uses) may vary from run to run, and so may
  the last bits, which training then amplifies: more threads is faster on big networks but not
  reproducible, so it is opt-in.
- The simulator's parallel kernel steps independent envs on Numba threads; each env's result
  does not depend on the thread count or on scheduling. Numba's OpenMP threading layer shares
  OpenMP with torch, and a parallel launch sets OpenMP's thread count to Numba's, torch's
  included: every batch of simulation big enough to run in parallel (the kickstart's drives,
  the evaluations) runs inside :func:`torch_threads_kept`, so that torch keeps
  ``torch_threads`` whatever ``NUMBA_NUM_THREADS`` is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def configure(torch_threads: int) -> None:
    """Fix torch's thread count for the whole run (the kickstart included)."""
    torch.set_num_threads(torch_threads)


@contextlib.contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Run a block that may launch Numba's parallel kernels, then give torch back the thread
    count it had (the launch sets OpenMP's, and so torch's, to Numba's)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
