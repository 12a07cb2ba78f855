"""The base config class and the constrained types config fields are declared with."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class ConfigModel(BaseModel):
    """A frozen, strictly typed settings class; the docstring under each field documents it.

    Strict means YAML's own types must already be right: ``'no'`` is not a bool, ``'1000'`` is
    not an int and ``1.0`` is not an int (an int is a fine float). NaN and infinities are
    refused, and so are unknown keys.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples; paths as text), as YAML or JSON would hold it."""
        return self.model_dump(mode="json")


def _list_to_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _text_to_path(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("must be a path, got an empty string")
        return Path(value)
    return value


PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""A seed numpy's legacy seeding (and so SB3) accepts."""
IntList = Annotated[tuple[PositiveInt, ...], BeforeValidator(_list_to_tuple)]
"""A YAML list of positive integers, held as a tuple."""
PathText = Annotated[Path, BeforeValidator(_text_to_path)]
"""A path written as text."""
