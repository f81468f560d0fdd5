"""World files built to break the loader, for both tiers: each a text, the field its
error names and words of the reason."""

from __future__ import annotations

__all__ = ["HOSTILE", "TASK", "deep"]

TASK = (
    '{"TaskId": %s, "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",'
    ' "TaskStatus": "Processing"}'
)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


#: name -> (world file text, the field named, words of the reason)
HOSTILE: dict[str, tuple[str, str, str]] = {
    "100k-levels": (deep(100_000), "(file)", "nested too deeply"),
    "deep-in-a-field": (
        '{"Tasks": [' + TASK % deep(40) + "]}",
        "Tasks[0].TaskId" + "[0]" * 13,
        "nested too deeply",
    ),
    "surrogate-task-id": (
        '{"Tasks": [' + TASK % '"t-\\ud800"' + "]}",
        "Tasks[0].TaskId",
        "lone surrogate",
    ),
    "surrogate-secret": (
        '{"Accounts": [{"AccessKeyId": "k", "AccessKeySecret": "s\\udfff"}]}',
        "Accounts[0].AccessKeySecret",
        "lone surrogate",
    ),
    "surrogate-key": ('{"Faults": {"x\\ud800": 1}}', "Faults.x\\ud800", "lone surrogate"),
    "5000-digits": (
        '{"Faults": {"RetryAfterMs": ' + "9" * 5000 + "}}",
        "Faults.RetryAfterMs",
        "a 5000-digit number: too long",
    ),
    "5000-digits-as-id": (
        '{"Tasks": [' + TASK % ("-" + "1" * 5000) + "]}",
        "Tasks[0].TaskId",
        "5000-digit number",
    ),
    "newline-in-a-key": (
        '{"Tasks": [], "Faults": {"a\\nlistening on http://127.0.0.1:1": 1}}',
        "Faults.a\\nlistening on http://127.0.0.1:1",
        "unknown field",
    ),
}
