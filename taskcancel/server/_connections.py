"""The server's open connections, the limits they share, and what they need from the app."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from .. import wire
from ._request import Answer, Deferred, Pending, RawRequest

if TYPE_CHECKING:
    from ._log import RequestLog
    from ._protocol import Connection

__all__ = ["App", "ConnectionSet"]

#: Worker threads for a blocking app's reads, and for its writes (SQLite takes one
#: writer at a time; two let a control-plane change queue beside a waiting cancel).
_READERS, _WRITERS = 4, 2


class App(Protocol):
    """What the connection layer needs from the application."""

    @property
    def blocking(self) -> bool:
        """Whether ``handle`` may block (a store on disk): it then runs in a worker thread."""
        ...

    def control_body_limit(self, headers: Sequence[tuple[bytes, bytes]]) -> int:
        """The largest body this control-plane request (``/_taskcancel/...``) may send."""
        ...

    def stage(self, request: RawRequest) -> Answer | Deferred | Pending:
        """The answer now, or the store's part of it to run in a worker thread."""
        ...

    def refusal(self, error: wire.GatewayError) -> Answer: ...


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
    ) -> None:
        self.app, self.limits, self.log = app, limits, log
        self.request_timeout, self.keep_alive = request_timeout, keep_alive
        self.max_connections = max_connections
        # A head may carry the whole query and every header; a chunk that also holds the
        # start of the body is counted whole, hence the body term.
        self.max_head = limits.max_query_bytes + limits.max_header_bytes + 8192
        self.open: set[Connection] = set()
        self.closed = asyncio.Event()
        self.closed.set()
        # Store work of a blocking app: readers and writers in pools of their own, so
        # writers waiting for a lock held elsewhere never hold up reads or refusals.
        self.readers = ThreadPoolExecutor(_READERS, thread_name_prefix="taskcancel-read")
        self.writers = ThreadPoolExecutor(_WRITERS, thread_name_prefix="taskcancel-write")

    def pool(self, pending: Pending) -> ThreadPoolExecutor:
        return self.writers if pending.writes else self.readers

    def close_pools(self) -> None:
        """Let running store work finish (bounded by the store's busy timeout); drop
        work that has not started: its connections are gone."""
        for pool in (self.readers, self.writers):
            pool.shutdown(wait=True, cancel_futures=True)

    def protocol(self) -> Connection:
        from ._protocol import Connection

        return Connection(self)

    def added(self, connection: Connection) -> bool:
        if len(self.open) >= self.max_connections:
            return False
        self.open.add(connection)
        self.closed.clear()
        return True

    def removed(self, connection: Connection) -> None:
        self.open.discard(connection)
        if not self.open:
            self.closed.set()

    def shutdown(self) -> None:
        """Stop reading everywhere; idle connections close now, the rest once answered."""
        for connection in list(self.open):
            connection.shutdown()

    def abort(self) -> None:
        for connection in list(self.open):
            connection.abort()
