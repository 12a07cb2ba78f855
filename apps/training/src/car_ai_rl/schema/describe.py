"""What a field expects, in words: ``a positive number``, ``an integer in [1, 65535]``.

The same words go into error messages (``must be a positive number, got 'fast'``) and into the
generated reference, so the two can never disagree.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

_BOUNDS = ("gt", "ge", "lt", "le")


class Expects:
    """Field metadata that states in words what the field takes, where its type alone would
    mislead (``Annotated[float, Expects("a duration such as 90, 45s or 1h30m")]``)."""

    def __init__(self, words: str) -> None:
        self.words = words

    def __repr__(self) -> str:
        return f"Expects({self.words!r})"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1e6 else f"{value:g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def constraints(metadata: Iterable[Any]) -> dict[str, Any]:
    """Bounds and lengths from pydantic / annotated-types metadata."""
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(constraints(item.metadata))
            continue
        for name in (*_BOUNDS, "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None and isinstance(
                item, annotated_types.BaseMetadata | annotated_types.GroupedMetadata
            ):
                found[name] = value
    return found


def unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """(bare type, metadata) of a possibly ``Annotated`` type."""
    metadata: list[Any] = []
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        metadata.extend(extra)
    return tp, metadata


def _range(bounds: dict[str, Any]) -> str:
    low = ("gt", bounds["gt"]) if "gt" in bounds else ("ge", bounds.get("ge"))
    high = ("lt", bounds["lt"]) if "lt" in bounds else ("le", bounds.get("le"))
    if low[1] is not None and high[1] is not None:
        left = "(" if low[0] == "gt" else "["
        right = ")" if high[0] == "lt" else "]"
        return f"in {left}{_number(low[1])}, {_number(high[1])}{right}"
    if low[1] is not None:
        return f"{'>' if low[0] == 'gt' else '>='} {_number(low[1])}"
    if high[1] is not None:
        return f"{'<' if high[0] == 'lt' else '<='} {_number(high[1])}"
    return ""


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def optional_arm(tp: Any) -> Any | None:
    """``X`` for ``X | None``, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        arms = [arm for arm in typing.get_args(tp) if arm is not type(None)]
        if len(arms) == 1 and len(typing.get_args(tp)) == 2:
            return arms[0]
    return None


def expectation(tp: Any, metadata: Iterable[Any] = (), plural: bool = False) -> str:
    """What a value of type ``tp`` with ``metadata`` constraints must be, in words."""
    tp, inner = unwrap(tp)
    metadata = [*metadata, *inner]
    stated = [item.words for item in metadata if isinstance(item, Expects)]
    if stated:
        return stated[0]
    bounds = constraints(metadata)
    arm = optional_arm(tp)
    if arm is not None:
        return f"{expectation(arm, bounds_metadata(bounds), plural)} or null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        words = ", ".join(_literal(v) for v in typing.get_args(tp))
        return f"one of {words}"
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        item = expectation(args[0], plural=True) if args else "values"
        size = "a non-empty list" if bounds.get("min_length", 0) >= 1 else "a list"
        return f"{'lists' if plural else size} of {item}"
    if origin is dict or tp is dict or _is_model(tp):
        return "mappings" if plural else "a mapping"
    span = _range(bounds)
    if tp is bool:
        return "true or false"
    if tp is int:
        noun = "integers" if plural else "an integer"
    elif tp is float:
        if span == "> 0":
            return "positive numbers" if plural else "a positive number"
        noun = "numbers" if plural else "a number"
    elif tp is str:
        noun = "strings" if plural else "a string"
    elif tp is Path:
        noun = "paths" if plural else "a path"
    else:
        noun = "values" if plural else "a value"
    return f"{noun} {span}" if span else noun


def bounds_metadata(bounds: dict[str, Any]) -> list[Any]:
    """Turn a bounds mapping back into metadata :func:`constraints` reads."""
    kinds = {
        "gt": annotated_types.Gt,
        "ge": annotated_types.Ge,
        "lt": annotated_types.Lt,
        "le": annotated_types.Le,
        "min_length": annotated_types.MinLen,
        "max_length": annotated_types.MaxLen,
    }
    return [kinds[name](value) for name, value in bounds.items()]


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_at(model: type[BaseModel], loc: Sequence[int | str]) -> tuple[Any, list[Any]] | None:
    """(type, metadata) of the value at ``loc`` inside ``model``; None when not declared."""
    tp: Any = model
    metadata: list[Any] = []
    for part in loc:
        tp, inner = unwrap(tp)
        arm = optional_arm(tp)
        if arm is not None:
            tp, inner = unwrap(arm)
        origin = typing.get_origin(tp)
        if _is_model(tp):
            info = tp.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            tp, metadata = info.annotation, list(info.metadata)
        elif origin in (list, tuple, Sequence) and isinstance(part, int):
            tp, metadata = typing.get_args(tp)[0], []
        elif origin is dict:
            tp, metadata = typing.get_args(tp)[1], []
        else:
            return None
    return tp, metadata
