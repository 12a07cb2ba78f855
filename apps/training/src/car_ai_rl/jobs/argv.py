"""Spec arguments as command-line words: ``steps: 3`` -> ``--steps 3``."""

from __future__ import annotations

from typing import Any


def arg_words(name: str, value: Any) -> list[str]:
    flag = f"--{name}"
    if value is None or value is False:
        return []
    if value is True:
        return [flag]
    if isinstance(value, list):
        return [flag, *(_scalar(item) for item in value)] if value else []
    return [flag, _scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
