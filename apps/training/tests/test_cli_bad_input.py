"""Every command meets the bad inputs users type by accident: each is refused with exit code 2,
one ``error:`` line naming the field, flag or file, no traceback, and nothing written or lost.

Each case runs in a fresh directory that already holds work to protect (a finished training
run, an evaluation's results, episodes); the test compares every file before and after.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

APP = Path(__file__).resolve().parents[1]
SEED_SPEC = APP / "fireworks" / "rft-ppo.yaml"
TINY = {
    "checkpoint_every_steps": 256,
    "eval_episodes": 0,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16]},
    "dqn": {"learning_starts": 64, "buffer_size": 2000, "net_arch": [16]},
    "kickstart": {"enabled": False},
    "env": {"episode_duration_s": 8.0},
}


@dataclass
class Case:
    name: str
    argv: list[str]  # {work} is the case's directory
    named: str  # what the one error line must name
    line: str | None = None  # the exact error line (after "error: "), where it matters
    files: dict[str, object] = field(default_factory=dict)  # YAML files to write first
    env: dict[str, str] = field(default_factory=dict)
    script: str | None = None  # run scripts/<script> instead of car-ai-rl


def _config(**changes: object) -> dict:
    data = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


def _train(config: dict, *extra: str, script: str = "train_ppo.py", **kw) -> dict:
    return {
        "argv": [
            "--steps",
            "512",
            "--n-envs",
            "2",
            "--log-dir",
            "{work}/new",
            "--config",
            "{work}/c.yaml",
            *extra,
        ],
        "files": {"c.yaml": config},
        "script": script,
        **kw,
    }


EPISODES = ["episodes", "--policy", "heuristic", "--episodes", "2", "--out", "{work}/ep2"]
# an eval's suites as YAML, the third one with the sim-param overrides {c}
THREE_SUITES = "[{{name: a, episodes: 2}}, {{name: b, episodes: 2}}, {{name: c, episodes: 2, {c}}}]"

CASES = [
    # training config values users get wrong
    Case("lr-text", named="ppo.learning_rate", **_train(_config(**{"ppo.learning_rate": "fast"}))),
    Case("lr-nan", named="ppo.learning_rate", **_train(_config(**{"ppo.learning_rate": math.nan}))),
    Case(
        "lr-negative", named="ppo.learning_rate", **_train(_config(**{"ppo.learning_rate": -0.001}))
    ),
    Case(
        "steps-text",
        named="checkpoint_every_steps",
        **_train(_config(checkpoint_every_steps="1000")),
    ),
    Case("net-arch-int", named="ppo.net_arch", **_train(_config(**{"ppo.net_arch": 256}))),
    Case("net-arch-negative", named="ppo.net_arch[0]", **_train(_config(**{"ppo.net_arch": [-4]}))),
    Case("seed-text", named="seed", **_train(_config(seed="abc"))),
    Case("n-steps-zero", named="ppo.n_steps", **_train(_config(**{"ppo.n_steps": 0}))),
    Case("gamma-two", named="ppo.gamma", **_train(_config(**{"ppo.gamma": 2.0}))),
    Case("batch-zero", named="ppo.batch_size", **_train(_config(**{"ppo.batch_size": 0}))),
    Case(
        "exploration-five",
        named="dqn.exploration_fraction",
        **_train(_config(**{"dqn.exploration_fraction": 5}), script="train_dqn.py"),
    ),
    Case(
        "buffer-zero",
        named="dqn.buffer_size",
        **_train(_config(**{"dqn.buffer_size": 0}), script="train_dqn.py"),
    ),
    Case(
        "kickstart-no", named="kickstart.enabled", **_train(_config(**{"kickstart.enabled": "no"}))
    ),
    Case(
        "density-nan",
        named="curriculum.density_start",
        **_train(_config(**{"curriculum.density_start": math.nan})),
    ),
    Case("sim-field", named="env.n_lanes", **_train(_config(**{"env.n_lanes": 9}))),
    # simulator parameters, under the training config's env:
    Case(
        "sim-type",
        named="env.traffic_density",
        line="env.traffic_density: must be a number in [0, 100], got 'x'",
        **_train(_config(**{"env.traffic_density": "x"})),
    ),
    Case(
        "sim-range",
        named="env.lane_change_heading_max_rad",
        line="env.lane_change_heading_max_rad: must be a number in (0, 0.5], got 0.7",
        **_train(_config(**{"env.lane_change_heading_max_rad": 0.7})),
    ),
    Case(
        "sim-nested",
        named="env.reward.collision",
        line="env.reward.collision: must be a number >= 0, got -40",
        **_train(_config(**{"env.reward.collision": -40}), script="train_dqn.py"),
    ),
    Case(
        "sim-cross",
        named="env.exit_spacing_min_m",
        line="env.exit_spacing_min_m: must be >= exit_ramp_length_m + traffic_window_ahead_m",
        **_train(_config(**{"env.exit_spacing_min_m": 300.0})),
    ),
    Case(
        "sim-n-vehicles",
        named="env.n_vehicles",
        line=(
            "env.n_vehicles: 5 conflicts with traffic_density 16 on 3 lanes, which needs 20"
            " vehicles (ego included); leave n_vehicles out, it follows from traffic_density"
        ),
        **_train(_config(**{"env.n_vehicles": 5})),
    ),
    Case(
        "sim-env-var",
        named="CAR_AI_RL_TRAFFIC_DENSITY",
        line="CAR_AI_RL_TRAFFIC_DENSITY: must be a number in [0, 100], got 500.0",
        env={"CAR_AI_RL_TRAFFIC_DENSITY": "500"},
        **_train(_config()),
    ),
    Case("unknown-key", named="ppo.n_stepz", **_train(_config(**{"ppo.n_stepz": 3}))),
    Case(
        "env-var",
        named="CAR_AI_RL_CURRICULUM_RAMP",
        env={"CAR_AI_RL_CURRICULUM_RAMP": "5"},
        **_train(_config()),
    ),
    # training flags and log dirs
    Case("steps-zero", named="--steps", **_train(_config(), "--steps", "0")),
    Case("n-envs-negative", named="--n-envs", **_train(_config(), "--n-envs", "-1")),
    Case(
        "config-missing",
        named="--config",
        argv=["--log-dir", "{work}/new", "--config", "{work}/nope.yaml"],
        script="train_ppo.py",
    ),
    Case(
        "resume-nothing",
        named="--resume",
        argv=["--log-dir", "{work}/new", "--resume"],
        script="train_ppo.py",
    ),
    Case(
        "resume-force",
        named="--force",
        argv=["--log-dir", "{work}/new", "--resume", "--force"],
        script="train_ppo.py",
    ),
    Case(
        "reused-log-dir",
        named="--log-dir",
        argv=[
            "--steps",
            "256",
            "--n-envs",
            "2",
            "--log-dir",
            "{work}/run",
            "--config",
            "{work}/c.yaml",
        ],
        files={"c.yaml": _config()},
        script="train_ppo.py",
    ),
    Case(
        "resume-other-algo",
        named="--resume",
        argv=[
            "--steps",
            "512",
            "--n-envs",
            "2",
            "--log-dir",
            "{work}/run",
            "--config",
            "{work}/c.yaml",
            "--resume",
        ],
        files={"c.yaml": _config()},
        script="train_dqn.py",
    ),
    Case(
        "resume-other-config",
        named="ppo.n_epochs",
        argv=[
            "--steps",
            "512",
            "--n-envs",
            "2",
            "--log-dir",
            "{work}/run",
            "--config",
            "{work}/c.yaml",
            "--resume",
        ],
        files={"c.yaml": _config(**{"ppo.n_epochs": 3})},
        script="train_ppo.py",
    ),
    # export
    Case(
        "export-missing",
        named="missing.zip",
        argv=["{work}/missing.zip", "{work}/out.onnx"],
        script="export_onnx.py",
    ),
    Case(
        "export-opset",
        named="--opset",
        argv=["{work}/run/ppo-highway-final.zip", "{work}/out.onnx", "--opset", "5"],
        script="export_onnx.py",
    ),
    # episodes
    Case(
        "episodes-zero",
        named="--episodes",
        argv=["episodes", "--policy", "heuristic", "--episodes", "0", "--out", "{work}/ep2"],
    ),
    Case(
        "episodes-other-out",
        named="--out",
        argv=[
            "episodes",
            "--policy",
            "heuristic",
            "--episodes",
            "3",
            "--seed",
            "9",
            "--out",
            "{work}/ep",
        ],
    ),
    Case(
        "episodes-out-under-file",
        named="--out",
        argv=[
            "episodes",
            "--policy",
            "heuristic",
            "--episodes",
            "2",
            "--out",
            "{work}/blocker/out",
        ],
    ),
    # simulator parameters for episodes: a file of SimParams fields, or a training config
    Case(
        "episodes-sim-type",
        named="traffic_density",
        line="traffic_density: must be a number in [0, 100], got 'x'",
        argv=[*EPISODES, "--config", "{work}/p.yaml"],
        files={"p.yaml": {"traffic_density": "x"}},
    ),
    Case(
        "episodes-sim-range",
        named="n_lanes",
        line="n_lanes: must be an integer in [2, 5], got 9",
        argv=[*EPISODES, "--config", "{work}/p.yaml"],
        files={"p.yaml": {"n_lanes": 9}},
    ),
    Case(
        "episodes-sim-cross",
        named="traffic_speed_min_mps",
        line="traffic_speed_min_mps: must be <= traffic_speed_max_mps",
        argv=[*EPISODES, "--config", "{work}/p.yaml"],
        files={"p.yaml": {"traffic_speed_min_mps": 35.0}},
    ),
    Case(
        "episodes-sim-unknown",
        named="reward.colision",
        line="reward.colision: unknown key",
        argv=[*EPISODES, "--config", "{work}/p.yaml"],
        files={"p.yaml": {"reward": {"colision": 1.0}}},
    ),
    Case(
        "episodes-train-env",
        named="env.mission_changes",
        line="env.mission_changes: must be true or false, got 'no'",
        argv=[*EPISODES, "--config", "{work}/c.yaml"],
        files={"c.yaml": _config(**{"env.mission_changes": "no"})},
    ),
    Case(
        "episodes-train-env-cross",
        named="env.traffic_density",
        line=(
            "env.traffic_density: 95 vehicles/km/lane do not fit: with heavy_vehicle_share 0.5"
            " a lane holds at most 79 (vehicles 10.2 m long on average, traffic_min_gap_m apart)"
        ),
        argv=[*EPISODES, "--config", "{work}/c.yaml"],
        files={"c.yaml": _config(**{"env.traffic_density": 95.0, "env.heavy_vehicle_share": 0.5})},
    ),
    Case(
        "episodes-policy-missing",
        named="missing.onnx",
        argv=[
            "episodes",
            "--policy",
            "{work}/missing.onnx",
            "--episodes",
            "2",
            "--out",
            "{work}/ep2",
        ],
    ),
    # evaluation
    Case(
        "eval-bad-value",
        named="suites[0].episodes",
        argv=["eval", "--config", "{work}/e.yaml"],
        files={"e.yaml": "EVAL:suites.0.episodes=0"},
    ),
    Case(
        "eval-sim-type",
        named="sim.traffic_density",
        line="sim.traffic_density: must be a number in [0, 100], got 'x'",
        argv=["eval", "--config", "{work}/e.yaml"],
        files={"e.yaml": "EVAL:sim={traffic_density: x}"},
    ),
    Case(
        "eval-sim-cross",
        named="sim.lane_width_m",
        line="sim.lane_width_m: must be wider than vehicle_width_m and heavy_width_m",
        argv=["eval", "--config", "{work}/e.yaml"],
        files={"e.yaml": "EVAL:sim={lane_width_m: 2.5}"},
    ),
    Case(
        "eval-suite-range",
        named="suites[2].mission_mix.exit",
        line="suites[2].mission_mix.exit: must be a number >= 0, got -1.0",
        argv=["eval", "--config", "{work}/e.yaml"],
        files={"e.yaml": "EVAL:suites=" + THREE_SUITES.format(c="mission_mix: {exit: -1.0}")},
    ),
    Case(
        "eval-suite-cross",
        named="suites[2].heavy_speed_min_mps",
        line="suites[2].heavy_speed_min_mps: must be <= heavy_speed_max_mps",
        argv=["eval", "--config", "{work}/e.yaml"],
        files={"e.yaml": "EVAL:suites=" + THREE_SUITES.format(c="heavy_speed_min_mps: 26.0")},
    ),
    Case(
        "eval-out-under-file",
        named="--out",
        argv=["eval", "--config", "{work}/e.yaml", "--out", "{work}/blocker/x"],
        files={"e.yaml": "EVAL"},
    ),
    Case(
        "eval-other-results",
        named="--out",
        argv=["eval", "--config", "{work}/e.yaml", "--out", "{work}/evals"],
        files={"e.yaml": "EVAL"},
    ),
    Case(
        "monitor-confidence",
        named="--confidence",
        argv=["monitor", "--confidence", "2", "--mission-log", "{work}/m.sqlite"],
    ),
    # jobs
    Case(
        "jobs-steps",
        named="entrypoint.args.steps",
        argv=[
            "jobs",
            "create",
            "--spec",
            str(SEED_SPEC),
            "--set",
            "entrypoint.args.steps=-5",
            "--jobs-dir",
            "{work}/jobs",
        ],
    ),
    Case(
        "jobs-envs",
        named="entrypoint.args.n-envs",
        argv=[
            "jobs",
            "create",
            "--spec",
            str(SEED_SPEC),
            "--set",
            "entrypoint.args.n-envs=0",
            "--jobs-dir",
            "{work}/jobs",
        ],
    ),
    Case(
        "jobs-duration",
        named="max_duration",
        argv=[
            "jobs",
            "create",
            "--spec",
            str(SEED_SPEC),
            "--set",
            "max_duration=0s",
            "--jobs-dir",
            "{work}/jobs",
        ],
    ),
    Case(
        "jobs-list-file", named="--jobs-dir", argv=["jobs", "list", "--jobs-dir", "{work}/blocker"]
    ),
    # serve
    Case(
        "serve-port-high",
        named="--port",
        argv=["serve", "--port", "70000", "--mission-log", "{work}/m.sqlite"],
    ),
    Case(
        "serve-port-zero",
        named="--port",
        argv=["serve", "--port", "0", "--mission-log", "{work}/m.sqlite"],
    ),
    Case(
        "serve-time-scale",
        named="--time-scale",
        argv=["serve", "--time-scale", "nan", "--mission-log", "{work}/m.sqlite"],
    ),
]


def _run(
    argv: list[str], script: str | None, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    import os

    command = (
        [sys.executable, str(APP / "scripts" / script)]
        if script
        else [sys.executable, "-m", "car_ai_rl.cli"]
    )
    return subprocess.run(
        [*command, *argv, *(["--no-progress"] if script and script.startswith("train") else [])],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Work a user already has: a finished PPO run, episodes, an evaluation's results."""
    root = tmp_path_factory.mktemp("protected")
    (root / "c.yaml").write_text(yaml.safe_dump(_config()))
    steps = ["--steps", "256", "--n-envs", "2", "--config", str(root / "c.yaml")]
    done = _run([*steps, "--log-dir", str(root / "run")], "train_ppo.py", root, {})
    assert done.returncode == 0, done.stderr
    done = _run(
        [
            "episodes",
            "--policy",
            "heuristic",
            "--episodes",
            "3",
            "--out",
            str(root / "ep"),
            "--no-progress",
        ],
        None,
        root,
        {},
    )
    assert done.returncode == 0, done.stderr
    results = root / "evals" / "results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"config": {"name": "another-evaluation"}}))
    (root / "blocker").write_text("a file where a directory is expected")
    return root


