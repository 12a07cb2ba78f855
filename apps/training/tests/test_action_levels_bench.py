"""bench/action_levels.py: the heuristic restricted to the discrete actions a policy has."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.controls import DISCRETE_CONTROLS
from car_ai_rl.sim.observation import allowed_actions
from car_ai_rl.sim.params import SimParams

BENCH = Path(__file__).resolve().parents[1] / "bench" / "action_levels.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("action_levels", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_restricted_heuristic_drives_only_allowed_discrete_actions() -> None:
    bench = load_bench()
    driver = bench.DiscreteHeuristicPolicy()
    params = SimParams()
    state, obs = core.reset(params, core.seeds_from_ints(7, 16))
    for _ in range(150):
        controls = driver.act(obs, state, params)
        match = (controls[:, None, :] == DISCRETE_CONTROLS[None]).all(axis=2)
        assert match.sum(axis=1).tolist() == [1] * 16  # one discrete action each
        assert allowed_actions(obs)[match].all()
        safe, _, _ = supervisor.filter(state, controls, params)
        np.testing.assert_array_equal(safe, controls)  # the supervisor never overrides it
        state, result = core.step(state, controls, params)
        obs = result.obs


def test_bench_compares_both_drivers_on_every_suite() -> None:
    config = Path(__file__).resolve().parents[1] / "evals" / "leaderboard.yaml"
    result = load_bench().main(["--config", str(config), "--episodes", "8"])
    assert result["episodes_per_suite"] == 8
    assert len(result["suites"]) == 6
    for row in result["suites"].values():
        for driver in ("heuristic", "heuristic_discrete"):
            assert 0.0 <= row[driver]["success_rate"] <= 1.0
            assert row[driver]["collision_rate"] == 0.0  # both drive under the supervisor
