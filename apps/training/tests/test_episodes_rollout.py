"""run_episodes: one episode per seed, independent of batch size and slot, consistent metrics."""

from __future__ import annotations

import numpy as np
import pytest

from car_ai_rl.episodes.rollout import PER_EPISODE_KEYS, run_episodes
from car_ai_rl.evals.metrics import EPISODE_KEYS
from car_ai_rl.policies import load_policy
from car_ai_rl.policies.heuristic import heuristic_controls
from car_ai_rl.sim import core, layout
from car_ai_rl.sim.params import SimParams
from car_ai_rl.sim.reward import REWARD_TERMS

SEEDS = np.arange(70, dtype=np.uint64) + np.uint64(1_000)
PARAMS = SimParams()


@pytest.fixture(scope="module")
def reference():
    return run_episodes(load_policy("heuristic"), PARAMS, SEEDS, False, batch_size=512, record=True)


def _assert_same(a, b):
    assert a.per_episode.keys() == b.per_episode.keys()
    for key in a.per_episode:
        np.testing.assert_array_equal(a.per_episode[key], b.per_episode[key], err_msg=key)


@pytest.mark.parametrize("batch_size", [1, 9, 64])
def test_batch_size_does_not_change_any_episode(reference, batch_size):
    other = run_episodes(
        load_policy("heuristic"), PARAMS, SEEDS, False, batch_size=batch_size, record=True
    )
    _assert_same(reference, other)
    for key, values in reference.traces.items():
        np.testing.assert_array_equal(values, other.traces[key], err_msg=key)


def test_an_episode_depends_on_its_seed_only(reference):
    picked = [5, 61, 0, 33]
    other = run_episodes(load_policy("heuristic"), PARAMS, SEEDS[picked], False, batch_size=2)
    for key, values in other.per_episode.items():
        np.testing.assert_array_equal(values, reference.per_episode[key][picked], err_msg=key)


def test_episode_matches_a_hand_stepped_single_env(reference):
    i = 7
    state, _ = core.reset(PARAMS, core.seeds_from_ints([int(SEEDS[i])]))
    steps, total = 0, 0.0
    while True:
        _, result = core.step(state, heuristic_controls(state, PARAMS), PARAMS)
        steps += 1
        total += float(result.reward[0])
        if result.done[0]:
            break
    assert reference.per_episode["steps"][i] == steps
    assert reference.per_episode["return"][i] == pytest.approx(total, rel=1e-12)


def test_per_episode_arrays_cover_the_eval_contract(reference):
    n = len(SEEDS)
    assert set(EPISODE_KEYS) <= set(reference.per_episode)
    assert tuple(reference.per_episode) == PER_EPISODE_KEYS
    for key, values in reference.per_episode.items():
        assert values.shape == (n,), key
    np.testing.assert_array_equal(reference.seeds, SEEDS)


def test_metrics_agree_with_the_traces(reference):
    pe, tr = reference.per_episode, reference.traces
    n_rows = len(tr["episode"])
    assert all(len(v) == n_rows for v in tr.values())
    assert n_rows == reference.n_steps
    np.testing.assert_array_equal(np.bincount(tr["episode"], minlength=len(SEEDS)), pe["steps"])
    np.testing.assert_allclose(pe["duration_s"], pe["steps"] * PARAMS.dt_s)
    starts = np.flatnonzero(np.r_[True, np.diff(tr["episode"]) != 0])
    assert np.all(tr["step"][starts] == 0)
    assert np.all(np.diff(tr["step"])[np.diff(tr["episode"]) == 0] == 1)
    returns = np.bincount(tr["episode"], weights=tr["reward"].astype(np.float64))
    np.testing.assert_allclose(returns, pe["return"], rtol=1e-4, atol=1e-3)
    for name in REWARD_TERMS:
        sums = np.bincount(tr["episode"], weights=tr[f"reward_{name}"].astype(np.float64))
        np.testing.assert_allclose(sums, pe[f"reward_{name}"], rtol=1e-4, atol=1e-3)
    collided = np.bincount(tr["episode"], weights=tr["collision"]) > 0
    np.testing.assert_array_equal(collided, pe["collision"])
    ended = tr["terminated"] | tr["truncated"]
    assert ended.sum() == len(SEEDS) and np.all(ended[np.r_[starts[1:] - 1, n_rows - 1]])
    expected_success = (
        ~pe["collision"] & (pe["missions_failed"] == 0) & (pe["missions_succeeded"] > 0)
    )
    np.testing.assert_array_equal(pe["success"], expected_success)
    assert pe["success"].any() and np.isfinite(pe["exit_time_s"]).any()
    finite = np.isfinite(pe["exit_time_s"])
    assert np.all(pe["has_exit_mission"][finite]) and np.all(pe["exit_time_s"][finite] > 0)
    on_exit = np.bincount(tr["episode"], weights=tr["mission_kind"] == layout.EXIT) > 0
    np.testing.assert_array_equal(on_exit, pe["has_exit_mission"])
    assert np.all(pe["mean_speed_mps"] > 0) and np.all(pe["distance_m"] > 0)


def test_supervisor_interventions_are_counted_and_recorded():
    metrics = run_episodes(load_policy("heuristic"), PARAMS, SEEDS[:30], True, record=True)
    tr, pe = metrics.traces, metrics.per_episode
    counted = np.bincount(tr["episode"], weights=tr["supervisor_intervened"], minlength=30)
    np.testing.assert_array_equal(counted, pe["supervisor_interventions"])
    changed = np.zeros(len(tr["episode"]), dtype=bool)
    for name in ("throttle", "brake", "lane_request"):
        changed |= tr[name] != tr[f"policy_{name}"]
    assert not np.any(changed & ~tr["supervisor_intervened"])
    np.testing.assert_array_equal(tr["supervisor_intervened"], tr["supervisor_reasons"] > 0)


def test_empty_seed_list_gives_empty_metrics():
    metrics = run_episodes(load_policy("heuristic"), PARAMS, np.zeros(0, np.uint64), False)
    assert metrics.n_episodes == 0 and metrics.per_episode["success"].shape == (0,)
