"""SIGINT and SIGTERM for a server in the foreground: a graceful stop, whenever they come.

:class:`StopSignals` owns both signals for the command's whole run (``with``): before the
server serves they are only noted (start-up is never cut in half, and the server stops
as soon as it serves); while it serves they set its stop event; after, while the store
closes and the process exits, they are noted again. So no signal ever kills it half-way
or raises ``KeyboardInterrupt``: it always exits 0, without a traceback. (After a stop
by signal the handlers stay: the process is exiting. Otherwise they are put back.)

:func:`asyncio.loop.add_signal_handler` is not used on purpose: closing the loop puts the
default handlers back (SIGTERM kills, SIGINT raises) before the store is closed. Here
plain handlers stay installed until the ``with`` block ends, and the loop is woken by a
wakeup fd (:func:`signal.set_wakeup_fd`), whichever thread the signal reached.

Both signals are unblocked once the handlers are in place, so one that came while they
were blocked is received then. The container image blocks SIGTERM from the interpreter's
start when the process is PID 1 (for PID 1 the kernel discards a signal that has neither
a handler nor a block, and the imports before this point take a fraction of a second):
``podman stop`` right after ``podman run`` then stops it with exit 0, not SIGKILL.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from ._loop import new_event_loop
from ._run import Server

__all__ = ["StopSignals"]

log = logging.getLogger("taskcancel.server")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """``with StopSignals() as signals: ... signals.serve(server, sock, ready)``."""

    def __init__(self) -> None:
        #: The first stop signal received, if any.
        self.received: int | None = None
        self._old: dict[int, Any] = {}
        self._on_signal: Callable[[int], None] | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may handle signals: then none are
        for signum in _SIGNALS:
            self._old[signum] = signal.signal(signum, self._note)
        # Delivered now if one came while they were blocked: a container's PID 1 blocks
        # SIGTERM until this point (the kernel discards it, unhandled and unblocked).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.received is not None:
            # The process was asked to stop and is exiting: a second signal while the
            # interpreter winds down is only noted too. Python puts the default handlers
            # back as it finalizes (SIGTERM would kill it, -15), except for SIG_IGN: so
            # ignore both from then on (set at exit: children started before inherit none).
            atexit.unregister(_ignore_at_exit)  # once, however many runs
            atexit.register(_ignore_at_exit)
            return
        for signum, old in self._old.items():
            signal.signal(signum, old)
        self._old.clear()

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        callback = self._on_signal
        if callback is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                callback(signum)

    def serve(self, server: Server, sock: socket.socket, ready: Callable[[], None]) -> None:
        """Run ``server`` on ``sock`` until a stop signal (one that came earlier included)."""
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(self._main(server, sock, ready))

    async def _main(self, server: Server, sock: socket.socket, ready: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        if not self._old:  # not handling signals (not the main thread)
            await server.serve(sock, stop, ready)
            return
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
        loop.add_reader(wake_r.fileno(), _drain, wake_r)

        def on_signal(signum: int) -> None:  # in the main thread, between two bytecodes
            loop.call_soon_threadsafe(_stopping, stop, signum)

        self._on_signal = on_signal
        try:
            if self.received is not None:  # it came while starting up: stop at once
                on_signal(self.received)
            await server.serve(sock, stop, ready)
        finally:
            self._on_signal = None
            loop.remove_reader(wake_r.fileno())
            signal.set_wakeup_fd(old_fd)
            wake_r.close()
            wake_w.close()


def _ignore_at_exit() -> None:
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(4096):
            pass


def _stopping(stop: asyncio.Event, signum: int) -> None:
    if not stop.is_set():
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()
