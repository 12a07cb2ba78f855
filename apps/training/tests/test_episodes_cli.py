"""``car-ai-rl episodes``: deterministic files, the summary's keys, GIFs and bad input."""

from __future__ import annotations

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
from test_policies_support import TinyModels, tiny_models

from car_ai_rl.cli import run
from car_ai_rl.episodes.traces import TRACE_COLUMNS
from car_ai_rl.sim.observation import OBS_DIM

SUMMARY_KEYS = (
    "episodes",
    "success_rate",
    "collision_rate",
    "at_fault_collision_rate",
    "mean_speed_mps",
    "supervisor_intervention_rate",
    "policy",
    "seeds",
    "sim_params_hash",
)


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def _episodes(out, *extra: str, policy: str = "heuristic", n: int = 12, seed: int = 77) -> int:
    args = ["episodes", "--policy", policy, "--episodes", str(n), "--seed", str(seed)]
    return run([*args, "--out", str(out), "--no-progress", *extra])


def _load(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def test_same_arguments_give_identical_traces(tmp_path):
    for name in ("a", "b"):
        assert _episodes(tmp_path / name, "--supervisor", "on", "--batch-size", "5") == 0
    a, b = _load(tmp_path / "a" / "traces.npz"), _load(tmp_path / "b" / "traces.npz")
    assert set(a) == set(TRACE_COLUMNS) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    for name in ("episodes.csv", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = len(a["episode"])
    assert all(len(v) == rows for v in a.values())
    assert a["obs"].shape == (rows, OBS_DIM) and a["obs"].dtype == np.float32
    assert set(np.unique(a["episode"])) == set(range(12))


def test_summary_and_episode_table(tmp_path):
    assert _episodes(tmp_path, n=10, seed=5) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(SUMMARY_KEYS) <= set(summary)
    assert summary["episodes"] == 10
    assert summary["seeds"]["start"] == 5 and summary["seeds"]["count"] == 10
    assert summary["policy"]["kind"] == "heuristic" and summary["policy"]["name"] == "heuristic"
    for key in ("success_rate", "collision_rate", "at_fault_collision_rate"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["mean_speed_mps"] > 0 and summary["supervisor_intervention_rate"] == 0.0
    with open(tmp_path / "episodes.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["seed"]) for r in rows] == list(range(5, 15))
    success = np.mean([int(r["success"]) for r in rows])
    assert summary["success_rate"] == pytest.approx(success)
    traces = _load(tmp_path / "traces.npz")
    assert summary["steps"] == len(traces["episode"]) == sum(int(r["steps"]) for r in rows)


def test_video_has_one_frame_per_step(tmp_path):
    assert _episodes(tmp_path, "--video", "2", n=3) == 0
    traces = _load(tmp_path / "traces.npz")
    for episode in range(2):
        frames = iio.imread(tmp_path / f"episode_{episode:03d}.gif", index=None)
        steps = int(np.count_nonzero(traces["episode"] == episode))
        assert frames.shape[0] == steps and frames.ndim == 4
    assert not (tmp_path / "episode_002.gif").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["files"]["videos"] == ["episode_000.gif", "episode_001.gif"]


def test_onnx_policy_with_supervisor(models, tmp_path):
    assert _episodes(tmp_path, "--supervisor", "on", policy=str(models.onnx["dqn"]), n=6) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["policy"]["kind"] == "onnx" and summary["supervisor"] is True
    assert summary["policy"]["metadata"]["algo"] == "dqn"
    assert summary["sim_params_source"] == "model"


def test_config_file_sets_the_params(tmp_path):
    config = tmp_path / "sim.yaml"
    config.write_text("env:\n  n_lanes: 4\n  traffic_density: 10.0\n")
    assert _episodes(tmp_path / "out", "--config", str(config), n=3) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["sim_params"]["n_lanes"] == 4
    assert summary["sim_params_source"] == f"config {config}"


@pytest.mark.parametrize(
    ("extra", "policy", "message"),
    [
        ((), "missing.onnx", "not found"),
        (("--video", "20"), "heuristic", "--video"),
        (("--batch-size", "0"), "heuristic", "--batch-size"),
        (("--config", "CONFIG"), "heuristic", "lane_count: unknown key"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, extra, policy, message):
    config = tmp_path / "bad.yaml"
    config.write_text("lane_count: 3\n")
    extra = tuple(str(config) if e == "CONFIG" else e for e in extra)
    out = tmp_path / "out"
    assert (
        _episodes(out, *extra, policy=str(tmp_path / policy) if policy != "heuristic" else policy)
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (out / "summary.json").exists()
