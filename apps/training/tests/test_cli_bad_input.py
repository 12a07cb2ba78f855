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
        dotted, value = spec.split(":", 1)[1].split("=")
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
    assert "Traceback" not in proc.stderr + proc.stdout
    assert snapshot(work) == before, "files were written, changed or lost"
    assert sorted(p.name for p in work.iterdir()) == sorted(
        {*(p.name for p in protected.iterdir()), *case.files}
    ), "a new file or directory appeared"
