"""Fault rules in a world file's ``Faults.Rules``: each refusal names the rule and field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from taskcancel.worldfile import (
    FaultRule,
    Faults,
    WorldFileError,
    faults_to_json,
    parse_faults,
    parse_world,
    world_to_json,
)

GOOD = {"Name": "ok", "When": {"Every": 1}, "LatencyMs": 5}
CODES = frozenset({"Throttling.User", "ServiceUnavailable"})


def refusal(rule: Any) -> WorldFileError:
    with pytest.raises(WorldFileError) as info:
        parse_faults({"Rules": [GOOD, rule]}, "w.json", "Faults", error_codes=CODES)
    return info.value


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        (
            {"Name": "a", "When": {"First": 1}, "Error": "Throttling.User", "Bogus": 1},
            "Faults.Rules[1].Bogus",
            "unknown field",
        ),
        (
            {"Name": "a", "Match": {"Zone": "x"}, "When": {"First": 1}, "Error": "Throttling.User"},
            "Faults.Rules[1].Match.Zone",
            "unknown field",
        ),
        (
            {"Name": "a", "When": {"Sometimes": 1}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Sometimes",
            "unknown field",
        ),
        (
            {"Name": "a", "When": {"First": 1}, "Error": "Nope"},
            "Faults.Rules[1].Error",
            "valid: ServiceUnavailable, Throttling.User",
        ),
        (
            {"Name": "a", "When": {"First": 0}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.First",
            "positive integer",
        ),
        (
            {"Name": "a", "When": {"First": True}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.First",
            "positive integer",
        ),
        (
            {"Name": "a", "When": {"Every": 1.5}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Every",
            "positive integer",
        ),
        (
            {"Name": "a", "When": {"Calls": [1, -2]}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Calls",
            "positive integers",
        ),
        (
            {"Name": "a", "When": {"Calls": 3}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Calls",
            "list of positive integers",
        ),
        (
            {"Name": "a", "When": {"Probability": 1.01}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Probability",
            "[0, 1]",
        ),
        (
            {"Name": "a", "When": {"Probability": -0.1}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Probability",
            "[0, 1]",
        ),
        (
            {"Name": "a", "When": {"After": "2026-01-01T00:00:00"}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.After",
            "UTC time",
        ),
        (
            {"Name": "a", "When": {"First": 1}, "Fault": "stall", "StallSeconds": 31},
            "Faults.Rules[1].StallSeconds",
            "request deadline",
        ),
        (
            {"Name": "a", "When": {"First": 1}, "Fault": "stall", "StallSeconds": 0},
            "Faults.Rules[1].StallSeconds",
            "(0, 30]",
        ),
        (
            {"Name": "a", "When": {"First": 1, "Every": 2}, "Error": "Throttling.User"},
            "Faults.Rules[1].When.Every",
            "exactly one condition",
        ),
        (
            {"Name": "a", "When": {}, "Error": "Throttling.User"},
            "Faults.Rules[1].When",
            "exactly one",
        ),
        ({"Name": "a", "When": {"First": 1}}, "Faults.Rules[1].Error", "needs an outcome"),
        (
            {"Name": "a", "When": {"First": 1}, "Error": "Throttling.User", "Fault": "reset"},
            "Faults.Rules[1].Fault",
            "not both",
        ),
        (
            {"Name": "a", "When": {"First": 1}, "Fault": "explode"},
            "Faults.Rules[1].Fault",
            "reset, reset-after, stall, truncate",
        ),
        ({"When": {"First": 1}, "Fault": "reset"}, "Faults.Rules[1].Name", "required"),
        (
            {"Name": "ok", "When": {"First": 1}, "Fault": "reset"},
            "Faults.Rules[1].Name",
            "duplicate",
        ),
        ("rule", "Faults.Rules[1]", "must be an object"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_index_and_field(
    rule: Any, field: str, words: str
) -> None:
    error = refusal(rule)
    assert error.field == field
    assert words in error.reason
    assert str(error).startswith(f"w.json: {field}: ")


def test_a_world_file_with_a_bad_rule_names_the_file_and_rule() -> None:
    world = {"Faults": {"Rules": [{"Name": "x", "When": {"First": -1}, "Error": "InternalError"}]}}
    with pytest.raises(WorldFileError, match=r"^my\.json: Faults\.Rules\[0\]\.When\.First: "):
        parse_world(world, source="my.json")


def test_rules_round_trip_through_the_world_file() -> None:
    rules = [
        {
            "Name": "a",
            "Match": {"Action": "CancelTask", "TaskId": "t-1"},
            "When": {"First": 2},
            "Error": "Throttling.User",
        },
        {"Name": "b", "When": {"Every": 3}, "Fault": "reset-after"},
        {"Name": "c", "When": {"Calls": [1, 4]}, "Fault": "stall", "StallSeconds": 2.5},
        {"Name": "d", "When": {"After": "2026-01-01T00:00:00Z"}, "LatencyMs": 250},
        {
            "Name": "e",
            "Match": {"RegionId": "cn-hangzhou", "AccessKeyId": "testid"},
            "When": {"Probability": 0.25},
            "Fault": "truncate",
            "LatencyMs": 10,
        },
    ]
    faults = parse_faults({"Rules": rules}, "w", "Faults")
    assert faults_to_json(faults)["Rules"] == rules
    assert parse_faults(faults_to_json(faults), "w", "Faults") == faults
    spec = parse_world({"Faults": {"Rules": rules}})
    assert parse_world(world_to_json(spec)) == spec


def test_faults_without_rules_are_written_as_before() -> None:
    assert "Rules" not in faults_to_json(Faults(throttle_rate=0.5))


def test_a_rule_built_in_python_is_checked_as_the_json_is() -> None:
    rule = FaultRule(name="t", action="CancelTask", first=2, error="Throttling.User")
    assert rule.when == "First"
    with pytest.raises(ValueError, match=r"^When\.Probability: must be a number in \[0, 1\]"):
        FaultRule(name="t", probability=2, error="InternalError")
    with pytest.raises(ValueError, match=r"^When\.After: must be a UTC time"):
        FaultRule(name="t", after=datetime(2026, 1, 1), error="InternalError")
    assert FaultRule(name="t", after=datetime(2026, 1, 1, tzinfo=UTC), fault="reset").when == (
        "After"
    )
