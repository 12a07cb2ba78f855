"""Eval config: the shipped file, every kind of mistake with its path, exit code 2."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from test_evals_support import FakePolicy, FakeRunner, base_config, install_fakes, write_config

from car_ai_rl.cli import run
from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.evals.config import load_config, parse_config
from car_ai_rl.train.run_dir import best_model_path

SHIPPED = Path(__file__).resolve().parents[1] / "evals" / "highway_cruise.yaml"
PPO_MODEL = Path("runs/ppo-local/ppo-highway-best.onnx")  # the main job ships the run's pick
PPO_FINAL = Path("runs/ppo-local/ppo-highway-final.onnx")


@pytest.fixture
def valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    data, _ = base_config(tmp_path, {"base": FakePolicy("base"), "cand": FakePolicy("cand")})
    return data


def eval_cli(
    tmp_path: Path, data: Any, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str]:
    path = tmp_path / "eval.yaml"
    write_config(path, data)
    code = run(["eval", "--config", str(path), "--no-progress", *flags])
    return code, capsys.readouterr().err


def refuse_every_model(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    """Fake episodes, and a model loader that refuses every file as not an ONNX model."""
    from car_ai_rl.evals import runner

    fake = install_fakes(monkeypatch, {})

    def refuse(source: str) -> None:
        raise UserError(f"{source}: not an ONNX model")

    monkeypatch.setattr(runner, "_load_policy", refuse)
    return fake


def test_shipped_config_is_valid_and_covers_the_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    PPO_MODEL.parent.mkdir(parents=True)
    PPO_MODEL.write_bytes(b"")
    config = load_config(SHIPPED)
    assert config.baseline.source == "heuristic"
    assert [c.source for c in config.candidates] == ["heuristic", str(PPO_MODEL), "oracle"]
    assert config.supervisor_modes == ("off", "on")
    suites = {s.name: s for s in config.suites}
    assert suites["cruise"].params.mission_mix.lane == suites["cruise"].params.mission_mix.exit == 0
    assert suites["lane_change"].params.mission_mix.lane > 0
    assert suites["exit"].params.mission_mix.exit > 0
    assert suites["dense_traffic"].params.traffic_density > config.suites[0].params.traffic_density
    assert suites["mission_changes"].params.mission_changes
    assert suites["four_lanes"].params.n_lanes == 4
    # seed ranges do not overlap, so suites are independent samples
    ranges = sorted((s.seed_start, s.seed_start + s.episodes) for s in config.suites)
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert {r.metric for r in config.rules} >= {"success_rate", "collision_rate"}
    episodes = sum(s.episodes for s in config.suites)
    assert episodes <= 1000  # per candidate and mode: the main job's evaluation stays short
    # rules judge the shipped model (the main job's pick); the oracle is a reference
    assert all(r.candidates == ("ppo",) for r in config.rules)
    assert best_model_path(Path("runs/ppo-local"), "ppo").with_suffix(".onnx") == PPO_MODEL


def test_leaderboard_uses_fresh_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 episodes per suite on seeds that neither the gate nor training use."""
    from car_ai_rl.train.evaluation import EVAL_SEED
    from car_ai_rl.train.pick import VALIDATION_SEED_START
    from car_ai_rl.train.pretrain import PRETRAIN_SEED

    monkeypatch.chdir(tmp_path)
    for model in (PPO_MODEL, PPO_FINAL, Path("runs/dqn-local/dqn-highway-final.onnx")):
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"")
    board = load_config(SHIPPED.with_name("leaderboard.yaml"))
    gate = load_config(SHIPPED)
    assert [c.name for c in board.candidates] == ["heuristic", "ppo", "ppo-final", "dqn", "oracle"]
    assert [c.source for c in board.candidates[1:3]] == [str(PPO_MODEL), str(PPO_FINAL)]
    assert all(r.candidates == ("ppo", "ppo-final", "dqn") for r in board.rules)
    assert [s.name for s in board.suites] == [s.name for s in gate.suites]
    for suite, gate_suite in zip(board.suites, gate.suites, strict=True):
        assert suite.episodes >= 1000
        assert suite.params == gate_suite.params
    used = [(s.seed_start, s.seed_start + s.episodes) for s in gate.suites]
    used += [(EVAL_SEED, EVAL_SEED + 100_000), (PRETRAIN_SEED, PRETRAIN_SEED + 100_000)]
    used += [(VALIDATION_SEED_START, VALIDATION_SEED_START + 1_000_000)]  # pick-checkpoint's
    for s in board.suites:
        assert all(s.seed_start + s.episodes <= lo or s.seed_start >= hi for lo, hi in used)


