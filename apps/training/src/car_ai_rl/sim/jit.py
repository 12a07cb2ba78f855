"""Compile the simulator kernels with Numba when it is available.

Set ``CAR_AI_RL_NO_NUMBA=1`` to run the very same kernels as plain Python on NumPy arrays
(the reference fallback; the test suite checks both paths give the same trajectories).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
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

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_KERNEL_PACKAGES = ("sim", "safety", "policies")
_ALWAYS = ("params.py", "jit.py")  # field layout and compile flags


def kernel_source_digest() -> str:
    """Hash of every module that defines kernels: a compiled kernel inlines its callees, so
    the on-disk cache must be invalidated when any of them changes, not only its own file."""
    digest = hashlib.sha256()
    for package in _KERNEL_PACKAGES:
        for path in sorted((_PACKAGE_DIR / package).glob("*.py")):
            source = path.read_bytes()
            if b"car_ai_rl.sim.jit import" in source or path.name in _ALWAYS:
                digest.update(path.name.encode())
                digest.update(source)
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    base = os.environ.get("CAR_AI_RL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "car-ai-rl"
    )
    return Path(base) / f"numba-{kernel_source_digest()}"


if _numba is not None and not os.environ.get("NUMBA_CACHE_DIR"):
    _numba.config.CACHE_DIR = str(_cache_dir())


def parallel_kernel(fn: F) -> F:
    """Like :func:`kernel`, with ``prange`` loops spread over threads."""
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")(fn)  # type: ignore[return-value]


prange = _numba.prange if _numba is not None else range


def kernel(fn: F) -> F:
    """Compile ``fn`` in nopython mode (cached on disk), or return it unchanged as the fallback."""
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, error_model="numpy")(fn)  # type: ignore[return-value]


def inline_kernel(fn: F) -> F:
    """Like :func:`kernel`, for helpers called per vehicle or per action: inlined into every
    compiled caller. A compiled call that passes arrays costs reference-count updates (atomic
    operations) worth more than such a helper's own work."""
    if _numba is None:
        return fn
    return _numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn)  # type: ignore[return-value]
