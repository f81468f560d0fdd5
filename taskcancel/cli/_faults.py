"""``taskcancel faults``: the faults in force on a running emulator, each rule with its counts.

``GET {endpoint}/_taskcancel/faults``, printed as a summary line (``ThrottleRate``,
``RetryAfterMs``, ``LatencyMs``) and a table of rules with ``Matched`` and ``Fired``, or
with ``--json`` as received. Sends ``Authorization: Bearer $TASKCANCEL_CONTROL_TOKEN``
when that variable is set. Exit statuses are those of ``state``: 0 shown, 1 the server
answered with an error, 2 bad usage, 3 no (readable) answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from ._client import emit, fail, one_line, timeout_option
from ._control import DEFAULT_CONTROL_ENDPOINT, TOKEN_VARIABLE, control_target
from ._exit import EXIT_OK, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE

__all__ = ["COMMAND", "add_parser", "rule_table", "run"]

#: The verb this module runs.
COMMAND = "faults"

_HEADINGS = ("NAME", "MATCH", "WHEN", "OUTCOME", "MATCHED", "FIRED")


def add_parser(commands: Any) -> None:
    """Add ``faults`` to the subcommands ``commands``."""
    sub = commands.add_parser(
        COMMAND, help="show the faults in force: each fault rule with Matched and Fired"
    )
    sub.add_argument(
        "--endpoint",
        default=os.environ.get("TASKCANCEL_ENDPOINT", DEFAULT_CONTROL_ENDPOINT),
        metavar="URL",
        help="the emulator's URL (default: $TASKCANCEL_ENDPOINT, else "
        f"{DEFAULT_CONTROL_ENDPOINT}); ${TOKEN_VARIABLE}, when set, is sent as the "
        "bearer token",
    )
    sub.add_argument("--json", action="store_true", help="print the answer as received")
    timeout_option(sub)


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_text(v)}" for k, v in value.items()) or "*"
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return one_line(str(value))


def _outcome(rule: Mapping[str, Any]) -> str:
    parts = []
    if "Error" in rule:
        parts.append(f"Error={_text(rule['Error'])}")
    if "Fault" in rule:
        fault = _text(rule["Fault"])
        if "StallSeconds" in rule:
            fault += f"({_text(rule['StallSeconds'])}s)"
        parts.append(f"Fault={fault}")
    if "LatencyMs" in rule:
        parts.append(f"LatencyMs={_text(rule['LatencyMs'])}")
    return " ".join(parts) or "-"


def rule_table(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lines of the rules' table, in the order the rules are tried."""
    rows = [list(_HEADINGS)]
    for rule in rules:
        rows.append(
            [
                _text(rule.get("Name", "-")),
                _text(rule.get("Match", {})),
                _text(rule.get("When", {})),
                _outcome(rule),
                _text(rule.get("Matched", "-")),
                _text(rule.get("Fired", "-")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADINGS))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def run(args: argparse.Namespace) -> int:
    import httpx

    target = control_target(args.endpoint, "faults")
    if isinstance(target, int):
        return target
    url, headers = target
    try:
        with httpx.Client(timeout=args.timeout, trust_env=False) as client:
            response = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return fail(f"no answer from {url}: {str(exc) or type(exc).__name__}", EXIT_TRANSPORT)
    except httpx.InvalidURL as exc:
        return fail(f"--endpoint {args.endpoint!r} is not a usable URL: {exc}", EXIT_USAGE)
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if not 200 <= response.status_code < 300:
        if isinstance(answer, Mapping) and isinstance(answer.get("Code"), str):
            line = f"{answer['Code']}: {answer.get('Message', '')} (HTTP {response.status_code})"
        else:
            line = f"taskcancel: error: HTTP {response.status_code}: {response.content[:200]!r}"
        print(one_line(line), file=sys.stderr)
        return EXIT_REJECTED
    rules = answer.get("Rules") if isinstance(answer, Mapping) else None
    if not isinstance(rules, list) or not all(isinstance(rule, Mapping) for rule in rules):
        return fail(f"answer from {url} has no Rules list: {response.text[:200]!r}", EXIT_TRANSPORT)
    if args.json:
        emit(response.text.rstrip("\n"))
        return EXIT_OK
    assert isinstance(answer, Mapping)
    summary = "  ".join(
        f"{key}={_text(answer.get(key, '-'))}"
        for key in ("ThrottleRate", "RetryAfterMs", "LatencyMs")
    )
    lines = [summary, *(rule_table(rules) if rules else ["(no rules)"])]
    emit("\n".join(lines))
    return EXIT_OK
