"""``--set a.b.c=value`` overrides applied to a raw spec mapping before validation."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from car_ai_rl.errors import UserError


class OverrideError(UserError):
    """A ``--set`` argument that cannot be applied."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-typed value (``200000`` is an int)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(f"--set {text}: expected KEY=VALUE, e.g. entrypoint.args.steps=200000")
    parts = key.split(".")
    if any(not part.strip() for part in parts):
        raise OverrideError(f"--set {text}: empty part in key {key!r}")
    return [part.strip() for part in parts], _parse_value(raw)


def _parse_value(raw: str) -> Any:
    if raw == "":
        return ""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``KEY=VALUE`` set; missing mappings are created."""
    result = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = result
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            elif isinstance(node, list):
                index = _list_index(text, where, part, len(node))
                if last:
                    node[index] = value
                else:
                    node = node[index]
            else:
                parent = ".".join(parts[:depth])
                raise OverrideError(
                    f"--set {text}: {parent} is a {type(node).__name__}, not a mapping"
                )
    return result


def _list_index(text: str, where: str, part: str, length: int) -> int:
    try:
        index = int(part)
    except ValueError:
        raise OverrideError(f"--set {text}: {where}: a list needs an index, got {part!r}") from None
    if not -length <= index < length:
        raise OverrideError(f"--set {text}: {where}: index out of range (list has {length} items)")
    return index
