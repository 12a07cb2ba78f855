"""The oracle planner: exact look-ahead, never worse than the heuristic over its horizon,
always supervised, and usable as an evaluation candidate."""

from __future__ import annotations

import numpy as np

from car_ai_rl.episodes.rollout import run_episodes
from car_ai_rl.planner.oracle import (
    CANDIDATES,
    OraclePlanner,
    candidate_controls,
    evaluate_candidates,
)
from car_ai_rl.policies import load_policy
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.safety import supervisor
from car_ai_rl.sim import core
from car_ai_rl.sim.params import SimParams


def test_candidate_zero_is_the_supervised_heuristic() -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(3, 16))
    for _ in range(30):
        ours = candidate_controls(state, params, np.zeros(16, int), np.ones(16, bool))
        safe, _, _ = supervisor.filter(state, heuristic_controls(state, params), params)
        np.testing.assert_array_equal(ours, safe)
        core.step(state, ours, params)


def test_variations_change_the_drive() -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(5, 32))
    slow = next(i for i, c in enumerate(CANDIDATES) if c.speed_offset_mps < -5 and not c.hold_lane)
    base = candidate_controls(state, params, np.zeros(32, int), np.ones(32, bool))
    varied = candidate_controls(state, params, np.full(32, slow), np.ones(32, bool))
    assert np.any(base != varied)


def test_a_copy_of_the_state_predicts_the_future_exactly() -> None:
    """The planner's premise: rolling a copy forward gives the same reward as the real run."""
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(11, 4))
    envs = np.arange(4)
    predicted = evaluate_candidates(state, params, envs, horizon_steps=60, commit_steps=20)
    actual = np.zeros(4)
    live = np.ones(4, bool)
    zero = np.zeros(4, int)
    for t in range(60):
        c = candidate_controls(state, params, zero, np.full(4, t < 20))
        _, r = core.step(state, c, params)
        actual += np.where(live, r.reward, 0.0)
        live &= ~r.done
    np.testing.assert_allclose(predicted[:, 0], actual, rtol=0, atol=1e-9)


def test_the_chosen_candidate_scores_at_least_the_heuristic() -> None:
    params = SimParams()
    state, _ = core.reset(params, core.seeds_from_ints(21, 24))
    for _ in range(40):
        core.step(state, heuristic_controls(state, params), params)
    scores = evaluate_candidates(state, params, np.arange(24), horizon_steps=100, commit_steps=30)
    best = scores[np.arange(24), scores.argmax(axis=1)]
    assert np.all(best >= scores[:, 0])
    assert np.any(best > scores[:, 0]), "no variation ever beat the heuristic"


def test_planner_replans_after_a_reset_and_returns_safe_controls() -> None:
    params = SimParams()
    planner = OraclePlanner(horizon_s=3.0, replan_s=1.0, commit_s=1.0)
    state, _ = core.reset(params, core.seeds_from_ints(2, 6))
    for _ in range(25):
        controls = planner.controls(state, params)
        safe, _, _ = supervisor.filter(state, controls, params)
        np.testing.assert_array_equal(controls, safe)
        core.step(state, controls, params)


def test_oracle_matches_or_beats_the_heuristic_on_lane_missions() -> None:
    params = SimParams().replace(
        episode_duration_s=30.0,
        mission_mix={"cruise": 0.0, "lane": 1.0, "exit": 0.0},
        mission_changes=False,
    )
    seeds = np.arange(2_000_000, 2_000_048, dtype=np.uint64)
    oracle = run_episodes(load_policy("oracle"), params, seeds, True).per_episode
    heuristic = run_episodes(load_policy("heuristic"), params, seeds, True).per_episode
    assert oracle["collision"].sum() == 0
    assert oracle["success"].mean() >= heuristic["success"].mean()
