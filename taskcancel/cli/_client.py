"""``taskcancel cancel`` and ``taskcancel describe``: call the service from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .._catalogue import PROFILES, get_profile
from .._exceptions import ApiError, CancelRejected, TransportError
from .._http import DEFAULT_ENDPOINT
from ._exit import EXIT_OK, EXIT_REJECTED, EXIT_TRANSPORT, EXIT_USAGE

__all__ = ["add_parsers", "run"]


def add_parsers(commands: Any) -> None:
    """Add ``cancel`` and ``describe`` to the subcommands ``commands``."""

    def client_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--region", required=True, help="RegionId, e.g. cn-hangzhou")
        sub.add_argument(
            "--endpoint",
            default=os.environ.get("TASKCANCEL_ENDPOINT", DEFAULT_ENDPOINT),
            help="service URL (default $TASKCANCEL_ENDPOINT or the real ECS endpoint)",
        )
        sub.add_argument(
            "--profile",
            choices=sorted(PROFILES),
            help="report rejection codes in this profile's words (default: as received)",
        )
        sub.add_argument("--signature", choices=["acs3", "v1"], default="acs3")
        sub.add_argument("--timeout", type=float, default=10.0, help="seconds")

    cancel = commands.add_parser("cancel", help="cancel a running image import/export task")
    client_options(cancel)
    cancel.add_argument("--task", required=True, help="TaskId, e.g. t-23ym6mvro")

    describe = commands.add_parser("describe", help="describe one task, or a region's tasks")
    client_options(describe)
    describe.add_argument("--task", help="TaskId; without it, list the region's tasks")


def run(args: argparse.Namespace) -> int:
    from .._client import Client
    from .._http import HttpTransport

    try:
        transport = HttpTransport(args.endpoint, signature=args.signature, timeout=args.timeout)
    except (ValueError, ImportError) as exc:
        print(f"taskcancel: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    body: Any
    try:
        with Client(transport) as client:
            if args.command == "cancel":
                body = client.call("CancelTask", {"RegionId": args.region, "TaskId": args.task})
            elif args.task:
                params = {"RegionId": args.region, "TaskId": args.task}
                body = client.call("DescribeTaskAttribute", params)
            else:
                body = client.call("DescribeTasks", {"RegionId": args.region, "PageSize": "100"})
    except (CancelRejected, ApiError) as exc:
        code, status, message = exc.code, exc.http_status, exc.message
        if args.profile and isinstance(exc, CancelRejected):
            spec = get_profile(args.profile).error(exc.reason)
            code, status, message = spec.code, spec.http_status, spec.message
        print(f"{code}: {message} (HTTP {status}, RequestId {exc.request_id})", file=sys.stderr)
        return EXIT_REJECTED
    except TransportError as exc:
        print(f"taskcancel: error: {exc}", file=sys.stderr)
        return EXIT_TRANSPORT
    except UnicodeError as exc:  # e.g. bytes from the shell that are not text
        print(f"taskcancel: error: --region/--task must be text: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(dict(body), indent=2, ensure_ascii=False))
    return EXIT_OK
