"""Training: outputs of a short run, resume after a kill, bad input, config precedence."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from car_ai_rl.envs.actions import N_DISCRETE_ACTIONS, N_PLANS
from car_ai_rl.errors import ConfigError
from car_ai_rl.policies.sb3_model import load_sb3
from car_ai_rl.sim.params import SimParams
from car_ai_rl.train.checkpoints import checkpoints_newest_first, replay_buffer_path
from car_ai_rl.train.config import Curriculum, build_config, env_overrides
from car_ai_rl.train.curriculum import params_at

APP = Path(__file__).resolve().parents[1]
TINY = {
    "checkpoint_every_steps": 512,
    "eval_every_steps": 1024,
    "eval_episodes": 4,
    "ppo": {"n_steps": 128, "batch_size": 256, "n_epochs": 1, "net_arch": [32, 32]},
    "dqn": {"learning_starts": 100, "buffer_size": 5000, "net_arch": [32, 32]},
    "env": {"episode_duration_s": 10.0},
    "kickstart": {"rounds": 1, "envs": 8, "steps_per_round": 50, "epochs": 1},
}


def write_config(tmp_path: Path, data: dict) -> Path:
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_script(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=APP, capture_output=True, text=True, timeout=600, **kwargs
    )


@pytest.mark.parametrize(
    ("algo", "action_mode"),
    [("ppo", "plan"), ("dqn", "plan"), ("ppo", "discrete"), ("dqn", "discrete")],
)
def test_short_run_writes_every_output(tmp_path: Path, algo: str, action_mode: str) -> None:
    config = write_config(tmp_path, TINY)
    log_dir = tmp_path / "run"
    proc = run_script(
        [
            f"scripts/train_{algo}.py",
            "--steps",
            "2048",
            "--n-envs",
            "2",
            "--log-dir",
            str(log_dir),
            "--config",
            str(config),
            "--action-mode",
            action_mode,
            "--no-progress",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    assert "kickstart round 1/1" in proc.stderr  # both kickstart
    final = log_dir / f"{algo}-highway-final.zip"
    assert final.is_file()
    model, info = load_sb3(final)
    assert model.num_timesteps >= 2048
    assert info.action_mode == action_mode
    assert model.action_space.n == (N_PLANS if action_mode == "plan" else N_DISCRETE_ACTIONS)
    # discrete actions are masked by the supervisor's verdicts; plans are not (the driver
    # follows the supervisor's own predicates)
    assert info.masked == (action_mode == "discrete")
    assert list((log_dir / "checkpoints").glob(f"{algo}_*_steps.zip"))
    if algo == "dqn":  # --resume must find the buffer CheckpointCallback saved
        newest = checkpoints_newest_first(log_dir, algo)[0][1]
        assert replay_buffer_path(newest).is_file()
    # both keep imitating the kickstart's labels, so a resumed run needs them beside it
    assert (log_dir / "kickstart_demos.npz").is_file()
    events = list((log_dir / "tb").rglob("events.out.tfevents.*"))
    assert events
    run = json.loads((log_dir / "run.json").read_text())
    assert run["algo"] == algo and run["version"] and run["command_line"]
    assert run["sim_params"]["episode_duration_s"] == 10.0
    assert (log_dir / "config.yaml").is_file()
    metrics = json.loads((log_dir / "final_eval.json").read_text())
    for key in (
        "mission_success_rate",
        "collision_rate",
        "at_fault_collision_rate",
        "mean_speed_mps",
        "supervisor_intervention_rate",
        "reward_speed",
    ):
        assert key in metrics
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for event_file in events:
        acc = EventAccumulator(str(event_file))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert "eval/mission_success_rate" in tags and "eval/reward_collision" in tags


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_checkpoint_and_resume_continues(tmp_path: Path, sig: int) -> None:
    config = write_config(tmp_path, {**TINY, "checkpoint_every_steps": 10**9, "eval_episodes": 0})
    log_dir = tmp_path / "run"
    args = [
        "scripts/train_ppo.py",
        "--steps",
        "400000",
        "--n-envs",
        "2",
        "--log-dir",
        str(log_dir),
        "--config",
        str(config),
        "--no-progress",
    ]
    proc = subprocess.Popen([sys.executable, *args], cwd=APP, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (log_dir / "checkpoints" / "ppo_0_steps.zip").exists() and time.time() < deadline:
        time.sleep(0.5)  # the kickstart's checkpoint: PPO starts now
    time.sleep(5)  # let it train a while
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "interrupted: saved" in err and "Traceback" not in err
    assert checkpoints_newest_first(log_dir, "ppo"), err
    checkpoint = checkpoints_newest_first(log_dir, "ppo")[0][1]
    steps_at_kill = load_sb3(checkpoint)[0].num_timesteps
    assert steps_at_kill > 0
    resumed = run_script([*args[:2], str(steps_at_kill + 512), *args[3:], "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {checkpoint}" in resumed.stderr
    final = load_sb3(log_dir / "ppo-highway-final.zip")[0]
    assert steps_at_kill < final.num_timesteps <= steps_at_kill + 512 + 256


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--resume"], "--resume: no run to resume"),
        (["--config", "missing.yaml"], "--config: file not found"),
        (["--steps", "0"], "--steps: must be an integer in [1, "),
    ],
)
def test_bad_input_exits_with_message(tmp_path: Path, extra: list[str], message: str) -> None:
    proc = run_script(["scripts/train_ppo.py", "--log-dir", str(tmp_path / "r"), *extra])
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_log_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_script(["scripts/train_ppo.py", "--log-dir", str(blocker / "run")])
    assert proc.returncode == 2 and "--log-dir: cannot write" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"ppo": {"n_stepz": 3}}, "ppo.n_stepz: unknown key"),
        ({"env": {"n_lanes": 9}}, "env.n_lanes: must be an integer in [2, 5], got 9"),
        ({"action_mode": "sideways"}, "action_mode: must be one of discrete, continuous"),
        ({"curriculum": {"ramp_fraction": 2.0}}, "curriculum.ramp_fraction"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, data: dict, field: str) -> None:
    proc = run_script(
        [
            "scripts/train_ppo.py",
            "--log-dir",
            str(tmp_path / "r"),
            "--config",
            str(write_config(tmp_path, data)),
        ]
    )
    assert proc.returncode == 2
    assert field in proc.stderr and "Traceback" not in proc.stderr


def test_precedence_file_then_env_then_flags() -> None:
    env = env_overrides({"CAR_AI_RL_CURRICULUM": "0", "CAR_AI_RL_CURRICULUM_RAMP": "0.5"})
    config = build_config(
        {"seed": 3, "curriculum": {"enabled": True, "ramp_fraction": 0.1, "density_start": 2.0}},
        env,
        {"seed": 7},
    )
    assert config.seed == 7
    assert config.curriculum.enabled is False
    assert config.curriculum.ramp_fraction == 0.5
    assert config.curriculum.density_start == 2.0
    with pytest.raises(ConfigError, match="CAR_AI_RL_CURRICULUM"):
        env_overrides({"CAR_AI_RL_CURRICULUM": "maybe"})


def test_curriculum_ramps_density_and_mission_changes() -> None:
    target = SimParams()
    curriculum = Curriculum(
        density_start=4.0, ramp_fraction=0.5, mission_changes_after_fraction=0.2
    )
    start, mid, end = (params_at(x, target, curriculum) for x in (0.0, 0.25, 0.9))
    assert start.traffic_density == 4.0 and not start.mission_changes
    assert 4.0 < mid.traffic_density < target.traffic_density and mid.mission_changes
    assert end == target
    assert params_at(0.0, target, Curriculum(enabled=False)) == target
    ranged = target.replace(traffic_density_max=30.0)
    start, mid, end = (params_at(x, ranged, curriculum) for x in (0.0, 0.25, 0.9))
    assert start.traffic_density == start.traffic_density_max == 4.0
    assert mid.traffic_density < mid.traffic_density_max < 30.0
    assert end == ranged


def test_train_cli_is_the_same_command() -> None:
    proc = run_script(["-m", "car_ai_rl.cli", "train", "--help"])
    assert proc.returncode == 0
    for flag in (
        "--algo",
        "--steps",
        "--n-envs",
        "--log-dir",
        "--seed",
        "--config",
        "--action-mode",
        "--resume",
        "--curriculum",
        "CAR_AI_RL_CURRICULUM",
    ):
        assert flag in proc.stdout


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_shipped_configs_equal_the_built_in_defaults(name: str) -> None:
    from car_ai_rl.train.config import TrainConfig, load_config_file

    shipped = build_config(load_config_file(str(APP / "configs" / f"{name}.yaml")), {}, {})
    defaults = TrainConfig(algo=name)
    assert shipped.ppo == defaults.ppo and shipped.dqn == defaults.dqn
    assert shipped.curriculum == defaults.curriculum and shipped.kickstart == defaults.kickstart
    assert shipped.algo == name
    assert shipped.to_dict() == defaults.to_dict()


@pytest.mark.parametrize("supervised", [False, True])
def test_supervisor_setting_reaches_the_training_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, supervised: bool
) -> None:
    from car_ai_rl.train import runner

    built: list[bool] = []

    class RecordingVecEnv(runner.HighwayMissionVecEnv):
        def __init__(self, n_envs, action_mode, safety_supervisor, **kwargs) -> None:
            built.append(safety_supervisor)
            super().__init__(n_envs, action_mode, safety_supervisor, **kwargs)

    monkeypatch.setattr(runner, "HighwayMissionVecEnv", RecordingVecEnv)
    data = {**TINY, "supervisor": supervised, "eval_episodes": 0, "kickstart": {"enabled": False}}
    config = build_config(data, {}, {})
    final = runner.train(config, 256, 2, tmp_path / "run", progress=False)
    assert final.is_file() and built == [supervised]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["supervisor"] is supervised
