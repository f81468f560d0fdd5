"""``taskcancel serve``: the emulator as a process (the main job).

Every option also comes from a ``TASKCANCEL_*`` environment variable (a flag beats its
variable); a bad value is refused at start naming the variable or flag, the value and
the reason (exit 2). SIGINT and SIGTERM stop it gracefully, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from .._catalogue import PROFILES
from .._clock import FakeClock
from .._model import parse_time
from .._store import Store, system_clock
from .._world import WorldFileError, WorldSpec, demo_world, load_world, printable
from ..server import _log
from ._banner import banner
from ._exit import EXIT_OK, EXIT_USAGE

__all__ = ["add_parser", "run"]


def _access_keys(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not key_id or not secret:
            raise ValueError(f"expected ID:SECRET[,ID:SECRET...], got {item!r}")
        pairs.append((key_id, secret))
    return pairs


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError("must be a port number 0..65535")
    return int(text)


def _choice(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text.lower()

    return check


def _clock(text: str) -> str:
    kind, _, start = text.partition("=")
    if kind not in ("system", "fake") or (start and kind != "fake"):
        raise ValueError("must be system, fake or fake=2026-01-01T00:00:00Z")
    if start:
        try:
            parse_time(start)
        except ValueError:
            raise ValueError(
                f"fake clock start {start!r} is not like 2026-01-01T00:00:00Z"
            ) from None
    return text


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be an integer") from None


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


#: dest -> (variable, converter, default, help)
OPTIONS: dict[str, tuple[str, Callable[[str], Any], Any, str]] = {
    "host": ("TASKCANCEL_HOST", _text, "127.0.0.1", "address to bind"),
    "port": ("TASKCANCEL_PORT", _port, 8080, "port; 0 picks a free one"),
    "world": ("TASKCANCEL_WORLD", _text, None, "world file (JSON) to seed the store"),
    "store": ("TASKCANCEL_STORE", _text, None, "keep state in SQLite at this path"),
    "profile": ("TASKCANCEL_PROFILE", _choice(*sorted(PROFILES)), "2017", "error profile"),
    "log_level": ("TASKCANCEL_LOG_LEVEL", _choice(*_log.LEVELS), "info", "log level"),
    "log_format": ("TASKCANCEL_LOG_FORMAT", _choice(*_log.FORMATS), "text", "log format"),
    "seed": ("TASKCANCEL_SEED", _seed, None, "seed the ids ImportImage/ExportImage make"),
    "clock": ("TASKCANCEL_CLOCK", _clock, "system", "task lifecycle clock: system or fake[=START]"),
    "control_token": (
        "TASKCANCEL_CONTROL_TOKEN",
        _text,
        None,
        "require 'Authorization: Bearer TOKEN' on the control plane (and allow it off loopback)",
    ),
    "access_keys": (
        "TASKCANCEL_ACCESS_KEYS",
        _access_keys,
        None,
        "accept these AccessKey pairs too: ID:SECRET[,ID:SECRET...]",
    ),
}


def add_parser(commands: Any) -> None:
    """Add ``serve`` and its options to the subcommands ``commands``."""
    serve = commands.add_parser(
        "serve",
        help="run the ECS emulator (the main job)",
        description="Run the ECS emulator. Each option can also be set by its variable.",
    )
    for dest, (variable, convert, default, text) in OPTIONS.items():
        flag = "--" + dest.replace("_", "-")
        if dest == "access_keys":
            flag = "--access-key"
        shown = "none" if default is None else default
        serve.add_argument(
            flag,
            dest=dest,
            metavar=dest.upper() if dest != "access_keys" else "ID:SECRET",
            action="append" if dest == "access_keys" else "store",
            type=_argtype(convert),
            default=None,
            help=f"{text} (default: {shown}; env {variable})",
        )
    serve.add_argument(
        "--no-control",
        action="store_true",
        help="turn the /_taskcancel/ control plane off (health stays)",
    )


def _argtype(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return parse


def _settle(args: argparse.Namespace) -> str | None:
    """Fill unset options from the environment, then defaults; the first error, if any."""
    for dest, (variable, convert, default, _) in OPTIONS.items():
        value = getattr(args, dest)
        if dest == "access_keys" and value:
            value = [pair for pairs in value for pair in pairs]
        if value is None and variable in os.environ:
            raw = os.environ[variable]
            try:
                value = convert(raw)
            except ValueError as exc:
                return f"{variable}={printable(raw)}: {exc}"
        setattr(args, dest, default if value is None else value)
    if args.access_keys is None:
        args.access_keys = []
    return None


def run(args: argparse.Namespace) -> int:
    problem = _settle(args)
    if problem is not None:
        print(f"taskcancel: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from .. import __version__
    from .._actions import IdGenerator
    from ..server import (
        BackgroundServer,  # noqa: F401  (kept importable for embedding)
        ControlPlane,
        Emulator,
        Operations,
        RequestLog,
        Server,
        bind_socket,
        is_loopback,
    )
    from ..server import run as run_server

    _log.configure(args.log_level, args.log_format, sys.stderr)
    clock: FakeClock | None = None
    if args.clock.startswith("fake"):
        start = args.clock.partition("=")[2]
        clock = FakeClock(parse_time(start)) if start else FakeClock()
    now = clock() if clock is not None else system_clock()
    try:
        world = load_world(args.world, now=now) if args.world else demo_world(now)
        store = _open_store(args, world, clock)
    except (WorldFileError, ValueError, OSError) as exc:
        print(f"taskcancel: error: {_log.escape_lines(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    accounts = dict(world.accounts)
    accounts.update(dict(args.access_keys))
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        store.close()
        print(
            f"taskcancel: error: cannot listen on {printable(args.host)}:{args.port}: "
            f"{exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    app = Emulator(
        store,
        accounts=accounts,
        profile=args.profile,
        faults=world.faults,
        ids=IdGenerator(args.seed),
    )
    app.debug = args.log_level == "debug"
    start = WorldSpec(regions=world.regions, accounts=accounts, tasks=(), faults=world.faults)
    ops = Operations(
        app,
        start,
        clock=clock,
        version=__version__,
        store_kind="sqlite" if args.store else "memory",
    )
    host = sock.getsockname()[0]
    loopback = is_loopback(host)
    enabled = not args.no_control and (loopback or args.control_token is not None)
    app.control = ControlPlane(ops, enabled=enabled, token=args.control_token).handle
    request_log = None  # request lines are INFO: none at warning and above
    if args.log_level in ("debug", "info"):
        request_log = RequestLog(sys.stderr, fmt=args.log_format, debug=app.debug)
    server = Server(app, log=request_log)
    lines = banner(args, world, store, sock, accounts, enabled=enabled)
    try:
        run_server(server, sock, ready=lambda: print(lines, flush=True))
    finally:
        sock.close()
        store.close()
    return EXIT_OK


def _open_store(args: argparse.Namespace, world: WorldSpec, clock: FakeClock | None) -> Store:
    if args.store:
        from .._sqlite import SqliteStore

        return SqliteStore(args.store, world.tasks, regions=world.regions, clock=clock)
    from .._store import MemoryStore

    return MemoryStore(world.tasks, regions=world.regions, clock=clock)
