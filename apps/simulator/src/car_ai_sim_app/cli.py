"""``car-ai-rl serve``: build the app from parsed flags and run it with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from car_ai_rl.errors import UserError

from car_ai_sim_app.config import DEFAULT_MISSION_LOG, AppConfig, Limits

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def config_from_args(args: argparse.Namespace) -> AppConfig:
    if args.max_sessions < 1:
        raise UserError(f"--max-sessions: must be >= 1, got {args.max_sessions}")
    if not 0.1 <= args.time_scale <= 20.0:
        raise UserError(f"--time-scale: must be in [0.1, 20], got {args.time_scale}")
    for flag, value in (("--model", args.model), ("--registry", args.registry)):
        if value is not None and not Path(value).is_file():
            raise UserError(f"{flag}: {value}: file not found")
    return AppConfig(
        model=Path(args.model) if args.model else None,
        registry=Path(args.registry) if args.registry else None,
        mission_log=Path(args.mission_log) if args.mission_log else DEFAULT_MISSION_LOG,
        seed=args.seed,
        time_scale=args.time_scale,
        allowed_origins=tuple(args.allow_origin or ()),
        limits=Limits(max_sessions=args.max_sessions),
    )


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from car_ai_sim_app.server import create_app

    config = config_from_args(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(config)
    if args.host not in LOOPBACK:
        print(
            f"warning: serving on {args.host}: there is no authentication; anyone who can reach "
            "this port can open sessions and reload the registry",
            file=sys.stderr,
        )
    registry = app.state.sim.store.current
    print(
        f"car-ai-rl serve: http://{args.host}:{args.port}/  models: "
        f"{', '.join(registry.models) or 'none yet'}  mission log: {config.mission_log}",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        ws_max_size=config.limits.max_frame_bytes,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    return 0
