"""``car-ai-rl serve`` (registered through the ``car_ai_rl.commands`` entry point) and
``python -m car_ai_sim_app``: build the app from flags and run it with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from car_ai_rl.cli_args import MAX_PORT, port_number
from car_ai_rl.errors import UserError

from car_ai_sim_app.config import DEFAULT_MISSION_LOG, LOOPBACK_HOSTS, AppConfig, Limits

HELP = "run the voice-driven simulator app (web page + WebSocket sessions)"
DESCRIPTION = (
    "Serve the simulator page and its WebSocket sessions. Every control a page sends passes "
    "the safety supervisor; missions come from typed or spoken commands."
)
# uvicorn's WebSocket implementation (the sans-I/O one of the websockets package)
WS_IMPL = "websockets-sansio"
# Frames are small and change every tick: compressing them cost a third of the server's CPU
# at 200 sessions and saves little, so per-message deflate is off.
WS_DEFLATE = False


def register(subparsers: Any) -> None:
    """Add ``serve`` to the ``car-ai-rl`` command (entry point ``car_ai_rl.commands``)."""
    parser = subparsers.add_parser("serve", help=HELP, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(func=serve)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=port_number, default=8000, help=f"port, 1-{MAX_PORT} (default 8000)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        default=None,
        help="one exported .onnx model for every mission kind (default, in the working "
        "directory: runs/ppo-local/ppo-highway-best.onnx, the main job's pick, else "
        "runs/ppo-local/ppo-highway-final.onnx)",
    )
    source.add_argument(
        "--registry", default=None, help="JSON registry mapping mission kinds to models"
    )
    parser.add_argument(
        "--mission-log",
        default=None,
        help="SQLite mission log shared with evaluation (default runs/mission_log.sqlite in "
        "the working directory, as `car-ai-rl eval` uses)",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=256, help="most sessions at once (default 256)"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed of the drives (default 0)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per wall second (default 1: real time)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="another page origin allowed to open sessions (repeatable)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a host name the server answers to besides 127.0.0.1, localhost and ::1 "
        "(repeatable; needed when serving beyond loopback)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (default info)",
    )


def config_from_args(args: argparse.Namespace) -> AppConfig:
    if args.max_sessions < 1:
        raise UserError(f"--max-sessions: must be >= 1, got {args.max_sessions}")
    if not 0.1 <= args.time_scale <= 20.0:
        raise UserError(f"--time-scale: must be in [0.1, 20], got {args.time_scale}")
    for flag, value in (("--model", args.model), ("--registry", args.registry)):
        if value is not None and not Path(value).is_file():
            raise UserError(f"{flag}: {value}: file not found")
    hosts = list(LOOPBACK_HOSTS)
    for name in args.allow_host or ():
        if not name or any(c in name for c in "/:@ ") and not name.startswith("["):
            raise UserError(f"--allow-host: {name!r} is not a host name (no port, no scheme)")
        hosts.append(name.strip("[]").lower())
    return AppConfig(
        model=Path(args.model) if args.model else None,
        registry=Path(args.registry) if args.registry else None,
        mission_log=Path(args.mission_log) if args.mission_log else DEFAULT_MISSION_LOG,
        seed=args.seed,
        time_scale=args.time_scale,
        allowed_origins=tuple(args.allow_origin or ()),
        allowed_hosts=tuple(hosts),
        limits=Limits(max_sessions=args.max_sessions),
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from car_ai_sim_app.server import create_app

    config = config_from_args(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(config)
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"warning: serving on {args.host}: there is no authentication; anyone who can reach "
            "this port can open sessions and reload the registry",
            file=sys.stderr,
        )
    registry = app.state.sim.store.current
    print(
        f"car-ai-rl serve: http://{args.host}:{args.port}/  models: "
        f"{', '.join(registry.models) or 'none yet'}  mission log: {config.mission_log}  "
        f"hosts: {', '.join(config.allowed_hosts)}",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ws=WS_IMPL,
        ws_per_message_deflate=WS_DEFLATE,
        ws_max_size=config.limits.max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m car_ai_sim_app [flags]``: the same as ``car-ai-rl serve [flags]``."""
    parser = argparse.ArgumentParser(prog="python -m car_ai_sim_app", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
