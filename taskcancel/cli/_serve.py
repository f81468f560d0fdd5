"""``taskcancel serve``: the emulator as a process (the main job).

Every option also comes from a ``TASKCANCEL_*`` environment variable (a flag beats its
variable; :mod:`._serve_options`); a bad value, world file, store or address is refused at
start with one line naming the variable or flag, the value and the reason (exit 2).
Logs go to stderr in one format (text or JSON): a ``listening on`` line, one line per
request, ``stopping``/``stopped``; the banner a person reads goes to stdout. SIGINT and
SIGTERM stop it gracefully (exit 0, no traceback), also while it is starting up.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sqlite3
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .._core._model import parse_time
from .._core._text import one_line
from .._store import Store, system_clock
from .._store._clock import FakeClock
from ..catalogue import get_profile
from ..worldfile import WorldFileError, WorldSpec, demo_world, load_world, printable
from ._banner import banner, endpoint
from ._exit import EXIT_OK, EXIT_USAGE
from ._serve_options import add_options, origin, settings, settle

if TYPE_CHECKING:
    from ..server import RequestLog
    from ..server._signals import StopSignals

__all__ = ["add_parser", "run"]

log = logging.getLogger("taskcancel.serve")


def add_parser(commands: Any) -> None:
    """Add ``serve`` and its options to the subcommands ``commands``."""
    serve = commands.add_parser(
        "serve",
        help="run the ECS emulator (the main job)",
        description="Run the ECS emulator. Each option can also be set by its variable "
        "(TASKCANCEL_*); a flag beats its variable. SIGINT or SIGTERM stops it.",
    )
    add_options(serve)


def run(args: argparse.Namespace) -> int:
    # The server package (and asyncio under it) is imported here, when serve runs: the
    # other commands, --version and --help never pay for it.
    from ..server import _logging

    problem = settle(args)
    if problem is not None:
        # In JSON when the format itself was given right: every stderr line is JSON then.
        fmt = args.log_format or os.environ.get("TASKCANCEL_LOG_FORMAT", "").lower()
        with _logging.configured("error", "json" if fmt == "json" else "text", sys.stderr):
            return _fail(fmt == "json", problem)
    from ..server import RequestLog
    from ..server._signals import StopSignals
    from ..server._writer import ThreadedWriter

    # Every line goes through one writer thread: a stderr nobody reads never stops us. A
    # regular file cannot stop draining: its lines are written on the loop, without a
    # thread contending for the GIL (under load that thread cost ~9 us a request).
    writer = None
    if not _is_regular_file(sys.stderr):
        writer = ThreadedWriter(sys.stderr, notice=_dropped_notice(args.log_format))
    debug = args.log_level == "debug"
    request_log = RequestLog(sys.stderr, fmt=args.log_format, debug=debug, writer=writer)
    logs = _logging.configured(args.log_level, args.log_format, sys.stderr, request_log)
    try:
        with StopSignals() as signals, logs:
            # Request lines are INFO: none at warning and above.
            quiet = args.log_level not in ("debug", "info")
            return _serve(args, signals, None if quiet else request_log)
    finally:
        request_log.flush()
        if writer is not None:
            writer.close()


def _is_regular_file(stream: TextIO) -> bool:
    """Whether ``stream`` writes to a regular file (not a pipe, socket or terminal)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's stream)
        return False


def _both_terminals() -> bool:
    """Whether stdout and stderr are both terminals (a person reading both at once)."""
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (ValueError, AttributeError):  # closed or replaced streams
        return False


def _dropped_notice(fmt: str) -> Callable[[int], str]:
    """The line, in the log's format, saying that lines were dropped (a stalled stderr)."""
    from ..server import _logging

    formatter = _logging.LineFormatter(fmt)

    def notice(dropped: int) -> str:
        message = f"{dropped} log lines dropped: the log stream did not drain"
        record = logging.LogRecord("taskcancel.log", logging.WARNING, "", 0, message, (), None)
        return formatter.format(record) + "\n"

    return notice


