"""The job spec: a pydantic model, loading from YAML, and errors that name the field's path."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from car_ai_rl.errors import ConfigError, UserError
from car_ai_rl.jobs.duration import parse_duration_s
from car_ai_rl.jobs.overrides import apply_overrides

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
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JOB_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntrypointSpec(_Strict):
    """The command to run and its ``--name value`` arguments."""

    command: list[str]
    args: dict[str, Any] = Field(default_factory=dict)

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
                raise ValueError(f"{name!r}: write argument names without dashes, e.g. n-envs")
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is not None and not isinstance(item, str | int | float | bool):
                    raise ValueError(f"{name}: must be a string, number, boolean or list of them")
        return args


class ResourcesSpec(_Strict):
    """What the job needs; the ray backend schedules on it, the local backend runs as is."""

    cpus: float = Field(1, ge=1)
    gpus: float = Field(0, ge=0)
    memory_mb: int | None = Field(None, ge=1)


class ClusterSpec(_Strict):
    """Where the job runs."""

    backend: str = "local"
    address: str | None = None
    working_dir: str = "."
    excludes: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        from car_ai_rl.jobs.backend import backend_names

        names = backend_names()
        if name not in names:
            raise ValueError(f"must be one of: {', '.join(names)} (got {name!r})")
        return name


class ArtifactsSpec(_Strict):
    """Which outputs to collect (globs relative to the output dir) and where the ray backend puts them."""

    paths: list[str] = Field(default_factory=lambda: list(DEFAULT_ARTIFACT_PATHS))
    storage: str | None = None

    @field_validator("paths")
    @classmethod
    def _relative_globs(cls, paths: list[str]) -> list[str]:
        for pattern in paths:
            if not pattern.strip():
                raise ValueError("patterns must not be empty")
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"{pattern!r}: patterns are relative to the output dir")
        return paths


class JobSpec(_Strict):
    """A whole job spec, as in ``fireworks/rft-ppo.yaml``."""

    name: str = "job"
    entrypoint: EntrypointSpec
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    max_duration: float | None = None
    stop_grace_period: float = 30.0
    env: dict[str, str] = Field(default_factory=dict)
    artifacts: ArtifactsSpec = Field(default_factory=ArtifactsSpec)

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
        return None if value is None else parse_duration_s(value)

    @field_validator("env", mode="before")
    @classmethod
    def _env_strings(cls, env: Any) -> Any:
        if not isinstance(env, dict):
            return env
        result: dict[str, str] = {}
        for name, value in env.items():
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                raise ValueError(f"{name!r}: not a valid environment variable name")
            if isinstance(value, bool):
                result[name] = "1" if value else "0"
            elif isinstance(value, str | int | float):
                result[name] = str(value)
            else:
                raise ValueError(f"{name}: must be a string, number or boolean")
        return result

    @property
    def max_duration_s(self) -> float | None:
        return self.max_duration

    @property
    def stop_grace_s(self) -> float:
        return self.stop_grace_period


class SpecError(ConfigError):
    """One or more invalid spec fields; each line reads ``path: problem``."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(*problems[0])
        self.problems = problems
        self.args = ("\n".join(f"{path}: {problem}" for path, problem in problems),)

    def __str__(self) -> str:
        return str(self.args[0])


_TYPE_MESSAGES = {
    "missing": "required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _problem(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']:g}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']:g}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return _TYPE_MESSAGES.get(kind, error["msg"])


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or "spec"
        problems.append((path, _problem(error)))
    return problems


def validate_spec(raw: Any) -> JobSpec:
    """Validate a raw mapping, including the chosen backend's own checks. Raises SpecError."""
    if not isinstance(raw, dict):
        raise SpecError(
            [("spec", "must be a mapping with entrypoint, cluster, max_duration, env, artifacts")]
        )
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_problems(exc)) from None
    from car_ai_rl.jobs.backend import backend_class

    problems = backend_class(spec.cluster.backend).check_spec(spec)
    if problems:
        raise SpecError(problems)
    return spec


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML spec file into a mapping; a missing file or bad YAML is a UserError."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"spec file not found: {path}") from None
    except OSError as exc:
        raise UserError(f"cannot read spec file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}: invalid YAML{where}: {problem}") from None
    if raw is None:
        raise UserError(f"{path}: the spec file is empty")
    return raw


def load_spec(path: str | Path, overrides: list[str] | None = None) -> JobSpec:
    """Read, override and validate a spec file."""
    raw = read_spec_file(path)
    if overrides:
        if not isinstance(raw, dict):
            raise SpecError([("spec", "must be a mapping")])
        raw = apply_overrides(raw, overrides)
    return validate_spec(raw)
