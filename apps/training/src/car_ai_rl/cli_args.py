"""Command-line plumbing shared by every command: range-checked argument types and a parser
whose mistakes are reported in one line (``error: --port: must be ..., got 70000``)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import NoReturn

MAX_PORT = 65535


class UsageError(SystemExit):
    """A bad command line (unknown flag, missing or out-of-range value). Like argparse's own
    exit it is a ``SystemExit`` with code 2; it carries the one-line ``message`` instead of
    having printed the usage."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes are one line: it raises :class:`UsageError` instead of
    printing the usage, and ``car_ai_rl.cli.run`` prints ``error: <message>``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{_flag_first(message)} (see {self.prog} --help)")


def _flag_first(message: str) -> str:
    """``argument --port: bad`` -> ``--port: bad`` (argparse's wording, made terse)."""
    match = re.match(r"^argument ([^:]+): (.*)$", message, re.DOTALL)
    if match:
        names = match[1].split("/")
        longest = max(names, key=len)
        return f"{longest}: {match[2]}"
    return message


def int_in(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]`` (either bound may be open)."""
    span = _span(low, high)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer {span}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {span}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    span = _span(low, high, low_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        below = low is not None and (value <= low if low_open else value < low)
        if not math.isfinite(value) or below or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _span(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f"<= {_num(high)}"
    return ""


port_number = int_in(1, MAX_PORT)
