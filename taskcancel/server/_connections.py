"""What the server's connections share: the app, the limits, the open set and its cap,
the worker pools, and the budget of bytes held in requests not answered yet.

A :class:`~._connection.Connection` knows its :class:`ConnectionSet`; the set knows its
connections only as :class:`Member` (what it asks of them), so neither module imports
the other's class.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from .. import wire
from ._request import Answer, Deferred, Pending, RawRequest

if TYPE_CHECKING:
    from ._log import RequestLog

__all__ = ["DEFAULT_HELD_BYTES", "App", "ConnectionSet", "Member"]

#: Worker threads for a blocking app's reads, and for its writes (SQLite takes one
#: writer at a time; two let a control-plane change queue beside a waiting cancel).
_READERS, _WRITERS = 4, 2

#: Bytes of complete requests not answered yet that all connections together may hold;
#: past it, the connections holding the most stop being read until half of it is free.
DEFAULT_HELD_BYTES = 64 * 1024 * 1024


class App(Protocol):
    """What the connection layer needs from the application."""

    def control_body_limit(self, headers: Sequence[tuple[bytes, bytes]]) -> int:
        """The largest body this control-plane request (``/_taskcancel/...``) may send."""
        ...

    def stage(self, request: RawRequest) -> Answer | Pending | Deferred:
        """The answer now, the store's part of it to run in a worker thread (whose result
        may itself be a :class:`Deferred`), or an answer that waits (a long-poll)."""
        ...

    def refusal(self, error: wire.GatewayError) -> Answer: ...


class Member(Protocol):
    """What the set asks of one of its connections."""

    @property
    def held(self) -> int:
        """Bytes of this connection's complete requests not answered yet."""
        ...

    def hold_off(self, paused: bool) -> None:
        """Stop (``True``) or may resume (``False``) reading for the shared budget."""
        ...

    def shutdown(self) -> None: ...
    def abort(self) -> None: ...


class ConnectionSet:
    """The server's open connections and the limits they share."""

    def __init__(
        self,
        app: App,
        *,
        limits: wire.Limits,
        request_timeout: float,
        keep_alive: float,
        max_connections: int,
        log: RequestLog | None,
        max_held_bytes: int = DEFAULT_HELD_BYTES,
        readers: Executor | None = None,
        writers: Executor | None = None,
    ) -> None:
        self.app, self.limits, self.log = app, limits, log
        self.request_timeout, self.keep_alive = request_timeout, keep_alive
        #: The longest a connection's timer sleeps: an idle period never outlasts
        #: ``keep_alive`` by more than nothing, however the timer was armed before.
        self.tick = min(request_timeout, keep_alive)
        self.max_connections = max_connections
        # A head may carry the whole query and every header; a chunk that also holds the
        # start of the body is counted whole, hence the body term.
        self.max_head = limits.max_query_bytes + limits.max_header_bytes + 8192
        self.open: set[Member] = set()
        self.closed = asyncio.Event()
        self.closed.set()
        #: Bytes held in complete, unanswered requests, all connections together.
        self.held = 0
        self.max_held = max_held_bytes
        self.held_off: set[Member] = set()  # connections not read because of the budget
        # Work the app offloads (a store on disk, control-plane changes): readers and
        # writers in pools of their own, so writers waiting for a lock held elsewhere
        # never hold up reads or refusals.
        self.readers = readers or ThreadPoolExecutor(_READERS, thread_name_prefix="taskcancel-read")
        self.writers = writers or ThreadPoolExecutor(
            _WRITERS, thread_name_prefix="taskcancel-write"
        )

    def pool(self, pending: Pending) -> Executor:
        return self.writers if pending.writes else self.readers

    def close_pools(self) -> None:
        """Let running store work finish (bounded by the store's busy timeout); drop
        work that has not started: its connections are gone."""
        for pool in (self.readers, self.writers):
            pool.shutdown(wait=True, cancel_futures=True)

    def added(self, connection: Member) -> bool:
        if len(self.open) >= self.max_connections:
            return False
        self.open.add(connection)
        self.closed.clear()
        return True

    def removed(self, connection: Member) -> None:
        self.open.discard(connection)
        self.held_off.discard(connection)
        if not self.open:
            self.closed.set()

    # -- the budget of held bytes -------------------------------------------------------

    def over_budget(self) -> None:
        """``held`` passed ``max_held``: stop reading the connections holding the most,
        until what the others hold is at most half the budget."""
        holders = sorted(
            (c for c in self.open if c.held and c not in self.held_off),
            key=lambda c: c.held,
            reverse=True,
        )
        excess = self.held - self.max_held // 2
        for connection in holders:
            if excess <= 0:
                break
            self.held_off.add(connection)
            connection.hold_off(True)
            excess -= connection.held

    def under_budget(self) -> None:
        """At most half the budget is held again: the connections held off may read."""
        held_off, self.held_off = self.held_off, set()
        for connection in held_off:
            connection.hold_off(False)

    def released(self) -> None:
        """Bytes were given back: once at most half the budget is held, resume reading."""
        if self.held_off and self.held <= self.max_held // 2:
            self.under_budget()

    # -- stopping -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop reading everywhere; idle connections close now, the rest once answered."""
        for connection in list(self.open):
            connection.shutdown()

    def abort(self) -> None:
        for connection in list(self.open):
            connection.abort()


class Held:
    """The bytes one connection's waiting requests hold, oldest first, charged to the
    set's budget. A request answered as it arrives is never charged, so the common case
    costs nothing; a charged request is given back when its answer begins."""

    __slots__ = ("shared", "sizes", "total")

    def __init__(self, shared: ConnectionSet) -> None:
        self.shared = shared
        self.sizes: deque[int] = deque()
        self.total = 0

    def __len__(self) -> int:
        return len(self.sizes)

    def charge(self, request: RawRequest) -> None:
        size = len(request.target) + len(request.body)
        for name, value in request.headers:
            size += len(name) + len(value)
        self.sizes.append(size)
        self.total += size
        shared = self.shared
        shared.held += size
        if shared.held > shared.max_held:
            shared.over_budget()

    def discharge_oldest(self) -> None:
        size = self.sizes.popleft()
        self.total -= size
        self.shared.held -= size
        self.shared.released()

    def release(self) -> None:
        """Give everything back (the connection is closing or gone)."""
        self.shared.held -= self.total
        self.total = 0
        self.sizes.clear()
        self.shared.released()
