"""The one typed config layer of car_ai_rl: declare, load, report and document settings.

- :class:`ConfigModel` is the base of every config class: frozen, strict (no ``'no'`` -> bool,
  no ``'1000'`` -> int), finite numbers only, unknown keys forbidden.
- :func:`parse` and :func:`load` validate plain data or a YAML file and raise one
  :class:`~car_ai_rl.errors.ConfigError` whose lines read ``full.path: problem, got X``.
- :func:`reference_markdown` turns a config class into its reference table.
"""

from car_ai_rl.schema.describe import Expects, expectation
from car_ai_rl.schema.files import read_yaml
from car_ai_rl.schema.model import (
    ConfigModel,
    Fraction,
    IntList,
    NonNegativeFloat,
    NonNegativeInt,
    PathText,
    PositiveFloat,
    PositiveInt,
    Seed,
)
from car_ai_rl.schema.parse import load, parse, problems_of
from car_ai_rl.schema.reference import reference_markdown, undocumented_fields

__all__ = [
    "ConfigModel",
    "Expects",
    "Fraction",
    "IntList",
    "NonNegativeFloat",
    "NonNegativeInt",
    "PathText",
    "PositiveFloat",
    "PositiveInt",
    "Seed",
    "expectation",
    "load",
    "parse",
    "problems_of",
    "read_yaml",
    "reference_markdown",
    "undocumented_fields",
]
