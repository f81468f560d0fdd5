"""``SharedEmulator``: one :class:`EmulatorServer` per test session, reset before each test.

Starting and stopping a server for every test costs a socket, a thread and an event loop
each time; a reset costs a few microseconds. The ``ecs_emulator`` fixture therefore keeps
one server per session (per pytest-xdist worker: each worker is its own session) and,
before each test, puts it back through the control plane's own reset
(:meth:`~taskcancel.server.Operations.reset`): no task, fault, account or nonce of an
earlier test survives, and the clock is back at its start.

What a reset cannot put back -- a test that stopped the server, swapped in a store of
its own (``load(store=...)``) -- is noticed before the next test, which then gets a new
server instead. (The app's options are a frozen :class:`~taskcancel.server.Settings`:
nothing a test does changes them.)
"""

from __future__ import annotations

from collections.abc import Sequence

from .._store._clock import DEFAULT_START, FakeClock
from ._server import EmulatorServer

__all__ = ["SharedEmulator"]


class SharedEmulator:
    """The session's emulator on ``clock``: started on first use, reset at each checkout."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock if clock is not None else FakeClock()
        self._server: EmulatorServer | None = None
        self._parts: Sequence[object] = ()
        self.started = 0  # servers started so far (a test can see one was replaced)

    def checkout(self) -> EmulatorServer:
        """The server, back at its start world; a new one if a reset cannot restore it."""
        server = self._server
        if server is None or not _running(server) or not _same(_parts(server), self._parts):
            self.close()
            self.clock.rewind(DEFAULT_START)
            server = EmulatorServer(clock=self.clock).start()
            self._server, self._parts = server, _parts(server)
            self.started += 1
        else:
            server.reset()
        return server

    def close(self) -> None:
        """Stop the server, if there is one."""
        server, self._server, self._parts = self._server, None, ()
        if server is not None:
            server.stop()


def _running(server: EmulatorServer) -> bool:
    try:
        server.endpoint  # noqa: B018  (raises once the server was stopped)
    except RuntimeError:
        return False
    return True


def _parts(server: EmulatorServer) -> tuple[object, ...]:
    ops = server.ops
    return (
        server.app,
        ops,
        server.store,
        server.host,
        server.port,
        server.access_key_id,
        server.access_key_secret,
        ops.start,
        ops.clock,
    )


def _same(now: Sequence[object], then: Sequence[object]) -> bool:
    """Each part is the very object it was (numbers and flags: an equal value)."""
    return len(now) == len(then) and all(
        a is b or (isinstance(a, int | float | str) and type(a) is type(b) and a == b)
        for a, b in zip(now, then, strict=True)
    )
