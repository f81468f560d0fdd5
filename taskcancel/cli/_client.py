"""``taskcancel cancel`` and ``taskcancel describe``: call the service from a shell.

Also the pieces every client verb shares (:mod:`._control` uses them too):
:func:`positive_seconds` for ``--timeout``, :func:`one_line` for anything a server said
that is printed on stderr, and :func:`fail`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import DEFAULT_ENDPOINT
from .._core._exceptions import ApiError, CancelRejected, TransportError
from ..catalogue import PROFILES, get_profile
from ._exit import EXIT_OK, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE

if TYPE_CHECKING:
    from .._client._client import Client

__all__ = ["add_parsers", "emit", "fail", "one_line", "positive_seconds", "run", "timeout_option"]

KEY_ID_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_ID"
SECRET_VARIABLE = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
#: DescribeTasks' largest page.
PAGE_SIZE = 100

_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` on one line: backslash, CR, LF and tab escaped as in Python, and every
    other non-printable character (line and paragraph separators included) as ``\\xNN``,
    ``\\uNNNN`` or ``\\UNNNNNNNN``. Printable text, non-ASCII included, is kept as it is."""
    out = []
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def fail(message: str, status: int) -> int:
    """Print ``taskcancel: error: MESSAGE`` (on one line) on stderr; return ``status``."""
    print(f"taskcancel: error: {one_line(message)}", file=sys.stderr)
    return status


def emit(text: str) -> None:
    """Print ``text`` on stdout; a reader that went away (``| head``) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the exit flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def positive_seconds(text: str) -> float:
    """argparse type of ``--timeout``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def timeout_option(sub: argparse.ArgumentParser) -> None:
    """Add ``--timeout SECONDS`` (default 10) to a client verb."""
    sub.add_argument(
        "--timeout",
        type=positive_seconds,
        default=10.0,
        metavar="SECONDS",
        help="give up after this many seconds without an answer (exit 3); default 10",
    )


def add_parsers(commands: Any) -> None:
    """Add ``cancel`` and ``describe`` to the subcommands ``commands``."""

    def client_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--region", required=True, help="RegionId, e.g. cn-hangzhou")
        sub.add_argument(
            "--endpoint",
            default=os.environ.get("TASKCANCEL_ENDPOINT", DEFAULT_ENDPOINT),
            metavar="URL",
            help=f"service URL (default: $TASKCANCEL_ENDPOINT, else the real {DEFAULT_ENDPOINT})",
        )
        sub.add_argument(
            "--profile",
            choices=sorted(PROFILES),
            help="report rejection codes in this profile's words (default: as received)",
        )
        sub.add_argument(
            "--signature",
            choices=["acs3", "v1"],
            default="acs3",
            help="how to sign: ACS3-HMAC-SHA256 (default) or V1 HMAC-SHA1",
        )
        timeout_option(sub)

    cancel = commands.add_parser("cancel", help="cancel a running image import/export task")
    client_options(cancel)
    cancel.add_argument("--task", required=True, metavar="TASK_ID", help="TaskId, e.g. t-23ym6mvro")

    describe = commands.add_parser("describe", help="describe one task, or a region's tasks")
    client_options(describe)
    which = describe.add_mutually_exclusive_group()
    which.add_argument(
        "--task", metavar="TASK_ID", help="TaskId; without it, list the region's tasks"
    )
    which.add_argument(
        "--all",
        action="store_true",
        help=f"without --task: page through every task, not only the first {PAGE_SIZE}",
    )


def _credentials() -> tuple[str, str] | str:
    """The key pair from the environment, or what to set."""
    key_id = os.environ.get(KEY_ID_VARIABLE, "")
    secret = os.environ.get(SECRET_VARIABLE, "")
    if key_id and secret:
        return key_id, secret
    wanted = f"set {KEY_ID_VARIABLE} and {SECRET_VARIABLE}"
    if key_id or secret:  # say which one of the two is missing
        return f"{wanted} ({SECRET_VARIABLE if key_id else KEY_ID_VARIABLE} is not set)"
    return wanted


def _count(body: Mapping[str, Any], default: int) -> int:
    total = body.get("TotalCount")
    return total if isinstance(total, int) and not isinstance(total, bool) else default


def _tasks(body: Mapping[str, Any]) -> list[Any]:
    task_set = body.get("TaskSet")
    page = task_set.get("Task") if isinstance(task_set, Mapping) else None
    return page if isinstance(page, list) else []


def _describe_all(client: Client, region: str) -> dict[str, Any]:
    """Every page of DescribeTasks, as one reply: ``TaskSet.Task`` holds them all."""
    tasks: list[Any] = []
    request_ids: list[str] = []
    first: Mapping[str, Any] = {}
    page_number = 1
    while True:
        params = {"RegionId": region, "PageSize": str(PAGE_SIZE), "PageNumber": str(page_number)}
        body = client.call("DescribeTasks", params)
        first = first or body
        request_ids.append(str(body.get("RequestId", "")))
        page = _tasks(body)
        tasks.extend(page)
        # Stop at TotalCount, or at a short page (the world shrank while paging).
        if len(page) < PAGE_SIZE or len(tasks) >= _count(body, 0):
            break
        page_number += 1
    return {
        "RegionId": first.get("RegionId", region),
        "TotalCount": len(tasks),
        "TaskSet": {"Task": tasks},
        "RequestIds": request_ids,
    }


def _describe_page(client: Client, region: str) -> Mapping[str, Any]:
    body = client.call("DescribeTasks", {"RegionId": region, "PageSize": str(PAGE_SIZE)})
    shown = len(_tasks(body))
    total = _count(body, shown)
    if total > shown:
        print(
            f"taskcancel: showing {shown} of {total} tasks; --all lists every one", file=sys.stderr
        )
    return body


def run(args: argparse.Namespace) -> int:
    from .._client._client import Client
    from .._client._http import HttpTransport

    credentials = _credentials()
    if isinstance(credentials, str):
        return fail(credentials, EXIT_USAGE)
    key_id, secret = credentials
    try:
        transport = HttpTransport(
            args.endpoint,
            access_key_id=key_id,
            access_key_secret=secret,
            signature=args.signature,
            timeout=args.timeout,
        )
    except (ValueError, ImportError) as exc:
        return fail(str(exc), EXIT_USAGE)
    body: Any
    try:
        with Client(transport) as client:
            if args.command == "cancel":
                body = client.call("CancelTask", {"RegionId": args.region, "TaskId": args.task})
            elif args.task:
                params = {"RegionId": args.region, "TaskId": args.task}
                body = client.call("DescribeTaskAttribute", params)
            elif args.all:
                body = _describe_all(client, args.region)
            else:
                body = _describe_page(client, args.region)
    except (CancelRejected, ApiError) as exc:
        code, status, message = exc.code, exc.http_status, exc.message
        if args.profile and isinstance(exc, CancelRejected):
            spec = get_profile(args.profile).error(exc.reason)
            code, status, message = spec.code, spec.http_status, spec.message
        line = f"{code}: {message} (HTTP {status}, RequestId {exc.request_id})"
        print(one_line(line), file=sys.stderr)
        return EXIT_REJECTED
    except TransportError as exc:
        return fail(str(exc), EXIT_TRANSPORT)
    except UnicodeError as exc:  # e.g. bytes from the shell that are not text
        return fail(f"--region/--task must be text: {exc}", EXIT_USAGE)
    emit(json.dumps(dict(body), indent=2, ensure_ascii=False))
    return EXIT_OK
