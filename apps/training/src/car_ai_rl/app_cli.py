"""``car-ai-rl serve``: run the simulator app (package ``car-ai-sim-app`` in apps/simulator).

The app is imported only when the command runs, so car_ai_rl works without it installed.
"""

from __future__ import annotations

import argparse
from typing import Any

from car_ai_rl.cli_args import MAX_PORT, port_number
from car_ai_rl.errors import UserError

APP_PACKAGE = "car_ai_sim_app"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the voice-driven simulator app (web page + WebSocket sessions)",
        description="Serve the simulator page and its WebSocket sessions. Every control a page "
        "sends passes the safety supervisor; missions come from typed or spoken commands.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_number, default=8000, help=f"port, 1-{MAX_PORT} (default 8000)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        default=None,
        help="one exported .onnx model for every mission kind (default: "
        "apps/training/runs/ppo-local/ppo-highway-final.onnx)",
    )
    source.add_argument(
        "--registry", default=None, help="JSON registry mapping mission kinds to models"
    )
    parser.add_argument(
        "--mission-log",
        default=None,
        help="SQLite mission log shared with evaluation (default "
        "apps/training/runs/mission_log.sqlite)",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=256, help="most sessions at once (default 256)"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed of the drives (default 0)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per wall second, 0.1-20 (default 1: real time)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="another page origin allowed to open sessions (repeatable)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default info)",
    )
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        from car_ai_sim_app.cli import serve
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == APP_PACKAGE:
            raise UserError(
                "the simulator app is not installed: run `pip install -e apps/simulator` in "
                "this environment"
            ) from None
        raise
    return serve(args)