def _fail(as_json: bool, message: str) -> int:
    """Refuse to start: one line on stderr, in the log's format; exit status 2."""
    if as_json:
        log.error("%s", message)
    else:
        print(f"taskcancel: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def _from(args: argparse.Namespace, dest: str) -> str:
    """``"VARIABLE: "`` when ``dest`` came from the environment, else ``""``."""
    source = origin(args, dest)
    return f"{source}: " if source.startswith("TASKCANCEL_") else ""


def _serve(args: argparse.Namespace, signals: StopSignals, request_log: RequestLog | None) -> int:
    from .. import __version__
    from ..server import bind_socket, build
    from ..server._faults import error_codes
    from ..server._net import is_loopback

    json_logs = args.log_format == "json"
    clock: FakeClock | None = None
    if args.clock.startswith("fake"):
        start = args.clock.partition("=")[2]
        clock = FakeClock(parse_time(start)) if start else FakeClock()
    now = clock() if clock is not None else system_clock()
    try:
        codes = error_codes(get_profile(args.profile))  # a fault rule's Error may name
        world = (
            load_world(args.world, now=now, error_codes=codes) if args.world else demo_world(now)
        )
    except (WorldFileError, ValueError, OSError) as exc:
        return _fail(json_logs, f"{_from(args, 'world')}{exc}")
    try:
        store = _open_store(args, world, clock)
    except (ValueError, OSError) as exc:
        return _fail(json_logs, f"{_from(args, 'store')}{exc}")
    except sqlite3.Error as exc:  # busy: another process holds the file locked
        return _fail(
            json_logs,
            f"{_from(args, 'store')}{printable(args.store)}: cannot open ({exc})",
        )
    if signals.received is not None:  # stopped while starting: nothing was served
        store.close()
        log.info("stopped before serving (%s)", signal.Signals(signals.received).name)
        return EXIT_OK
    accounts = dict(world.accounts)
    accounts.update(dict(args.access_keys))
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        store.close()
        named = [
            f"{origin(args, dest)}={value}"
            for dest, value in (("host", printable(args.host)), ("port", args.port))
            if origin(args, dest).startswith("TASKCANCEL_")
        ]
        where = f" (from {', '.join(named)})" if named else ""
        return _fail(
            json_logs,
            f"cannot listen on {printable(args.host)}:{args.port}{where}: {exc.strerror or exc}",
        )
    start = WorldSpec(regions=world.regions, accounts=accounts, tasks=(), faults=world.faults)
    kind = "sqlite" if args.store else "memory"
    loopback = is_loopback(sock.getsockname()[0])
    try:
        built = build(
            settings(args, version=__version__),
            store,
            start,
            loopback=loopback,
            fake_clock=clock,
            log=request_log,
        )
    except OSError as exc:  # the journal file cannot be opened
        sock.close()
        store.close()
        return _fail(
            json_logs,
            f"{_from(args, 'journal_file')}{printable(args.journal_file)}: cannot open ({exc})",
        )
    enabled = built.control.enabled
    server = built.server
    lines = banner(args, world, store, sock, accounts, enabled=enabled)
    url = endpoint(sock)

    # In a terminal showing both streams the banner already says it: say it once.
    said = "ready" if _both_terminals() else f"listening on {url}"

    def ready() -> None:
        with contextlib.suppress(OSError, ValueError):  # stdout closed: the log says it
            print(lines, flush=True)
        log.info("%s (taskcancel %s, profile %s, %s store)", said, __version__, args.profile, kind)

    # Everything loaded stays for the whole run: keep the cyclic collector off it (full
    # collections over a large world stalled every connection for tens of milliseconds).
    gc.collect()
    gc.freeze()
    try:
        signals.serve(server, sock, ready)
    finally:
        sock.close()
        store.close()
        built.journal.close()  # its file written out and flushed: no entry lost
    log.info("stopped")
    return EXIT_OK


def _open_store(args: argparse.Namespace, world: WorldSpec, clock: FakeClock | None) -> Store:
    if args.store:
        from .._store.sqlite import SqliteStore

        return SqliteStore(
            args.store, world.tasks, regions=world.regions, clock=clock, timeout=args.store_timeout
        )
    from .._store import MemoryStore

    return MemoryStore(world.tasks, regions=world.regions, clock=clock)
