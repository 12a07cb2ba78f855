"""The config reference, generated from the config classes: the schema is the documentation."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from car_ai_rl.schema.describe import expectation, optional_arm, unwrap
from car_ai_rl.schema.parse import shown


def _sections(tp: Any) -> tuple[type[BaseModel], str] | None:
    """(model, path suffix) when ``tp`` is a nested config section or a list of them."""
    tp, _ = unwrap(tp)
    tp = optional_arm(tp) or tp
    tp, _ = unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp, ""
    if typing.get_origin(tp) in (list, tuple):
        args = typing.get_args(tp)
        if args:
            item, _ = unwrap(args[0])
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item, "[]"
    return None


def _default(info: Any) -> str:
    if info.default_factory is not None:
        value = info.default_factory()
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, dict) and not value:
        return "`{}`"
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    return f"`{shown(value if not hasattr(value, '__fspath__') else str(value))}`"


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    return inspect.cleandoc(model.__dict__.get("__doc__") or "")


def _table(model: type[BaseModel], path: str) -> tuple[list[str], list[tuple[type, str]]]:
    lines = ["| key | value | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[type, str]] = []
    for name, info in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        section = _sections(info.annotation)
        if section is not None:
            sub, suffix = section
            nested.append((sub, key + suffix))
            wanted = "a list of mappings" if suffix else "a mapping"
        else:
            wanted = expectation(info.annotation, info.metadata)
        lines.append(
            f"| `{key}` | {_one_line(wanted)} | {_default(info)} | {_one_line(info.description)} |"
        )
    return lines, nested


def reference_markdown(model: type[BaseModel], title: str, level: int = 2) -> str:
    """Markdown: the model's docstring, a table of its keys, then one part per nested section."""
    out: list[str] = []
    queue: list[tuple[type[BaseModel], str, str]] = [(model, "", title)]
    seen: set[str] = set()
    while queue:
        current, path, heading = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        hashes = "#" * (level if not path else level + 1)
        out += [f"{hashes} {heading}", ""]
        doc = _doc(current)
        if doc:
            out += [doc, ""]
        lines, nested = _table(current, path)
        out += [*lines, ""]
        queue += [(sub, key, f"`{key}`") for sub, key in nested]
    return "\n".join(out)


def undocumented_fields(model: type[BaseModel], path: str = "") -> list[str]:
    """Paths of fields without a description, and of sections without a docstring."""
    missing = [] if _doc(model) else [path or model.__name__]
    for name, info in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        if not (info.description or "").strip():
            missing.append(key)
        section = _sections(info.annotation)
        if section is not None:
            missing += undocumented_fields(section[0], key + section[1])
    return list(dict.fromkeys(missing))
