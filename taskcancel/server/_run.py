"""Running the server: listen, serve connections, stop gracefully (signals, or on request).

:class:`Server` serves the app on a listening socket until told to stop. Stopping closes
the listening socket, lets every open connection finish the answers it owes (reading
nothing more), and cuts off whatever is still open after ``shutdown_timeout`` seconds.
:func:`run` does that in the foreground with SIGINT and SIGTERM as the stop request (no
traceback); :class:`BackgroundServer` does it in a thread, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import socket
import threading
from collections.abc import Callable

from .. import wire
from ._connections import DEFAULT_HELD_BYTES, App, ConnectionSet
from ._log import RequestLog
from ._loop import new_event_loop
from ._settings import (
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT,
)
from ._signals import StopSignals

__all__ = [
    "DEFAULT_HELD_BYTES",
    "BackgroundServer",
    "Server",
    "bind_socket",
    "run",
]

log = logging.getLogger("taskcancel.server")

#: Bytes of kernel send buffer per connection (the kernel doubles it for bookkeeping).
SEND_BUFFER = 128 * 1024
#: File descriptors kept free of connections (the store, logs, the listener, accept()).
_FD_RESERVE = 64


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it with ``getsockname``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so,
    # and without it each response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit a small send buffer: a client that stops reading is
    # seen (and cut off) soon, and holds ~256 KiB of kernel memory, not the ~3 MiB that
    # loopback's autotuning grows to.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


class Server:
    """The emulator's HTTP server over ``app``; every size and time bounded."""

    def __init__(
        self,
        app: App,
        *,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        keep_alive: float = DEFAULT_KEEP_ALIVE,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        log: RequestLog | None = None,
        max_held_bytes: int = DEFAULT_HELD_BYTES,
    ) -> None:
        for name, value in (
            ("request_timeout", request_timeout),
            ("keep_alive", keep_alive),
            ("shutdown_timeout", shutdown_timeout),
        ):
            if not (isinstance(value, int | float) and 0 < value < 86400):
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(
                f"max_connections must be an int of at least 1, got {max_connections!r}"
            )
        if not isinstance(max_held_bytes, int) or max_held_bytes < 1:
            raise ValueError(f"max_held_bytes must be an int of at least 1, got {max_held_bytes!r}")
        self.max_held_bytes = max_held_bytes
        self.app, self.limits, self.log = app, limits, log
        self.request_timeout, self.keep_alive = request_timeout, keep_alive
        self.max_connections, self.shutdown_timeout = max_connections, shutdown_timeout

    async def serve(
        self, sock: socket.socket, stop: asyncio.Event, ready: Callable[[], None] | None = None
    ) -> None:
        """Serve on ``sock`` until ``stop`` is set, then stop gracefully."""
        loop = asyncio.get_running_loop()
        stopping = [False]
        loop.set_exception_handler(_quiet_fd_exhaustion(loop.get_exception_handler(), stopping))
        connections = ConnectionSet(
            self.app,
            limits=self.limits,
            request_timeout=self.request_timeout,
            keep_alive=self.keep_alive,
            max_connections=connection_cap(self.max_connections),
            log=self.log,
            max_held_bytes=self.max_held_bytes,
        )
        # Imported here, not at the top: the testing kit (a pytest plugin) imports this
        # module, and loading httptools is for a process that serves.
        from ._connection import Connection

        listener = await loop.create_server(
            functools.partial(Connection, connections), sock=sock, backlog=2048
        )
        if ready is not None:
            ready()
        try:
            await stop.wait()
        finally:
            stopping[0] = True
            listener.close()
            connections.shutdown()
            try:
                await asyncio.wait_for(connections.closed.wait(), self.shutdown_timeout)
            except TimeoutError:
                log.warning(
                    "stopping: %d connections cut off after %g s",
                    len(connections.open),
                    self.shutdown_timeout,
                )
                connections.abort()
                await asyncio.sleep(0)
            await loop.run_in_executor(None, connections.close_pools)
            if self.log is not None:
                self.log.flush()


def run(server: Server, sock: socket.socket, *, ready: Callable[[], None] | None = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then stop gracefully.

    The signals are handled for the whole call (see :class:`~._signals.StopSignals`), so
    neither ever kills the process half-way or raises ``KeyboardInterrupt``.
    """
    with StopSignals() as signals:
        signals.serve(server, sock, ready or (lambda: None))


class BackgroundServer:
    """``server`` serving ``sock`` in a daemon thread with its own event loop."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self._server, self._sock = server, sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="taskcancel-emulator", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._failed is not None:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._failed!r}")

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await self._server.serve(self._sock, self._stop, self._ready.set)

        try:
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                runner.run(main())
        except BaseException as exc:  # reported by start(); a thread has no caller
            self._failed = exc
            self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)


def connection_cap(wanted: int) -> int:
    """``wanted``, or fewer if the process may not open that many files.

    The soft limit on open files is raised towards the hard one first; past what is left
    (minus a reserve), a new connection is answered ``ServiceUnavailable`` instead of
    ``accept()`` failing over and over with nobody answered.
    """
    try:
        import resource
    except ImportError:  # not a Unix
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + _FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    cap = max(1, soft - _FD_RESERVE)
    log.warning("at most %d connections: the process may open only %d files", cap, soft)
    return cap


def _quiet_fd_exhaustion(
    previous: Callable[[asyncio.AbstractEventLoop, dict[str, object]], object] | None,
    stopping: list[bool],
) -> Callable[[asyncio.AbstractEventLoop, dict[str, object]], None]:
    """An exception handler that reports running out of file descriptors (``accept()``
    failing) in one line a second at most, instead of a traceback per attempt.

    asyncio's own loop answers ``accept()`` failing so by trying again a second later
    (``_start_serving`` on a timer, never cancelled); once the server stopped
    (``stopping[0]``) that retry meets the closed listening socket and raises: nothing is
    lost (the server is stopping), so that is not reported either."""
    last = [0.0]

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            now = loop.time()
            if now - last[0] >= 1.0:
                last[0] = now
                log.warning("out of file descriptors: new connections wait (%s)", exc.strerror)
            return
        if stopping[0] and isinstance(exc, ValueError | OSError) and _retries_accept(context):
            log.debug("stopping: dropped asyncio's retry of accept() (%s)", exc)
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    return handle


def _retries_accept(context: dict[str, object]) -> bool:
    """Whether the failed callback is asyncio's retry of ``accept()`` (see above)."""
    callback = getattr(context.get("handle"), "_callback", None)
    return getattr(callback, "__name__", "") == "_start_serving"