def test_shipped_config_names_the_missing_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["eval", "--config", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: candidates[1].source: file not found: {PPO_MODEL}"


def _set(data: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()

CASES = [
    (
        ("suites", 1, "traffic_density"),
        -1,
        "suites[1].traffic_density: must be a number in [0, 100], got -1",
    ),
    (("suites", 0, "n_lanes"), 9, "suites[0].n_lanes: must be an integer in [2, 5], got 9"),
    (
        ("suites", 0, "mission_mix"),
        {"exit": -1.0},
        "suites[0].mission_mix.exit: must be a number >= 0, got -1.0",
    ),
    (("suites", 0, "warp_speed"), 3, "suites[0].warp_speed: unknown key"),
    (
        ("suites", 0, "episodes"),
        0,
        "suites[0].episodes: must be an integer in [1, 10000000], got 0",
    ),
    (
        ("suites", 0, "episodes"),
        "many",
        "suites[0].episodes: must be an integer in [1, 10000000], got 'many'",
    ),
    (("suites", 1, "name"), "cruise", "suites[1].name: duplicate name 'cruise' (also suites[0])"),
    (("suites",), [], "suites: must be a non-empty list"),
    (("sim",), {"traffic_density": -5}, "sim.traffic_density: must be a number in [0, 100]"),
    (("rules", 0, "metric"), "foo", "rules[0].metric: must be one of success_rate, collision_rate"),
    (
        ("rules", 0, "kind"),
        "bogus",
        "rules[0].kind: must be one of max_drop, max_rise, max, min, got 'bogus'",
    ),
    (("rules", 0, "value"), 0.02, "rules[0]: give exactly one of 'points' or 'value'"),
    (
        ("rules", 0, "confidence"),
        1.5,
        "rules[0].confidence: must be a number in (0, 1) or null, got 1.5",
    ),
    (("rules", 0, "suites"), ["nope"], "rules[0].suites[0]: unknown suite 'nope'"),
    (("rules", 0, "candidates"), ["base"], "rules[0]: 'max_drop' compares against the baseline"),
    (("rules", 1, "value"), 2.0, "rules[1].value: must be in [0, 1], got 2"),
    (
        ("rules", 1),
        {"metric": "mean_speed_mps", "kind": "min", "points": 3},
        "rules[1].points: only for rate metrics; use 'value' for mean_speed_mps",
    ),
    (("supervisor",), "sometimes", "supervisor: must be one of off, on, both, got 'sometimes'"),
    (
        ("candidates", 0, "source"),
        "model.pt",
        "candidates[0].source: must be 'heuristic', 'oracle' or a path",
    ),
    (("candidates", 1, "name"), "base", "candidates[1].name: duplicate name 'base'"),
    (("candidates", 1, "baseline"), True, "candidates[1].baseline: only one baseline allowed"),
    (("candidates", 0, "baseline"), False, "baseline: missing"),
    (("baseline",), "nobody", "baseline: set both here and on candidates[0]"),
    (
        ("bootstrap",),
        {"resamples": 10},
        "bootstrap.resamples: must be an integer in [100, 100000], got 10",
    ),
    (("colour",), "red", "colour: unknown key"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[c[2][:40] for c in CASES])
def test_each_mistake_is_reported_with_its_path_and_exit_2(
    valid: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: tuple,
    value: Any,
    message: str,
) -> None:
    code, err = eval_cli(tmp_path, _set(valid, path, value), capsys)
    assert code == 2
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_candidate_file_not_found(
    valid: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(valid)
    data["candidates"].append({"name": "third", "source": "x.zip"})
    code, err = eval_cli(tmp_path, data, capsys)
    assert (code, err.strip()) == (2, "error: candidates[2].source: file not found: x.zip")


def test_baseline_by_name_and_unknown_name(valid: dict[str, Any]) -> None:
    data = copy.deepcopy(valid)
    for c in data["candidates"]:
        c.pop("baseline")
    data["baseline"] = "cand"
    assert parse_config(data).baseline.name == "cand"
    data["baseline"] = "nobody"
    with pytest.raises(ConfigError, match=r"baseline: unknown candidate 'nobody'"):
        parse_config(data)


def test_all_problems_are_reported_together_before_anything_runs(
    valid: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = install_fakes(monkeypatch, {})
    data = _set(valid, ("suites", 1, "traffic_density"), -1)
    data = _set(data, ("rules", 0, "metric"), "foo")
    data["candidates"].append({"name": "third", "source": "x.zip"})
    code, err = eval_cli(tmp_path, data, capsys)
    assert code == 2
    assert len(err.splitlines()) == 3
    assert all(line.startswith("error: ") for line in err.splitlines())
    for line in (
        "candidates[2].source: file not found: x.zip",
        "suites[1].traffic_density: must be a number in [0, 100], got -1",
        "rules[0].metric: must be one of success_rate, collision_rate",
    ):
        assert line in err
    assert fake.calls == []
    assert not (tmp_path / "log.sqlite").exists()


def test_yaml_on_off_mean_the_supervisor_modes(valid: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    write_config(path, valid)
    for word, modes in (("off", ("off",)), ("on", ("on",)), ("both", ("off", "on"))):
        path.write_text(path.read_text().replace("supervisor: both", f"supervisor: {word}"))
        assert load_config(path).supervisor_modes == modes
        path.write_text(path.read_text().replace(f"supervisor: {word}", "supervisor: both"))


def test_overrides_merge_shared_sim_and_suite(valid: dict[str, Any]) -> None:
    data = copy.deepcopy(valid)
    data["sim"] = {"episode_duration_s": 30.0, "traffic_density": 10.0}
    data["suites"][1]["traffic_density"] = 25.0
    config = parse_config(data)
    assert [s.params.episode_duration_s for s in config.suites] == [30.0, 30.0]
    assert [s.params.traffic_density for s in config.suites] == [10.0, 25.0]
    assert config.suites[0].seeds()[[0, -1]].tolist() == [1000, 1299]


def test_cli_paths_override_the_config(valid: dict[str, Any], tmp_path: Path) -> None:
    path = write_config(tmp_path / "eval.yaml", valid)
    config = load_config(path, output_dir=tmp_path / "elsewhere", mission_log=tmp_path / "m.db")
    assert config.output_dir == tmp_path / "elsewhere"
    assert config.mission_log == tmp_path / "m.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suites: [unclosed", "invalid YAML (line 1"),
        ("- just\n- a list\n", "bad.yaml: must hold a mapping of settings, got a list"),
    ],
)
def test_unreadable_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert run(["eval", "--config", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["eval", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "--config: file not found" in capsys.readouterr().err


def test_unreadable_model_exits_2_before_any_episode(
    valid: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = refuse_every_model(monkeypatch)
    code, err = eval_cli(tmp_path, valid, capsys)
    assert code == 2
    assert f"candidates[0].source: {valid['candidates'][0]['source']}: not an ONNX model" in err
    assert "candidates[1].source:" in err
    assert fake.calls == []


def test_candidate_flag_replaces_a_source(valid: dict[str, Any], tmp_path: Path) -> None:
    path = write_config(tmp_path / "eval.yaml", valid)
    other = tmp_path / "elsewhere" / "model.onnx"
    other.parent.mkdir()
    other.write_bytes(b"")
    config = load_config(path, sources={"cand": str(other)})
    assert [c.source for c in config.candidates] == [valid["candidates"][0]["source"], str(other)]
    assert config.resolved()["candidates"][1]["source"] == str(other)  # what results record
    assert load_config(path, sources={"cand": "heuristic"}).candidates[1].source == "heuristic"
    # the model the config names need not exist when the flag replaces it
    Path(valid["candidates"][1]["source"]).unlink()
    with pytest.raises(ConfigError, match=r"candidates\[1\]\.source: file not found"):
        load_config(path)
    assert load_config(path, sources={"cand": str(other)}).candidates[1].source == str(other)


@pytest.mark.parametrize(
    ("flags", "messages"),
    [
        (["nobody=heuristic"], ["--candidate: unknown candidate 'nobody' (known: base, cand)"]),
        (["cand=missing.onnx"], ["--candidate cand: file not found: missing.onnx"]),
        (["cand=model.pt"], ["--candidate cand: must be 'heuristic', 'oracle' or a path"]),
        (["cand=folder.onnx"], ["--candidate cand: not a file: folder.onnx"]),
        (["cand"], ["--candidate: must be NAME=SOURCE, got 'cand'"]),
        (["cand=heuristic", "cand=oracle"], ["--candidate cand: given more than once"]),
        (  # the config's own problems are reported with the flag's
            ["nobody=heuristic", "confidence=2"],
            ["--candidate: unknown candidate 'nobody'", "confidence: must be"],
        ),
    ],
)
def test_bad_candidate_flag_exits_2_one_line_per_problem(
    valid: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    messages: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"")
    (tmp_path / "folder.onnx").mkdir()
    if "confidence=2" in flags:
        flags = [f for f in flags if f != "confidence=2"]
        valid["confidence"] = 2
    argv = [arg for flag in flags for arg in ("--candidate", flag)]
    try:
        code, err = eval_cli(tmp_path, valid, capsys, *argv)
    except SystemExit as exc:  # a malformed flag stops at parsing, as argparse does
        code, err = exc.code, capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == len(messages)
    assert all(m in line for m, line in zip(messages, lines, strict=True))
    assert not (tmp_path / "out").exists()


def test_an_unloadable_override_is_named_by_its_flag(
    valid: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refuse_every_model(monkeypatch)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"")
    code, err = eval_cli(tmp_path, valid, capsys, "--candidate", f"cand={bad}")
    assert code == 2
    assert f"--candidate cand: {bad}: not an ONNX model" in err
