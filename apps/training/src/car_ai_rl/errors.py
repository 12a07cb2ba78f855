"""User-facing errors: a clear message and an exit code, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in user input (config, file, flag). The CLI prints the message and exits."""

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConfigError(UserError, ValueError):
    """A bad configuration value. The message starts with the field's path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")
