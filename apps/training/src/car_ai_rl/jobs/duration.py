"""Durations written as ``90``, ``45s``, ``15m``, ``6h``, ``1h30m`` or ``2d``."""

from __future__ import annotations

import re

_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_FULL = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[dhms])+\s*$")


def parse_duration_s(value: object) -> float:
    """Return ``value`` in seconds; a bare number is already seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 90, 45s, 15m, 6h or 1h30m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif _FULL.match(text):
            seconds = sum(float(n) * _UNIT_S[unit] for n, unit in _PART.findall(text))
        else:
            raise ValueError(
                f"cannot read {value!r} as a duration (examples: 90, 45s, 15m, 6h, 1h30m)"
            )
    else:
        raise ValueError("must be a duration such as 90, 45s, 15m, 6h or 1h30m")
    if seconds <= 0:
        raise ValueError("must be > 0")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds as ``1h30m`` / ``45s`` for messages."""
    total = round(seconds)
    if total < 60:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
