"""Check a job's arguments with the parser of the command it runs, before the job starts.

A spec that runs one of our commands (``scripts/train_ppo.py``, ``scripts/train_dqn.py``,
``scripts/export_onnx.py``, ``car-ai-rl ...`` or ``python -m car_ai_rl.cli ...``) is parsed
exactly as that command will parse it, so ``steps: -5`` is refused at ``jobs create`` and not
minutes later on a cluster. Other commands are not checked.
"""

from __future__ import annotations

import argparse
import re
from pathlib import PurePath
from typing import Any

from car_ai_rl.cli_args import UsageError
from car_ai_rl.jobs.argv import arg_words

PLACEHOLDER_VALUES = {"{output_dir}": "OUTPUT_DIR", "{job_id}": "JOB_ID"}
PYTHON = ("python", "python3")
_SEE_HELP = re.compile(r" \(see .* --help\)$")


def _known_parser(command: list[str]) -> tuple[argparse.ArgumentParser, list[str]] | None:
    """(parser, the command's own words after the program) for our commands, else None."""
    words = list(command)
    if words and PurePath(words[0]).name in PYTHON:
        words = words[1:]
        if words[:2] == ["-m", "car_ai_rl.cli"]:
            return _main_parser(), words[2:]
    if not words:
        return None
    program = PurePath(words[0]).name
    if program == "car-ai-rl":
        return _main_parser(), words[1:]
    if program in ("train_ppo.py", "train_dqn.py"):
        from car_ai_rl.train.cli import script_parser

        return script_parser(program[len("train_") : -len(".py")]), words[1:]
    if program == "export_onnx.py":
        from car_ai_rl.export.cli import build_parser

        return build_parser(), words[1:]
    return None


def _main_parser() -> argparse.ArgumentParser:
    from car_ai_rl.cli import build_parser

    return build_parser()


def entrypoint_problems(command: list[str], args: dict[str, Any]) -> list[tuple[str, str]]:
    """``(path, problem)`` for arguments the entrypoint's own parser refuses."""
    known = _known_parser(command)
    if known is None:
        return []
    parser, words = known
    for name, value in args.items():
        words += arg_words(name, value)
    for placeholder, stand_in in PLACEHOLDER_VALUES.items():
        words = [word.replace(placeholder, stand_in) for word in words]
    try:
        parser.parse_args(words)
    except UsageError as exc:
        return [_located(exc.message, args)]
    except SystemExit:  # --help or --version: the command would print and stop at once
        return [("entrypoint.args", "--help/--version would stop the command at once")]
    return []


def _located(message: str, args: dict[str, Any]) -> tuple[str, str]:
    message = _SEE_HELP.sub("", message)
    match = re.match(r"^--([\w-]+): (.*)$", message, re.DOTALL)
    if match and match[1] in args:
        return f"entrypoint.args.{match[1]}", match[2]
    if match:
        return "entrypoint.command", message
    return "entrypoint.args", message
