"""``car-ai-rl train`` and the scripts/train_*.py shims."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from car_ai_rl.cli_args import CliParser, float_in, int_in
from car_ai_rl.train.config import ENV_VARS, MAX_DENSITY, MAX_ENVS

EPILOG = "Environment variables (used by job specs): " + ", ".join(ENV_VARS) + "."
MAX_STEPS = 10**12
MAX_SEED = 2**32 - 1


def add_train_arguments(parser: argparse.ArgumentParser, with_algo: bool) -> None:
    if with_algo:
        parser.add_argument(
            "--algo", choices=["ppo", "dqn"], default=None, help="algorithm (default: ppo)"
        )
    parser.add_argument(
        "--steps",
        type=int_in(1, MAX_STEPS),
        default=1_500_000,
        help="total environment steps (default 1,500,000)",
    )
    parser.add_argument(
        "--n-envs",
        type=int_in(1, MAX_ENVS),
        default=4,
        help="envs stepped together in one batch (default 4)",
    )
    parser.add_argument(
        "--log-dir", default="runs/ppo-local", help="output directory (default runs/ppo-local)"
    )
    parser.add_argument(
        "--seed", type=int_in(0, MAX_SEED), default=None, help="random seed (default 0)"
    )
    parser.add_argument(
        "--config", default=None, help="YAML file of hyperparameters and env params"
    )
    parser.add_argument(
        "--action-mode",
        choices=["discrete", "continuous", "plan"],
        default=None,
        help="action space (default plan)",
    )
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --log-dir from its newest readable checkpoint",
    )
    existing.add_argument(
        "--force",
        action="store_true",
        help="start a new run even if --log-dir holds one: the old one is moved to "
        "<log-dir>.old-<time>, never deleted",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    curriculum = parser.add_mutually_exclusive_group()
    curriculum.add_argument(
        "--curriculum",
        dest="curriculum",
        action="store_true",
        default=None,
        help="ramp traffic density and mission changes (default on)",
    )
    curriculum.add_argument(
        "--no-curriculum",
        dest="curriculum",
        action="store_false",
        help="train on the final env params from the start",
    )
    parser.add_argument(
        "--curriculum-density-start",
        type=float_in(0.0, MAX_DENSITY),
        default=None,
        help="traffic density at the start of the ramp (vehicles/km/lane)",
    )
    parser.add_argument(
        "--curriculum-ramp",
        type=float_in(0.0, 1.0),
        default=None,
        help="fraction of training over which density ramps up (0..1)",
    )


def flag_overrides(args: argparse.Namespace, algo: str | None) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    if algo:
        flags["algo"] = algo
    if args.seed is not None:
        flags["seed"] = args.seed
    if args.action_mode is not None:
        flags["action_mode"] = args.action_mode
    curriculum: dict[str, Any] = {}
    if args.curriculum is not None:
        curriculum["enabled"] = args.curriculum
    if args.curriculum_density_start is not None:
        curriculum["density_start"] = args.curriculum_density_start
    if args.curriculum_ramp is not None:
        curriculum["ramp_fraction"] = args.curriculum_ramp
    if curriculum:
        flags["curriculum"] = curriculum
    return flags


def run_training(args: argparse.Namespace, algo: str | None) -> int:
    from car_ai_rl.train.config import build_config, env_overrides, load_config_file
    from car_ai_rl.train.runner import train
    from car_ai_rl.train.stop_request import TrainingStopped

    config = build_config(
        load_config_file(args.config),
        env_overrides(),
        flag_overrides(args, algo),
        source=args.config or "(top level)",
    )
    try:
        train(
            config,
            args.steps,
            args.n_envs,
            Path(args.log_dir),
            resume=args.resume,
            progress=not args.no_progress,
            force=args.force,
        )
    except TrainingStopped as stopped:
        print(f"\n{stopped}", file=sys.stderr)
        return stopped.exit_code
    return 0


def run_pick(args: argparse.Namespace) -> int:
    from car_ai_rl.train.pick import pick_checkpoint

    best, scored = pick_checkpoint(
        Path(args.log_dir), args.episodes, args.force, progress=not args.no_progress
    )
    result = {
        "best": str(best.path),
        "success_rate": best.success_rate,
        "episodes": args.episodes,
        "models": [{"path": str(s.path), "success_rate": s.success_rate} for s in scored],
    }
    print(json.dumps(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train PPO or DQN", epilog=EPILOG)
    add_train_arguments(parser, with_algo=True)
    parser.set_defaults(func=lambda args: run_training(args, args.algo))

    parser = subparsers.add_parser(
        "pick-checkpoint",
        help="copy a run's best checkpoint on validation episodes to <algo>-highway-best.zip",
        description="Drive every checkpoint of a training run (and its final model) on the "
        "same validation episodes, on the run's sim params and under the supervisor when it "
        "trained under it, and copy the one with the highest mission success to "
        "<algo>-highway-best.zip in the run directory. Prints one JSON line of the scores.",
    )
    parser.add_argument("log_dir", help="the training run's directory (e.g. runs/ppo-local)")
    parser.add_argument(
        "--episodes",
        type=int_in(1, 1_000_000),
        default=2400,
        help="validation episodes per model (default 2400)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing <algo>-highway-best.zip"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=run_pick)


def script_parser(algo: str) -> argparse.ArgumentParser:
    """The parser of scripts/train_<algo>.py: the same flags as ``car-ai-rl train``."""
    parser = CliParser(
        prog=f"train_{algo}.py",
        description=f"Train {algo.upper()} on the highway env.",
        epilog=EPILOG,
    )
    add_train_arguments(parser, with_algo=False)
    parser.set_defaults(func=lambda args: run_training(args, algo))
    return parser


def script_main(algo: str) -> None:
    """Entry point of scripts/train_<algo>.py."""
    from car_ai_rl.cli import run

    raise SystemExit(run(parser=script_parser(algo)))
