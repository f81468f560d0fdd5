"""A rule set is bounded: every call is matched against it."""

from __future__ import annotations

from typing import Any

import pytest

from taskcancel.worldfile import WorldFileError
from taskcancel.worldfile._rules import MAX_CALLS, MAX_RULES, MAX_TEXT, parse_rules


def _rule(**fields: Any) -> dict[str, Any]:
    return {"Name": "r", "When": {"First": 1}, "Error": "Throttling.User", **fields}


@pytest.mark.parametrize(
    ("rules", "field", "reason"),
    [
        ([_rule(When={"Calls": list(range(1, MAX_CALLS + 2))})], "Rules[0].When.Calls", "at most"),
        ([_rule(When={"Calls": [1, 1]})], "Rules[0].When.Calls", "each call number once"),
        ([_rule(Name="n" * (MAX_TEXT + 1))], "Rules[0].Name", "at most"),
        ([_rule(Match={"TaskId": "t" * (MAX_TEXT + 1)})], "Rules[0].Match.TaskId", "at most"),
        ([_rule(Name=f"r{i}") for i in range(MAX_RULES + 1)], "Rules", "at most"),
    ],
)
def test_oversized_rules_are_refused_naming_the_field(
    rules: list[dict[str, Any]], field: str, reason: str
) -> None:
    with pytest.raises(WorldFileError) as raised:
        parse_rules(rules, "body", "Rules")
    assert raised.value.field == field and reason in raised.value.reason
