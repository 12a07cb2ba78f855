"""The command parser: a table of phrases and what they mean, every rule's own examples,
normalization (numbers in words, units) and the replies to unknown or negated commands."""

from __future__ import annotations

import pytest

from car_ai_sim_app.parser import HELP, RULES, ParseError, normalize, parse

# phrase -> the command's fields (rule names are checked separately)
PHRASES: list[tuple[str, dict[str, object]]] = [
    # speeds
    ("cruise at 100 km/h", {"action": "set_speed", "speed_kmh": 100.0}),
    ("Cruise at 100 km/h.", {"action": "set_speed", "speed_kmh": 100.0}),
    ("cruise at one hundred kilometers per hour", {"action": "set_speed", "speed_kmh": 100.0}),
    ("set speed to 90", {"action": "set_speed", "speed_kmh": 90.0}),
    ("please drive at 110 kph", {"action": "set_speed", "speed_kmh": 110.0}),
    ("go 60 mph", {"action": "set_speed", "speed_kmh": pytest.approx(96.56064)}),
    ("hold 50 miles per hour", {"action": "set_speed", "speed_kmh": pytest.approx(80.4672)}),
    ("slow down to 80", {"action": "set_speed", "speed_kmh": 80.0}),
    ("slow down to eighty", {"action": "set_speed", "speed_kmh": 80.0}),
    ("speed up to 120 km/h", {"action": "set_speed", "speed_kmh": 120.0}),
    ("90", {"action": "set_speed", "speed_kmh": 90.0}),
    ("speed up", {"action": "change_speed", "delta_kmh": 10.0}),
    ("go faster", {"action": "change_speed", "delta_kmh": 10.0}),
    ("slow down", {"action": "change_speed", "delta_kmh": -10.0}),
    ("speed up by 20", {"action": "change_speed", "delta_kmh": 20.0}),
    ("slow down by 5 mph", {"action": "change_speed", "delta_kmh": pytest.approx(-8.04672)}),
    # lanes (lane 1 = leftmost)
    ("move left", {"action": "lane_relative", "direction": -1}),
    ("move right", {"action": "lane_relative", "direction": 1}),
    ("change lanes to the left", {"action": "lane_relative", "direction": -1}),
    ("merge right please", {"action": "lane_relative", "direction": 1}),
    ("move two lanes to the right", {"action": "lane_relative", "direction": 2}),
    ("change to lane 2", {"action": "lane", "lane_number": 2}),
    ("change to lane two", {"action": "lane", "lane_number": 2}),
    ("get into the third lane", {"action": "lane", "lane_number": 3}),
    ("second lane from the right", {"action": "lane", "lane_number": 2, "from_right": True}),
    ("get in the right lane", {"action": "lane_named", "lane_name": "right"}),
    ("get in the left lane", {"action": "lane_named", "lane_name": "left"}),
    ("move to the middle lane", {"action": "lane_named", "lane_name": "middle"}),
    ("take the fast lane", {"action": "lane_named", "lane_name": "left"}),
    ("slow lane", {"action": "lane_named", "lane_name": "right"}),
    # exits
    ("take the next exit", {"action": "exit"}),
    ("Take the next exit, please", {"action": "exit"}),
    ("exit", {"action": "exit"}),
    ("get off the highway", {"action": "exit"}),
    ("exit in 800 meters", {"action": "exit", "exit_distance_m": 800.0}),
    ("exit in 800 m", {"action": "exit", "exit_distance_m": 800.0}),
    ("take the exit in 1.5 km", {"action": "exit", "exit_distance_m": 1500.0}),
    ("exit in 1,200 metres", {"action": "exit", "exit_distance_m": 1200.0}),
    ("exit in half a mile", {"action": "exit", "exit_distance_m": pytest.approx(804.672)}),
    ("in 600 meters take the exit", {"action": "exit", "exit_distance_m": 600.0}),
    # cancel
    ("cancel", {"action": "cancel"}),
    ("Cancel that!", {"action": "cancel"}),
    ("never mind", {"action": "cancel"}),
]

UNKNOWN = ["stop", "hello there", "overtake", "change lanes", "what is the weather", "lane", ""]


@pytest.mark.parametrize(("text", "expected"), PHRASES, ids=[p[0] for p in PHRASES])
def test_phrase_table(text: str, expected: dict[str, object]) -> None:
    command = parse(text).to_dict()
    command.pop("rule")
    assert command == expected


@pytest.mark.parametrize(
    ("rule", "example"),
    [(rule.name, example) for rule in RULES for example in rule.examples],
)
def test_every_rule_matches_its_examples(rule: str, example: str) -> None:
    assert parse(example).rule == rule


@pytest.mark.parametrize("text", UNKNOWN)
def test_unknown_commands_get_a_clear_reply(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert "Try:" in str(info.value)


def test_negated_commands_are_not_acted_on() -> None:
    for text in ("don't take the exit", "do not move left", "never speed up"):
        with pytest.raises(ParseError, match="negated"):
            parse(text)


def test_help_lists_examples() -> None:
    with pytest.raises(ParseError) as info:
        parse("help")
    assert str(info.value) == HELP
    assert "lane 1 is the leftmost lane" in HELP.lower()


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Cruise at 100 km/h.", "cruise at 100 kmh"),
        ("one hundred and twenty", "120"),
        ("exit in 1,200 meters", "exit in 1200 m"),
        ("60 miles per hour", "60 mph"),
        ("please move to the second lane now", "move to the 2 lane"),
    ],
)
def test_normalize(text: str, normalized: str) -> None:
    assert normalize(text) == normalized
