"""``taskcancel requests``: the emulator's request journal from a shell (docs/journal.md).

``GET {endpoint}/_taskcancel/requests`` with the filters given, printed as a table
(``SEQ TIME ACTION REGION TASK ACCOUNT STATUS CODE WHY``) or, with ``--json``, one entry
per line as received. ``--follow`` keeps printing new entries as they arrive, like
``kubectl logs -f``: it long-polls with ``Since`` (the last ``Seq`` seen) and
``WaitSeconds``, so it asks again only when something happened or the wait ran out;
Ctrl-C ends it with status 0 (without ``--follow``, an interrupted call exits 130). Every
string a client sent is printed escaped on one line: no terminal control characters
reach the terminal. The control token comes from ``$TASKCANCEL_CONTROL_TOKEN``, as for
``state`` and ``reset``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ._client import emit, fail, one_line, timeout_option
from ._control import DEFAULT_CONTROL_ENDPOINT, TOKEN_VARIABLE, control_target
from ._control import _error_line as error_line
from ._exit import EXIT_OK, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE

__all__ = ["COLUMNS", "EXIT_INTERRUPTED", "add_parser", "row", "run", "why"]

#: Interrupted (Ctrl-C) outside ``--follow``: 128 + SIGINT, as shells report it.
EXIT_INTERRUPTED = 130
#: The table's headings.
COLUMNS = ("SEQ", "TIME", "ACTION", "REGION", "TASK", "ACCOUNT", "STATUS", "CODE", "WHY")
#: How long each ``--follow`` long-poll waits on the server (its most is 30).
FOLLOW_WAIT_SECONDS = 25
#: The widest a client-sent cell may print (the rest is cut with ``...``).
_CELL = 40
#: ``--follow``'s column widths (rows print as they come, so they cannot be measured).
_FOLLOW_WIDTHS = [6, 24, 22, 14, 24, 10, 6, 28, 0]


def add_parser(commands: Any) -> None:
    """Add ``requests`` to the subcommands ``commands``."""
    sub = commands.add_parser(
        "requests", help="show the calls the emulator received and why it answered so"
    )
    sub.add_argument(
        "--endpoint",
        default=os.environ.get("TASKCANCEL_ENDPOINT", DEFAULT_CONTROL_ENDPOINT),
        metavar="URL",
        help="the emulator's URL (default: $TASKCANCEL_ENDPOINT, else "
        f"{DEFAULT_CONTROL_ENDPOINT}); ${TOKEN_VARIABLE}, when set, is sent as the bearer token",
    )
    sub.add_argument("--action", metavar="A", help="only calls of this action (e.g. CancelTask)")
    sub.add_argument("--task", metavar="T", help="only calls about this task id")
    sub.add_argument("--code", metavar="C", help="only answers with this code (OK or an error)")
    sub.add_argument(
        "--follow", action="store_true", help="keep printing new calls as they come (Ctrl-C ends)"
    )
    sub.add_argument("--json", action="store_true", help="print each entry as one JSON line")
    timeout_option(sub)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    text = one_line(str(value))
    return text if len(text) <= _CELL else text[: _CELL - 3] + "..."


def why(entry: Mapping[str, Any]) -> str:
    """The WHY column: the deciding step and check, the contract row, ignored parameters."""
    decision = entry.get("Decision")
    parts = []
    if isinstance(decision, Mapping):
        text = f"{decision.get('Step')}:{decision.get('Check')}"
        if decision.get("Rule") is not None:
            text += f" (row {decision.get('Rule')})"
        parts.append(text)
    ignored = entry.get("Ignored")
    if isinstance(ignored, list) and ignored:
        parts.append("ignored " + ",".join(str(name) for name in ignored))
    return one_line("; ".join(parts)) if parts else "-"


def row(entry: Mapping[str, Any]) -> list[str]:
    """One entry's cells, in :data:`COLUMNS` order, escaped."""
    action = entry.get("Action")
    if entry.get("Kind") == "control":
        action = f"{entry.get('Method')} {entry.get('Path')}"
    return [
        _cell(entry.get("Seq")),
        _cell(entry.get("Time")),
        _cell(action),
        _cell(entry.get("RegionId")),
        _cell(entry.get("TaskId")),
        _cell(entry.get("AccessKeyId")),
        _cell(entry.get("Status")),
        _cell(entry.get("Code")),
        why(entry),
    ]


def _lines(rows: Sequence[list[str]], widths: list[int]) -> Iterator[str]:
    for cells in rows:
        yield "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        if args.follow:  # the way a tail ends
            return EXIT_OK
        raise  # taskcancel.cli.main: one line, exit 130, as every client command


def _run(args: argparse.Namespace) -> int:
    import httpx

    target = control_target(args.endpoint, "requests")
    if isinstance(target, int):
        return target
    url, headers = target
    filters = {
        name: value
        for name, value in (("Action", args.action), ("TaskId", args.task), ("Code", args.code))
        if value is not None
    }
    since: int | None = None
    widths = _FOLLOW_WIDTHS
    printed_heading = False
    timeout = args.timeout + (FOLLOW_WAIT_SECONDS if args.follow else 0)
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        while True:
            query = dict(filters)
            if since is not None:
                query["Since"] = str(since)
                query["WaitSeconds"] = str(FOLLOW_WAIT_SECONDS)
            try:
                response = client.get(url, params=query, headers=headers)
            except httpx.InvalidURL as exc:
                return fail(f"--endpoint {args.endpoint!r} is not a usable URL: {exc}", EXIT_USAGE)
            except httpx.HTTPError as exc:
                return fail(
                    f"no answer from {url}: {str(exc) or type(exc).__name__}", EXIT_TRANSPORT
                )
            if not 200 <= response.status_code < 300:
                print(one_line(error_line(response.status_code, response.content)), file=sys.stderr)
                return EXIT_REJECTED
            try:
                entries = json.loads(response.content)["Requests"]
                if not isinstance(entries, list):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return fail(
                    f"answer from {url} has no Requests list: {response.content[:200]!r}",
                    EXIT_TRANSPORT,
                )
            entries = [e for e in entries if isinstance(e, Mapping)]
            if args.json:
                for entry in entries:
                    emit(json.dumps(entry, ensure_ascii=True))
            else:
                rows = [row(entry) for entry in entries]
                if not printed_heading:
                    rows.insert(0, list(COLUMNS))
                    printed_heading = True
                if not args.follow:  # the whole table at once: columns fit every row
                    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
                for line in _lines(rows, widths):
                    emit(line)
            for entry in entries:
                seq = entry.get("Seq")
                if isinstance(seq, int) and (since is None or seq > since):
                    since = seq
            if not args.follow:
                return EXIT_OK
            if since is None:
                since = 0
