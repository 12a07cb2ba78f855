"""The golden trajectory, and the plain-Python (no Numba) kernels against the compiled ones."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from car_ai_rl.sim import jit, layout

TRAINING_DIR = Path(__file__).resolve().parent.parent
SCRIPT = TRAINING_DIR / "scripts" / "make_golden.py"
GOLDEN = Path(__file__).resolve().parent / "data" / "golden_rollout.npz"
REGENERATE = (
    "If this change of the simulator's trajectories is intended, regenerate the golden file "
    "with `python apps/training/scripts/make_golden.py` and commit it with the change; "
    "never edit or regenerate it to silence an unexplained difference."
)


def _load_script():
    spec = importlib.util.spec_from_file_location("make_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compare(expected: dict, actual: dict, what: str) -> None:
    assert set(expected) - {"using_numba"} == set(actual) - {"using_numba"}, what
    for key in sorted(expected):
        if key == "using_numba":
            continue
        e, a = np.asarray(expected[key]), np.asarray(actual[key])
        if e.dtype.kind in "US":
            assert str(e) == str(a), f"{what}: {key} differs ({e} != {a}). {REGENERATE}"
            continue
        assert e.shape == a.shape, f"{what}: {key} shape {a.shape} != {e.shape}. {REGENERATE}"
        np.testing.assert_allclose(
            a, e, rtol=1e-9, atol=1e-9, err_msg=f"{what}: {key} differs. {REGENERATE}"
        )


def test_golden_trajectory_is_unchanged() -> None:
    assert GOLDEN.exists(), f"missing {GOLDEN}. {REGENERATE}"
    with np.load(GOLDEN) as f:
        golden = {k: f[k] for k in f.files}
    make_golden = _load_script()
    fresh = make_golden.golden_rollout(
        int(golden["n_envs"]), int(golden["n_steps"]), int(golden["seed"])
    )
    for name in make_golden.ROLLOUTS:
        key = f"{name}_params_digest"
        assert str(golden[key]) == str(fresh[key]), (
            f"the params of the golden rollout {name!r} changed (new defaults?). {REGENERATE}"
        )
    _compare(golden, fresh, "golden trajectory")
    # the golden rollouts exercise episode ends (auto-reset) and lane changes
    ev = golden["dense_short_events"]
    assert ev[..., [layout.EV_TERMINATED, layout.EV_TRUNCATED]].sum() >= 4
    assert golden["heuristic_controls"][..., 2].any()


@pytest.mark.skipif(not jit.USING_NUMBA, reason="the suite itself runs without Numba")
def test_numpy_fallback_matches_the_compiled_kernels(tmp_path: Path) -> None:
    n_envs, n_steps = 4, 40
    out = tmp_path / "fallback.npz"
    env = {**os.environ, "CAR_AI_RL_NO_NUMBA": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--out",
            str(out),
            "--n-envs",
            str(n_envs),
            "--n-steps",
            str(n_steps),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(out) as f:
        fallback = {k: f[k] for k in f.files}
    assert not bool(fallback["using_numba"]), "the subprocess still used Numba"
    compiled = _load_script().golden_rollout(n_envs, n_steps)
    assert bool(compiled["using_numba"])
    _compare(compiled, fallback, "plain-Python kernels vs compiled kernels")
