"""User-facing errors: a clear message and an exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence


class UserError(Exception):
    """A mistake in user input (config, file, flag). The CLI prints the message and exits."""

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError, ValueError):
    """One or more bad configuration values, each reported as ``full.path: problem``.

    ``field`` and ``problem`` are the first problem; ``problems`` lists all of them, and the
    message holds one line per problem.
    """

    def __init__(self, field: str, problem: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.field = field
        self.problem = problem
        self.problems: list[tuple[str, str]] = [(field, problem), *more]
        super().__init__("\n".join(f"{path}: {text}" for path, text in self.problems))

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> ConfigError:
        """One error holding every ``(path, problem)`` of ``problems`` (at least one)."""
        (field, problem), *more = problems
        return cls(field, problem, more=more)

    def under(self, prefix: str) -> ConfigError:
        """The same problems with every path placed under ``prefix`` (``env`` -> ``env.x``)."""
        return ConfigError.of([(join_path(prefix, path), text) for path, text in self.problems])


def join_path(prefix: str, path: str) -> str:
    """``env`` + ``n_lanes`` -> ``env.n_lanes``; ``suites`` + ``[1].x`` -> ``suites[1].x``."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"
