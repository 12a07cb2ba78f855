"""The job spec (``fireworks/*.yaml``), declared on the config layer.

Every problem is reported as ``full.path: problem``, all at once; the chosen backend adds its
own checks, and an entrypoint that runs one of our commands has its arguments checked by that
command's own parser (``entrypoint.args.steps: must be an integer in [1, ...], got -5``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.jobs.duration import parse_duration_s
from car_ai_rl.jobs.entrypoints import entrypoint_problems
from car_ai_rl.jobs.overrides import apply_overrides
from car_ai_rl.jobs.registry import backend_class, backend_names
from car_ai_rl.schema import ConfigModel, Expects, parse, read_yaml

DEFAULT_ARTIFACT_PATHS = [
    "checkpoints/*.zip",
    "ppo-highway-final.zip",
    "run.json",
    "config.yaml",
    "tb/**",
]
DEFAULT_EXCLUDES = [
    ".venv",
    ".git",
    "**/__pycache__",
    "jobs-data",
    "job-outputs",
    "runs",
    "*.onnx",
]
DURATION = "a duration: seconds, or text such as 45s, 15m, 6h, 1h30m, 2d"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class EntrypointSpec(ConfigModel):
    """The command to run and its `--name value` arguments. Placeholders `{output_dir}` and
    `{job_id}` are filled in `command`, `args` and `env` values."""

    command: Annotated[list[str], Expects("a command line, as text or a list of words")]
    """The program to run, e.g. `python scripts/train_ppo.py`; a string is split like a shell
    would (no shell features). A leading `python`/`python3` is the Python that runs the job.
    Arguments of our own commands (`scripts/train_*.py`, `scripts/export_onnx.py`,
    `car-ai-rl ...`) are checked by those commands' parsers before the job starts."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Appended in order as `--name value`: `true` is a bare `--name`, `false`/`null` leave it
    out, a list gives `--name a b`. Names are written without dashes."""

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split into words: {exc}") from None
        if isinstance(value, list):
            if not value:
                raise ValueError("must not be empty")
            if not all(isinstance(word, str | int | float) for word in value):
                raise ValueError("must be a string or a list of strings")
            return [str(word) for word in value]
        raise ValueError("must be a string or a list of strings")

    @field_validator("args")
    @classmethod
    def _check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        for name, value in args.items():
            if not name or name.startswith("-") or " " in name:
                raise ConfigError(name, "write argument names without dashes, e.g. n-envs")
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is not None and not isinstance(item, str | int | float | bool):
                    raise ConfigError(name, "must be a string, number, boolean or list of them")
        return args


class ResourcesSpec(ConfigModel):
    """What the job needs; the ray backend schedules on it, the local backend runs as is."""

    cpus: float = Field(1, ge=1)
    """ray: CPUs reserved for the entrypoint. Local: informative only."""
    gpus: float = Field(0, ge=0)
    """ray: GPUs reserved. Local: informative only."""
    memory_mb: int | None = Field(None, ge=1)
    """ray: memory reserved for the entrypoint (MB)."""


class ClusterSpec(ConfigModel):
    """Where the job runs."""

    backend: str = "local"
    """`local` (a detached process on this machine), `ray`, or an installed backend."""
    address: str | None = None
    """ray: the Ray dashboard URL (default `$RAY_ADDRESS`, then `http://127.0.0.1:8265`)."""
    working_dir: str = "."
    """The job's working directory, relative to where you run `car-ai-rl`; ray uploads it."""
    excludes: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    """ray: globs left out of the uploaded working dir."""
    resources: ResourcesSpec = ResourcesSpec()
    """Resources the job needs."""

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        names = backend_names()
        if name not in names:
            raise ValueError(f"must be one of: {', '.join(names)} (got {name!r})")
        return name


class ArtifactsSpec(ConfigModel):
    """Which outputs to collect and where the ray backend puts them."""

    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_ARTIFACT_PATHS))
    """Globs relative to the output dir (`**` takes a whole tree)."""
    storage: str | None = None
    """ray (required there): a directory (local path or `file://` URI) the job copies its
    artifacts to, and this machine reads them back from."""

    @field_validator("paths")
    @classmethod
    def _relative_globs(cls, paths: list[str]) -> list[str]:
        for pattern in paths:
            if not pattern.strip():
                raise ValueError("patterns must not be empty")
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"{pattern!r}: patterns are relative to the output dir")
        return paths


def _duration(value: Any) -> Any:
    return None if value is None else parse_duration_s(value)


class JobSpec(ConfigModel):
    """A job spec (`car-ai-rl jobs create --spec FILE`, see `fireworks/rft-ppo.yaml`)."""

    name: Annotated[str, Expects("1-40 lowercase letters, digits and dashes")] = "job"
    """Prefix of the job id: 1-40 lowercase letters, digits and dashes."""
    entrypoint: EntrypointSpec
    """What to run."""
    cluster: ClusterSpec = ClusterSpec()
    """Where to run it."""
    max_duration: Annotated[float | None, Expects(DURATION)] = None
    """Stop the job (marked `timed_out`) after this long: `90` (seconds), `45s`, `15m`, `6h`,
    `1h30m`, `2d`; `null` for no limit."""
    stop_grace_period: Annotated[float, Expects(DURATION)] = 30.0
    """When stopping: SIGINT, this long to checkpoint, then SIGTERM (same duration forms)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables of the entrypoint (numbers become text, booleans `1`/`0`)."""
    artifacts: ArtifactsSpec = ArtifactsSpec()
    """What to collect."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _JOB_NAME.match(name):
            raise ValueError(
                "use 1-40 lowercase letters, digits and dashes, starting with a letter or digit"
            )
        return name

    @field_validator("max_duration", "stop_grace_period", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, env: Any) -> Any:
        if not isinstance(env, dict):
            return env
        result: dict[str, str] = {}
        for name, value in env.items():
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                raise ConfigError(str(name), "not a valid environment variable name")
            if isinstance(value, bool):
                result[name] = "1" if value else "0"
            elif isinstance(value, str | int | float):
                result[name] = str(value)
            else:
                raise ConfigError(name, "must be a string, number or boolean")
        return result

    @property
    def max_duration_s(self) -> float | None:
        return self.max_duration

    @property
    def stop_grace_s(self) -> float:
        return self.stop_grace_period


def validate_spec(raw: Any) -> JobSpec:
    """Validate a raw mapping, with the chosen backend's own checks and the entrypoint's
    arguments. Raises ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(
            "spec", "must be a mapping with entrypoint, cluster, max_duration, env, artifacts"
        )
    spec = parse(JobSpec, raw, top="spec")
    problems = backend_class(spec.cluster.backend).check_spec(spec)
    problems += entrypoint_problems(spec.entrypoint.command, spec.entrypoint.args)
    if problems:
        raise ConfigError.of(problems)
    return spec


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML spec file into a mapping; a missing file or bad YAML is a UserError."""
    raw = read_yaml(path, flag="--spec")
    if raw is None:
        raise UserError(f"--spec: {path}: the spec file is empty")
    return raw


def load_spec(path: str | Path, overrides: list[str] | None = None) -> JobSpec:
    """Read, override and validate a spec file."""
    raw = read_spec_file(path)
    if overrides:
        if not isinstance(raw, dict):
            raise ConfigError("spec", "must be a mapping")
        raw = apply_overrides(raw, overrides)
    return validate_spec(raw)
