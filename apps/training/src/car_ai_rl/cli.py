"""The one ``car-ai-rl`` command. Each feature module registers its own subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from car_ai_rl import __version__
from car_ai_rl.cli_args import CliParser, UsageError
from car_ai_rl.errors import UserError

# Modules that expose ``register(subparsers)``; each adds one or more subcommands whose
# parsers set ``func`` to a callable taking the parsed namespace and returning an exit code.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "car_ai_rl.sim.cli",
    "car_ai_rl.train.cli",
    "car_ai_rl.export.cli",
    "car_ai_rl.episodes.cli",
    "car_ai_rl.evals.cli",
    "car_ai_rl.jobs.cli",
)
# Installed packages add subcommands under this entry-point group; each entry names a
# ``register(subparsers)`` callable.
COMMANDS_GROUP = "car_ai_rl.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="car-ai-rl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"car-ai-rl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # feature not present in this build
            raise
        module.register(subparsers)
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            register = entry.load()
        except Exception as exc:  # a broken plug-in must not take the other commands down
            print(
                f"warning: command {entry.name!r} ({entry.value}) not loaded: {exc}",
                file=sys.stderr,
            )
            continue
        register(subparsers)
    return parser


def report(exc: UserError) -> None:
    """Print a user mistake: ``error: `` before each of its lines, on stderr."""
    for line in str(exc).splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr)


def run(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user mistakes become one-line messages and
    exit code 2 (a bad command line exits at once, as argparse does)."""
    parser = parser or build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise SystemExit(exc.code) from None
    try:
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except UserError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
