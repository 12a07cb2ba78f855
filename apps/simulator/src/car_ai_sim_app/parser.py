"""Plain-English driving commands -> :class:`Command`, from a table of phrase rules.

The text is normalized first (lower case, number words to digits, units to short tokens,
fillers such as "please" dropped); then the rules of :data:`RULES` are tried in order and
the first whose pattern matches builds the command. No network, no model.

Lanes are numbered for people from the left: "lane 1" is the leftmost lane (the simulator's
lane 0). "The left lane" is the leftmost lane, "the right lane" the rightmost one; "move left"
and "move right" change by one lane.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

MPH_TO_KMH = 1.609344
MILE_M = 1609.344
FOOT_M = 0.3048
SPEED_STEP_KMH = 10.0

ACTIONS = ("set_speed", "change_speed", "lane", "lane_named", "lane_relative", "exit", "cancel")


@dataclass(frozen=True)
class Command:
    """A parsed command. Speeds are km/h, distances metres; ``lane_number`` counts from 1 at
    the left (at the right with ``from_right``); ``direction`` is a signed lane count,
    negative to the left."""

    action: str
    rule: str
    speed_kmh: float | None = None
    delta_kmh: float | None = None
    lane_number: int | None = None
    lane_name: str | None = None  # "left", "right" or "middle"
    from_right: bool | None = None  # lane_number counts from the right
    direction: int | None = None
    exit_distance_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class ParseError(ValueError):
    """The text is not a command this parser knows; the message is the reply to show."""


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    build: Callable[[re.Match[str]], Command]
    examples: tuple[str, ...]


# ---------------------------------------------------------------------- normalization
_UNITS: tuple[tuple[str, str], ...] = (
    (r"\bkilomet(?:er|re)s?\s*(?:per|an|a)\s*hour\b", " kmh "),
    (r"\bkm\s*/\s*h\b|\bkm\s*per\s*hour\b|\bkmh\b|\bkph\b|\bk\s*m\s*h\b|\bkmph\b", " kmh "),
    (r"\bmiles?\s*(?:per|an|a)\s*hour\b|\bm\s*/\s*h\b|\bmph\b", " mph "),
    (r"\bkilomet(?:er|re)s?\b|\bkms?\b", " km "),
    (r"\bmet(?:er|re)s?\b|\bm\b", " m "),
    (r"\bmiles?\b|\bmi\b", " mi "),
    (r"\bfeet\b|\bfoot\b|\bft\b", " ft "),
)
_FILLERS = re.compile(
    r"\b(?:please|pls|hey|ok|okay|car|could you|can you|would you|i want to|i'd like to|"
    r"i would like to|let's|lets|now|then|kindly|just)\b"
)
_SMALL = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ORDINALS = {
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "1st": "1",
    "2nd": "2",
    "3rd": "3",
    "4th": "4",
    "5th": "5",
}
_NUMBER_WORD = "|".join([*_SMALL, *_TENS, "hundred", "thousand", "and", "a", "half"])
_NUMBER_RUN = re.compile(rf"\b(?:(?:{_NUMBER_WORD})\b[\s-]*)+")


def _words_to_number(words: list[str]) -> float | None:
    """'one hundred and twenty' -> 120; 'half' -> 0.5; None when not a number phrase."""
    total, current, seen = 0.0, 0.0, False
    for word in words:
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1.0) * 100
        elif word == "thousand":
            total += max(current, 1.0) * 1000
            current = 0.0
        elif word == "half":
            current += 0.5
        elif word in ("and", "a"):
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


def _replace_number_words(text: str) -> str:
    def convert(match: re.Match[str]) -> str:
        words = [w for w in re.split(r"[\s-]+", match.group(0)) if w]
        if all(w in ("and", "a") for w in words):
            return match.group(0)
        value = _words_to_number(words)
        if value is None:
            return match.group(0)
        lead = "a " if words[0] == "a" and words[1:2] != ["half"] else ""
        return f" {lead}{value:g} "

    return _NUMBER_RUN.sub(convert, text)


def normalize(text: str) -> str:
    """Lower case, digits for number words, short unit tokens, no fillers or punctuation."""
    out = text.lower().replace("’", "'")
    out = re.sub(r"(\d),(\d{3})\b", r"\1\2", out)  # 1,200 -> 1200
    out = re.sub(r"(\d)\s*(km/h|kmh|kph|mph|km|m|mi|ft)\b", r"\1 \2", out)
    out = re.sub(r"[^a-z0-9.'/\s-]", " ", out)
    out = re.sub(r"\.(?!\d)", " ", out)
    for word, digit in _ORDINALS.items():
        out = re.sub(rf"\b{word}\b", digit, out)
    out = _replace_number_words(out)
    for pattern, token in _UNITS:
        out = re.sub(pattern, token, out)
    out = _FILLERS.sub(" ", out)
    out = re.sub(r"(?<!\d)-|-(?!\d)", " ", out)
    return re.sub(r"\s+", " ", out).strip()


# ----------------------------------------------------------------------------- rules
NUM = r"(?P<num>\d+(?:\.\d+)?)"
SPEED_UNIT = r"(?:\s*(?P<unit>kmh|mph))?"
DIST = r"(?P<dist>\d+(?:\.\d+)?|a half|half a|a)\s*(?P<dunit>m|km|mi|ft)"
EXIT_WORD = r"(?:exit|get off|leave|take (?:the |an )?(?:exit|off ?ramp|ramp))"
VERB_GO = r"(?:move|go|get|change|switch|merge|pull|shift|steer|head|drive|get back|move back)"
SIDES = r"(?P<side>far left|far right|leftmost|rightmost|left|right|middle|center|centre|fast|slow|passing|overtaking)"
FASTER = r"speed up|accelerate|go faster|faster|increase (?:the )?speed|hurry up"
SLOWER = r"slow down|decelerate|go slower|slower|reduce (?:the )?speed|decrease (?:the )?speed|ease off|brake"
LANE_NAMES = {
    "left": "left",
    "leftmost": "left",
    "far left": "left",
    "fast": "left",
    "passing": "left",
    "overtaking": "left",
    "right": "right",
    "rightmost": "right",
    "far right": "right",
    "slow": "right",
    "middle": "middle",
    "center": "middle",
    "centre": "middle",
}


def _speed_kmh(value: str, unit: str | None) -> float:
    return float(value) * (MPH_TO_KMH if unit == "mph" else 1.0)


def _distance_m(match: re.Match[str]) -> float:
    raw, unit = match.group("dist"), match.group("dunit")
    value = 0.5 if raw in ("a half", "half a") else 1.0 if raw == "a" else float(raw)
    return value * {"m": 1.0, "km": 1000.0, "mi": MILE_M, "ft": FOOT_M}[unit]


def _sign(side: str) -> int:
    return -1 if side == "left" else 1


def _change(name: str, sign: int) -> Callable[[re.Match[str]], Command]:
    def build(m: re.Match[str]) -> Command:
        num = m.groupdict().get("num")
        delta = _speed_kmh(num, m.groupdict().get("unit")) if num else SPEED_STEP_KMH
        return Command("change_speed", name, delta_kmh=sign * delta)

    return build


def _rule(
    name: str, pattern: str, build: Callable[[re.Match[str]], Command], *examples: str
) -> Rule:
    return Rule(name, re.compile(pattern), build, examples)


RULES: tuple[Rule, ...] = (
    _rule(
        "cancel",
        r"^(?:cancel|abort)(?: (?:that|it|the|this|mission|command|maneuver|manoeuvre|order))*$"
        r"|^never ?mind$|^forget (?:it|that)$",
        lambda m: Command("cancel", "cancel"),
        "cancel",
        "cancel that",
        "never mind",
        "abort the mission",
        "forget it",
    ),
    _rule(
        "exit_in_distance",
        rf"\b{EXIT_WORD}\b.*?\b(?:in |after )?{DIST}\b",
        lambda m: Command("exit", "exit_in_distance", exit_distance_m=_distance_m(m)),
        "exit in 800 meters",
        "take the exit in 1.2 km",
        "exit in half a mile",
        "exit 600 m ahead",
    ),
    _rule(
        "distance_then_exit",
        rf"\b(?:in|after) {DIST}\b.*?\b{EXIT_WORD}\b",
        lambda m: Command("exit", "distance_then_exit", exit_distance_m=_distance_m(m)),
        "in 500 m take the exit",
        "after 2 km exit",
    ),
    _rule(
        "exit_next",
        r"\b(?:take|use|get off at|leave at|go for|make) (?:the |this |that |an )?"
        r"(?:next |upcoming |coming |first )?(?:exit|off ?ramp|ramp|turn ?off)\b"
        r"|\b(?:exit|get off|leave) (?:the |this )?(?:highway|motorway|freeway)\b"
        r"|^exit(?: here| next| at the next one)?$|\bnext exit\b",
        lambda m: Command("exit", "exit_next"),
        "take the next exit",
        "take the exit",
        "exit",
        "get off the highway",
        "next exit please",
    ),
    _rule(
        "lane_from_side",
        r"\b(?P<num>\d+) lane from the (?P<side>left|right)\b",
        lambda m: Command(
            "lane",
            "lane_from_side",
            lane_number=int(m.group("num")),
            from_right=True if m.group("side") == "right" else None,
        ),
        "get in the 2nd lane from the right",
        "second lane from the left",
    ),
    _rule(
        "lanes_over",
        r"\b(?P<num>\d+) lanes? (?:over )?(?:to the |towards the )?(?P<side>left|right)\b",
        lambda m: Command(
            "lane_relative", "lanes_over", direction=_sign(m.group("side")) * int(m.group("num"))
        ),
        "go one lane right",
        "move two lanes to the left",
    ),
    _rule(
        "lane_number",
        r"\blane (?:number )?(?P<num>\d+)\b|\b(?P<num2>\d+) lane\b",
        lambda m: Command(
            "lane", "lane_number", lane_number=int(m.group("num") or m.group("num2"))
        ),
        "change to lane 2",
        "move to lane 1",
        "lane three",
        "get into the second lane",
        "go to lane number 3",
    ),
    _rule(
        "lane_named",
        rf"\b(?:the )?{SIDES} ?lane\b",
        lambda m: Command("lane_named", "lane_named", lane_name=LANE_NAMES[m.group("side")]),
        "get in the right lane",
        "move to the left lane",
        "take the middle lane",
        "fast lane",
        "go to the rightmost lane",
    ),
    _rule(
        "lane_relative",
        rf"\b{VERB_GO}(?: (?:a |1 )?lanes?)?(?: over)?(?: (?:to|towards|into) the| to)? "
        r"(?P<side>left|right)\b|\blane change (?P<side2>left|right)\b|^(?P<side3>left|right)$",
        lambda m: Command(
            "lane_relative",
            "lane_relative",
            direction=_sign(m.group("side") or m.group("side2") or m.group("side3")),
        ),
        "move left",
        "change lanes to the right",
        "move over to the left",
        "merge right",
        "left",
    ),
    _rule(
        "speed_to",
        rf"\b(?:{FASTER}|{SLOWER}) (?:to|until) {NUM}{SPEED_UNIT}\b",
        lambda m: Command("set_speed", "speed_to", speed_kmh=_speed_kmh(m["num"], m["unit"])),
        "slow down to 80",
        "speed up to 120 kmh",
        "accelerate to 70 mph",
        "reduce speed to ninety",
    ),
    _rule(
        "faster_by",
        rf"\b(?:{FASTER}) by {NUM}{SPEED_UNIT}\b",
        _change("faster_by", 1),
        "speed up by 20",
        "go faster by 5 mph",
    ),
    _rule(
        "slower_by",
        rf"\b(?:{SLOWER}) by {NUM}{SPEED_UNIT}\b",
        _change("slower_by", -1),
        "slow down by 10 kmh",
        "reduce speed by fifteen",
    ),
    _rule(
        "set_speed",
        r"\b(?:cruise|drive|go|travel|set (?:the )?(?:cruise |target )?speed|speed|hold|keep|"
        r"maintain|target)\b(?: (?:at|to|of|speed|it|a speed of|the speed at))* "
        rf"{NUM}{SPEED_UNIT}\b",
        lambda m: Command("set_speed", "set_speed", speed_kmh=_speed_kmh(m["num"], m["unit"])),
        "cruise at 100 km/h",
        "set speed to 90",
        "go 60 mph",
        "drive at eighty",
        "keep it at 100 kilometres per hour",
    ),
    _rule(
        "bare_speed",
        rf"^{NUM}{SPEED_UNIT}$|\b{NUM.replace('num', 'n2')} (?P<u2>kmh|mph)\b",
        lambda m: Command(
            "set_speed",
            "bare_speed",
            speed_kmh=_speed_kmh(m["num"] or m["n2"], m["unit"] or m["u2"]),
        ),
        "110 kph",
        "90",
        "at 65 miles per hour",
    ),
    _rule(
        "speed_up",
        rf"\b(?:{FASTER})\b",
        _change("speed_up", 1),
        "speed up",
        "go faster",
        "faster please",
    ),
    _rule(
        "slow_down",
        rf"\b(?:{SLOWER})\b",
        _change("slow_down", -1),
        "slow down",
        "go slower",
        "brake a bit",
    ),
)

EXAMPLES = (
    "cruise at 100 km/h",
    "speed up",
    "slow down to 80",
    "move left",
    "change to lane 2",
    "get in the right lane",
    "take the next exit",
    "exit in 800 meters",
    "cancel",
)
HELP = "Try: " + ", ".join(f'"{e}"' for e in EXAMPLES) + ". Lane 1 is the leftmost lane."
_NEGATION = re.compile(r"\b(?:don't|dont|do not|never(?! ?mind)|no longer|not)\b")


def parse(text: str) -> Command:
    """The command in ``text``, or :class:`ParseError` with a reply explaining why not."""
    cleaned = normalize(text)
    if not cleaned:
        raise ParseError(f"I heard nothing to do. {HELP}")
    if cleaned in ("help", "what can i say", "commands"):
        raise ParseError(HELP)
    if _NEGATION.search(cleaned):
        raise ParseError(
            f'I don\'t act on negated commands ("{text.strip()}"). Say "cancel" to drop the current mission.'
        )
    for rule in RULES:
        match = rule.pattern.search(cleaned)
        if match:
            return rule.build(match)
    raise ParseError(f'Sorry, I did not understand "{text.strip()}". {HELP}')
