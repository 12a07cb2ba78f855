"""``car-ai-rl export`` and ``scripts/export_onnx.py``: SB3 zip -> ONNX.

Exit codes: 0 written; 1 parity check failed; 2 bad input (missing, not SB3, corrupted).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from car_ai_rl.cli_args import CliParser
from car_ai_rl.export import DEFAULT_N_CHECK, DEFAULT_OPSET, MIN_OPSET

DESCRIPTION = (
    "Export the deterministic actor of an SB3 PPO or DQN zip to ONNX (input obs, outputs "
    "controls and action), with the observation schema and training metadata, then check "
    "parity with SB3 on rollout observations. Exit 0: written; 1: parity failed; 2: bad input."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL.zip", help="SB3 model zip (PPO or DQN)")
    parser.add_argument("output", metavar="MODEL.onnx", help="ONNX file to write")
    parser.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="compare onnxruntime with SB3 predict(deterministic=True) (default: on)",
    )
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        metavar="N",
        help=f"ONNX opset, >= {MIN_OPSET} (default {DEFAULT_OPSET})",
    )
    parser.add_argument(
        "--n-check",
        type=int,
        default=DEFAULT_N_CHECK,
        metavar="N",
        help=f"observations in the parity check (default {DEFAULT_N_CHECK})",
    )
    parser.set_defaults(func=_cmd_export)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export", help="export an SB3 model to ONNX", description=DESCRIPTION
    )
    add_arguments(parser)


def _cmd_export(args: argparse.Namespace) -> int:
    from car_ai_rl.export.onnx_export import export_onnx

    def log(message: str) -> None:
        print(message, flush=True)

    export_onnx(
        args.model, args.output, opset=args.opset, check=args.check, n_check=args.n_check, log=log
    )
    return 0


def build_parser(prog: str = "export_onnx.py") -> argparse.ArgumentParser:
    parser = CliParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``scripts/export_onnx.py``."""
    from car_ai_rl.cli import run

    return run(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
