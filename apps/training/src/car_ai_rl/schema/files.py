"""Reading YAML config files, with one-line errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from car_ai_rl.errors import UserError


def read_yaml(path: str | Path, *, flag: str | None = None) -> Any:
    """The YAML document in ``path`` (None for an empty file). A missing or unreadable file or
    bad YAML raises :class:`UserError` naming ``flag`` (e.g. ``--config``) and the file."""
    path = Path(path)
    source = f"{flag}: " if flag else ""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{source}file not found: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{source}{path} is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"{source}cannot read {path}: {reason}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: invalid YAML{where}: {problem}") from None
