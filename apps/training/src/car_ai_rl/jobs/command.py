"""Turn a spec's entrypoint and env into an argv and environment for one job."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from car_ai_rl.jobs.argv import arg_words

if TYPE_CHECKING:
    from car_ai_rl.jobs.spec import JobSpec

PLACEHOLDERS = ("{job_id}", "{output_dir}")
PYTHON_NAMES = ("python", "python3")


def _fill(text: str, job_id: str, output_dir: str) -> str:
    return text.replace("{job_id}", job_id).replace("{output_dir}", output_dir)


def render_command(spec: JobSpec, job_id: str, output_dir: str) -> list[str]:
    """``command`` then ``--name value`` for each arg, with placeholders filled in."""
    words = list(spec.entrypoint.command)
    for name, value in spec.entrypoint.args.items():
        words += arg_words(name, value)
    return [_fill(word, job_id, output_dir) for word in words]


def render_env(spec: JobSpec, job_id: str, output_dir: str) -> dict[str, str]:
    """The spec's env with placeholders filled in; output is unbuffered unless set otherwise."""
    env = {"PYTHONUNBUFFERED": "1"}
    env.update({name: _fill(value, job_id, output_dir) for name, value in spec.env.items()})
    return env


def resolve_python(argv: list[str]) -> list[str]:
    """A leading ``python``/``python3`` means the interpreter running this code."""
    if argv and argv[0] in PYTHON_NAMES:
        return [sys.executable, *argv[1:]]
    return list(argv)
