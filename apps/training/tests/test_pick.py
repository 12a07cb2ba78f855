"""``car-ai-rl pick-checkpoint``: every model of a run on the same validation episodes, the
best copied to ``<algo>-highway-best.zip``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_policies_support import TinyModels, tiny_models

from car_ai_rl.cli import run
from car_ai_rl.errors import UserError
from car_ai_rl.train.pick import VALIDATION_SEED_START, pick_checkpoint


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    return tiny_models(tmp_path_factory)


def make_run(root: Path, steps: list[int], final: bool = True, supervisor: bool = True) -> Path:
    """A run dir whose models are small files with distinct contents."""
    (root / "checkpoints").mkdir(parents=True)
    (root / "run.json").write_text(
        json.dumps({"algo": "ppo", "config": {"supervisor": supervisor}})
    )
    for s in steps:
        (root / "checkpoints" / f"ppo_{s}_steps.zip").write_bytes(f"model {s}".encode())
    if final:
        (root / "ppo-highway-final.zip").write_bytes(b"model final")
    return root


def scorer(scores: dict[str, float], calls: list):
    def score(path: Path, seeds: np.ndarray, supervisor: bool, progress: bool) -> float:
        calls.append((path.name, seeds.copy(), supervisor))
        return scores[path.name]

    return score


def test_picks_the_highest_success_on_the_same_seeds_for_every_model(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", [0, 100, 200], supervisor=False)
    scores = {
        "ppo_0_steps.zip": 0.5,
        "ppo_100_steps.zip": 0.8,
        "ppo_200_steps.zip": 0.6,
        "ppo-highway-final.zip": 0.7,
    }
    calls: list = []
    best, scored = pick_checkpoint(run_dir, 5, score=scorer(scores, calls), log=lambda _: None)
    assert best.path.name == "ppo_100_steps.zip"
    assert [s.path.name for s in scored] == list(scores)  # oldest first, the final last
    expected_seeds = np.arange(5, dtype=np.uint64) + np.uint64(VALIDATION_SEED_START)
    for _, seeds, supervisor in calls:
        np.testing.assert_array_equal(seeds, expected_seeds)
        assert supervisor is False  # as the run trained
    assert (run_dir / "ppo-highway-best.zip").read_bytes() == b"model 100"


def test_ties_go_to_the_later_model(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", [0, 100])
    scores = {"ppo_0_steps.zip": 0.7, "ppo_100_steps.zip": 0.7, "ppo-highway-final.zip": 0.7}
    best, _ = pick_checkpoint(run_dir, 3, score=scorer(scores, []), log=lambda _: None)
    assert best.path.name == "ppo-highway-final.zip"
    assert (run_dir / "ppo-highway-best.zip").read_bytes() == b"model final"


def test_an_existing_best_model_is_replaced_only_with_force(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", [0])
    (run_dir / "ppo-highway-best.zip").write_bytes(b"earlier pick")
    scores = {"ppo_0_steps.zip": 0.9, "ppo-highway-final.zip": 0.1}
    with pytest.raises(UserError, match="ppo-highway-best.zip: exists"):
        pick_checkpoint(run_dir, 3, score=scorer(scores, []), log=lambda _: None)
    assert (run_dir / "ppo-highway-best.zip").read_bytes() == b"earlier pick"
    pick_checkpoint(run_dir, 3, force=True, score=scorer(scores, []), log=lambda _: None)
    assert (run_dir / "ppo-highway-best.zip").read_bytes() == b"model 0"


def test_bad_run_dirs_get_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(["pick-checkpoint", str(tmp_path / "missing")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert run(["pick-checkpoint", str(tmp_path / "plain")]) == 2
    assert "run.json: not found" in capsys.readouterr().err
    make_run(tmp_path / "empty", [], final=False)
    assert run(["pick-checkpoint", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no checkpoints or final model" in err and "Traceback" not in err


def test_command_validates_on_2400_episodes_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """600 episodes left a model's success uncertain by about as much as a run's checkpoints
    differ; the default is 2,400 (README)."""
    import car_ai_rl.train.pick as pick

    run_dir = make_run(tmp_path / "run", [0, 100])
    calls: list = []
    real = pick.pick_checkpoint
    monkeypatch.setattr(
        pick,
        "pick_checkpoint",
        lambda log_dir, episodes, force, progress: real(
            log_dir, episodes, force, progress=progress, score=scorer(SCORES, calls)
        ),
    )
    assert run(["pick-checkpoint", str(run_dir), "--no-progress"]) == 0
    assert [len(seeds) for _, seeds, _ in calls] == [2400, 2400, 2400]
    assert all(seeds[0] == VALIDATION_SEED_START for _, seeds, _ in calls)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["episodes"] == 2400


SCORES = {"ppo_0_steps.zip": 0.5, "ppo_100_steps.zip": 0.6, "ppo-highway-final.zip": 0.55}


def test_command_drives_real_models_and_prints_their_scores(
    models: TinyModels, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = make_run(tmp_path / "run", [], final=False)
    shutil.copyfile(models.zips["ppo_masked"], run_dir / "checkpoints" / "ppo_512_steps.zip")
    shutil.copyfile(models.zips["ppo_masked"], run_dir / "ppo-highway-final.zip")
    code = run(["pick-checkpoint", str(run_dir), "--episodes", "6", "--no-progress"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rates = [m["success_rate"] for m in result["models"]]
    assert len(rates) == 2 and rates[0] == rates[1]  # the same model on the same episodes
    assert result["best"].endswith("ppo-highway-final.zip")
    assert (run_dir / "ppo-highway-best.zip").read_bytes() == models.zips["ppo_masked"].read_bytes()
