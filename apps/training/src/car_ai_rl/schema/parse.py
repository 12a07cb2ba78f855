"""Validate plain data into a config class; every problem becomes ``full.path: problem``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from car_ai_rl.errors import ConfigError, join_path
from car_ai_rl.schema.describe import expectation, field_at
from car_ai_rl.schema.files import read_yaml

M = TypeVar("M", bound=BaseModel)

TOP_LEVEL = "(top level)"


def loc_path(loc: Sequence[int | str]) -> str:
    """``('suites', 1, 'episodes')`` -> ``suites[1].episodes``."""
    path = ""
    for part in loc:
        path = join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path


def shown(value: Any) -> str:
    """A value as the user wrote it in YAML, cut to a readable length."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | float | int):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, default=str)
        except ValueError:
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problems_of(
    exc: ValidationError, model: type[BaseModel], top: str = TOP_LEVEL
) -> list[tuple[str, str]]:
    """Each pydantic error as ``(full path, problem)``; ``top`` names the whole document."""
    problems: list[tuple[str, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = loc_path(loc)
        kind = error["type"]
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):  # raised by a validator: paths below this value
            problems.extend((join_path(path, p), text) for p, text in cause.problems)
            continue
        if kind == "missing":
            problem = "required"
        elif kind == "extra_forbidden":
            problem = "unknown key"
        elif kind in ("value_error", "assertion_error"):
            problem = str(cause) if cause is not None else error["msg"]
        else:
            declared = field_at(model, loc) if loc else (model, [])
            if declared is None:
                problem = (
                    f"{error['msg'][:1].lower()}{error['msg'][1:]}, got {shown(error['input'])}"
                )
            else:
                wanted = expectation(*declared)
                problem = f"must be {wanted}, got {shown(error['input'])}"
        problems.append((path or top, problem))
    return problems


def parse(model: type[M], data: Any, *, top: str = TOP_LEVEL, context: Any = None) -> M:
    """Validate ``data`` (what YAML gives) as ``model``; raise :class:`ConfigError` listing
    every problem. ``top`` names the whole document (a file name) in a top-level problem."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError.of(problems_of(exc, model, top)) from None


def load(
    model: type[M],
    path: str | Path,
    *,
    flag: str | None = None,
    empty_ok: bool = True,
    context: Any = None,
) -> M:
    """Read the YAML file ``path`` and validate it as ``model``. ``flag`` (``--config``) names
    the file's source in a file problem; an empty file is ``{}`` when ``empty_ok``."""
    data = read_yaml(path, flag=flag)
    if data is None and empty_ok:
        data = {}
    if not isinstance(data, dict):
        got = "nothing" if data is None else f"a {type(data).__name__}"
        raise ConfigError(str(path), f"must hold a mapping of settings, got {got}")
    return parse(model, data, top=str(path), context=context)
