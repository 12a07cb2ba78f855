"""``car-ai-rl episodes``: roll out a policy on seeded episodes and write traces, a per-episode
table, a summary and optional GIFs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from car_ai_rl.errors import UserError

DESCRIPTION = (
    "Run a policy (heuristic, SB3 zip or ONNX) on N episodes with seeds S, S+1, ... and write "
    "traces.npz (per-step columns), episodes.csv (per-episode metrics), summary.json and, with "
    "--video K, episode_000.gif... for the first K episodes. Same arguments, same files."
)
MAX_SEED = 2**63 - 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "episodes",
        help="generate rollout episodes (traces, summary, GIFs)",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--policy",
        required=True,
        metavar="POLICY",
        help="'heuristic', an SB3 .zip or an exported .onnx file",
    )
    parser.add_argument(
        "--episodes", type=int, required=True, metavar="N", help="number of episodes"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of episode 0 (default 0)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--supervisor",
        choices=("on", "off"),
        default="off",
        help="filter the policy's controls through the safety supervisor (default off)",
    )
    parser.add_argument(
        "--video", type=int, default=0, metavar="K", help="render the first K episodes to GIFs"
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML of SimParams fields (a training config's env: section also works); "
        "default: the params the model was trained on, else the defaults",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=512,
        metavar="B",
        help="episodes simulated together (default 512)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace the outputs of another command in --out (default: refuse)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_cmd_episodes)


def check_args(args: argparse.Namespace) -> None:
    if args.episodes < 1:
        raise UserError(f"--episodes: must be >= 1, got {args.episodes}")
    if not 0 <= args.seed <= MAX_SEED - args.episodes:
        raise UserError(f"--seed: must be in [0, {MAX_SEED - args.episodes}], got {args.seed}")
    if not 0 <= args.video <= args.episodes:
        raise UserError(f"--video: must be in [0, --episodes], got {args.video}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size: must be >= 1, got {args.batch_size}")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out: {args.out} exists and is not a directory")


def _cmd_episodes(args: argparse.Namespace) -> int:
    from car_ai_rl.episodes.generate import generate

    check_args(args)
    summary = generate(
        policy_source=args.policy,
        n_episodes=args.episodes,
        seed=args.seed,
        out_dir=args.out,
        supervisor=args.supervisor == "on",
        video=args.video,
        params_file=args.config,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        force=args.force,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )
    print(
        f"{summary['episodes']} episodes: success {summary['success_rate']:.3f}, "
        f"collisions {summary['collision_rate']:.3f} "
        f"(at fault {summary['at_fault_collision_rate']:.3f}), "
        f"mean speed {summary['mean_speed_mps']:.2f} m/s, "
        f"interventions/step {summary['supervisor_intervention_rate']:.4f} -> {args.out}"
    )
    return 0
