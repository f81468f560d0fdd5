"""The ``taskcancel`` command: run the emulator, or call CancelTask/Describe* from a shell.

::

    taskcancel serve [--host 127.0.0.1] [--port 8080] [--world FILE] [--store PATH]
                     [--store-timeout 5] [--shutdown-timeout 5] [--profile 2017|current]
                     [--access-key ID:SECRET]... [--seed N] [--clock system|fake[=START]]
                     [--control-token T]
                     [--no-control] [--log-level info] [--log-format text|json]
    taskcancel cancel --region REGION --task TASK_ID [--endpoint URL]
                      [--profile 2017|current] [--signature acs3|v1] [--timeout SECONDS]
    taskcancel describe --region REGION [--task TASK_ID | --all] [--endpoint URL]
                        [--profile 2017|current] [--signature acs3|v1] [--timeout SECONDS]
    taskcancel state [--endpoint URL] [--json] [--timeout SECONDS]
    taskcancel reset [--endpoint URL] [--timeout SECONDS]
    taskcancel faults [--endpoint URL] [--json] [--timeout SECONDS]
    taskcancel requests [--endpoint URL] [--action A] [--task T] [--code C] [--follow] [--json]
    taskcancel ui [--endpoint URL] [--print]
    taskcancel --version

Every ``serve`` option also comes from a ``TASKCANCEL_*`` variable (a flag beats it).
Client commands read ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``,
print the reply as JSON on stdout and exit 0; any error the service answers exits 1 with
the Aliyun code and message on stderr; bad usage or configuration exits 2; no answer at all
exits 3; Ctrl-C exits 130 with one line. ``state`` and ``reset`` use the emulator's control
plane (``/_taskcancel/``), with the same exit statuses, as do ``requests`` (the request
journal) and ``faults`` (the fault rules in force, with their counts); ``ui`` opens the
dashboard. Each command lives in its own module: :mod:`._serve`, :mod:`._client`,
:mod:`._control`, :mod:`._requests`, :mod:`._faults` and :mod:`._ui`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import _client, _control, _faults, _requests, _serve, _ui
from ._exit import EXIT_INTERRUPTED

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskcancel",
        description="A local Alibaba Cloud ECS CancelTask emulator and client.",
    )
    parser.add_argument(
        "--version", action="version", version=f"taskcancel {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve.add_parser(commands)
    _client.add_parsers(commands)
    _control.add_parsers(commands)
    _faults.add_parser(commands)
    _requests.add_parser(commands)
    _ui.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``taskcancel`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "serve":  # stops gracefully on SIGINT itself
        return _serve.run(args)
    if args.command == "ui":
        return _ui.run(args)
    try:  # any client command: Ctrl-C while it waits is one line, not a traceback
        if args.command == "requests":
            return _requests.run(args)
        if args.command in _control.COMMANDS:
            return _control.run(args)
        if args.command == _faults.COMMAND:
            return _faults.run(args)
        return _client.run(args)
    except KeyboardInterrupt:
        print(f"taskcancel: {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
