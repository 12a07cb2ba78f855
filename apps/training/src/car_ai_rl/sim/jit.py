"""Compile the simulator kernels with Numba when it is available.

Set ``CAR_AI_RL_NO_NUMBA=1`` to run the very same kernels as plain Python on NumPy arrays
(the reference fallback; the test suite checks both paths give the same trajectories).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

NUMBA_DISABLED = os.environ.get("CAR_AI_RL_NO_NUMBA", "") == "1"

try:
    if NUMBA_DISABLED:
        raise ImportError
    import numba as _numba
except ImportError:  # pragma: no cover - exercised through the fallback test in a subprocess
    _numba = None

USING_NUMBA = _numba is not None


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode (cached on disk), or return it unchanged as the fallback."""
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True)(fn)  # type: ignore[return-value]
