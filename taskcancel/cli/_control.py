"""``taskcancel state`` and ``taskcancel reset``: the emulator's control plane from a shell.

``state`` is ``GET {endpoint}/_taskcancel/state`` (the whole world as a world file, plus
``Now``), printed as a table of tasks or, with ``--json``, as received; ``reset`` is
``POST {endpoint}/_taskcancel/reset``. Both send ``Authorization: Bearer
$TASKCANCEL_CONTROL_TOKEN`` when that variable is set. Exit statuses are those of
``cancel``: 0 done, 1 the server answered with an error (``Code: Message (HTTP n)`` on
stderr), 2 bad usage, 3 no (readable) answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..wire import CONTROL_PREFIX
from ._client import emit, fail, one_line, timeout_option
from ._exit import EXIT_OK, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE

__all__ = ["COMMANDS", "CONTROL_PREFIX", "DEFAULT_CONTROL_ENDPOINT", "add_parsers", "run", "table"]

#: Where ``state``/``reset`` go without ``--endpoint`` or ``$TASKCANCEL_ENDPOINT``.
DEFAULT_CONTROL_ENDPOINT = "http://127.0.0.1:8080"
TOKEN_VARIABLE = "TASKCANCEL_CONTROL_TOKEN"
#: The verbs this module runs.
COMMANDS = frozenset({"state", "reset"})

#: (heading, world-file field) of each column of ``state``'s table.
_COLUMNS = (
    ("ACCOUNT", "AccessKeyId"),
    ("REGION", "RegionId"),
    ("ID", "TaskId"),
    ("ACTION", "TaskAction"),
    ("STATUS", "TaskStatus"),
    ("PROGRESS", "TaskProcess"),
    ("CANCEL-FAILS", "CancelFails"),
)


def add_parsers(commands: Any) -> None:
    """Add ``state`` and ``reset`` to the subcommands ``commands``."""

    def control_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--endpoint",
            default=os.environ.get("TASKCANCEL_ENDPOINT", DEFAULT_CONTROL_ENDPOINT),
            metavar="URL",
            help="the emulator's URL (default: $TASKCANCEL_ENDPOINT, else "
            f"{DEFAULT_CONTROL_ENDPOINT}); ${TOKEN_VARIABLE}, when set, is sent as the "
            "bearer token",
        )
        timeout_option(sub)

    state = commands.add_parser("state", help="show every task the emulator holds")
    control_options(state)
    state.add_argument(
        "--json",
        action="store_true",
        help="print the world file (Regions, Accounts, Tasks, Faults, Now) as received",
    )
    reset = commands.add_parser(
        "reset", help="put the emulator back to the world and clock it started with"
    )
    control_options(reset)


def _cell(task: Mapping[str, Any], field: str) -> str:
    value = task.get(field)
    if field == "CancelFails":
        return "yes" if value is True else "no"
    if value is None or value == "":
        return "-"
    return one_line(str(value))


def table(tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lines of ``state``'s table: a heading, then one task per line, columns aligned,
    sorted by account, region and id."""
    rows = [[heading for heading, _ in _COLUMNS]]
    rows += sorted([_cell(task, field) for _, field in _COLUMNS] for task in tasks)
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _error_line(status: int, body: bytes) -> str:
    """``Code: Message (HTTP n)`` from an error answer, whatever its body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, Mapping) and isinstance(data.get("Code"), str):
        return f"{data['Code']}: {data.get('Message', '')} (HTTP {status})"
    text = body[:200].decode("utf-8", "replace")
    return f"taskcancel: error: HTTP {status} with no control-plane error in the body: {text!r}"


def _tasks_of(world: object) -> list[Mapping[str, Any]] | None:
    tasks = world.get("Tasks") if isinstance(world, Mapping) else None
    if not isinstance(tasks, list) or not all(isinstance(task, Mapping) for task in tasks):
        return None
    return tasks


def control_target(endpoint: str, route: str) -> tuple[str, dict[str, str]] | int:
    """The URL of ``route`` on the control plane at ``endpoint`` and the headers to send
    (the token from :data:`TOKEN_VARIABLE`); or, after saying what is wrong, the exit
    status (a bad endpoint or token is bad usage)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return fail(
            f"--endpoint must be an http(s) URL like {DEFAULT_CONTROL_ENDPOINT}, got {endpoint!r}",
            EXIT_USAGE,
        )
    url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{CONTROL_PREFIX}{route}"
    headers = {"Accept": "application/json"}
    token = os.environ.get(TOKEN_VARIABLE)
    if token:
        if not token.isascii() or not token.isprintable():
            return fail(f"{TOKEN_VARIABLE} must be printable ASCII (it is a header)", EXIT_USAGE)
        headers["Authorization"] = f"Bearer {token}"
    return url, headers


def run(args: argparse.Namespace) -> int:
    import httpx

    target = control_target(args.endpoint, args.command)
    if isinstance(target, int):
        return target
    url, headers = target
    method = "GET" if args.command == "state" else "POST"
    try:
        with httpx.Client(timeout=args.timeout, trust_env=False) as client:
            response = client.request(method, url, headers=headers)
    except httpx.HTTPError as exc:
        return fail(f"no answer from {url}: {str(exc) or type(exc).__name__}", EXIT_TRANSPORT)
    except httpx.InvalidURL as exc:
        return fail(f"--endpoint {args.endpoint!r} is not a usable URL: {exc}", EXIT_USAGE)
    if not 200 <= response.status_code < 300:
        print(one_line(_error_line(response.status_code, response.content)), file=sys.stderr)
        return EXIT_REJECTED
    try:
        answer = json.loads(response.content) if response.content else {}
    except ValueError:
        return fail(
            f"unreadable answer from {url} (HTTP {response.status_code}): "
            f"{response.content[:200]!r}",
            EXIT_TRANSPORT,
        )
    if args.command == "reset":
        emit(json.dumps(answer, indent=2, ensure_ascii=False))
        return EXIT_OK
    if args.json:
        emit(response.text.rstrip("\n"))
        return EXIT_OK
    tasks = _tasks_of(answer)
    if tasks is None:
        return fail(f"answer from {url} has no Tasks list: {response.text[:200]!r}", EXIT_TRANSPORT)
    emit("\n".join(table(tasks)))
    return EXIT_OK