def _eval_config(spec: str, work: Path) -> dict:
    data = {
        "name": "bad-input",
        "mission_log": str(work / "m.sqlite"),
        "candidates": [{"name": "heuristic", "source": "heuristic"}],
        "suites": [{"name": "s", "episodes": 2}],
    }
    if "=" in spec:
        dotted, value = spec.split(":", 1)[1].split("=", 1)
        node: object = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]  # type: ignore[index]
        node[last] = yaml.safe_load(value)  # type: ignore[index]
    return data


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_changes(
    protected: Path, tmp_path: Path, case: Case
) -> None:
    import shutil

    work = tmp_path / "work"
    shutil.copytree(protected, work, symlinks=True)
    for name, content in case.files.items():
        if isinstance(content, str) and content.startswith("EVAL"):
            content = _eval_config(content, work)
        (work / name).write_text(yaml.safe_dump(content))
    before = snapshot(work)
    argv = [word.replace("{work}", str(work)) for word in case.argv]
    proc = _run(argv, case.script, work, case.env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert case.named in lines[0], lines[0]
    if case.line is not None:
        assert lines[0] == f"error: {case.line}"
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(work) == before, "files were written, changed or lost"
    assert sorted(p.name for p in work.iterdir()) == sorted(
        {*(p.name for p in protected.iterdir()), *case.files}
    ), "a new file or directory appeared"
