"""Answering, in arrival order: the half of a connection that writes.

:class:`Responder` holds the queue of complete requests, asks the app for each answer in
turn (a blocking app's store work in a worker pool, injected latency on a timer), writes
the answers, writes a refusal after the answers owed, and closes without losing any of
them (a lingering close). :class:`~._protocol.Connection` is the half that reads.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections import deque
from time import perf_counter
from typing import TYPE_CHECKING

from .. import wire
from ._http11 import serialize
from ._request import Answer, Deferred, Pending, RawRequest

if TYPE_CHECKING:
    from ._connections import App, ConnectionSet

__all__ = ["Phase", "Responder"]

#: Seconds a closing connection keeps reading (and dropping) what its client still sends.
_LINGER = 1.0


class Phase(enum.Enum):
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    DONE = "done"


class Responder:
    """Mixin of :class:`~._protocol.Connection`: the queue, the answers, the close."""

    shared: ConnectionSet
    app: App
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport | None
    deadline: float | None  # when the request arriving must be complete

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.queue: deque[RawRequest] = deque()
        self.busy = False  # the app is answering a request (worker thread or latency)
        self.paused = False  # the client is not taking its answers
        self.refusal: wire.GatewayError | None = None  # to answer once the queue is done
        self.closing = False  # close once the queue is answered
        self.peer_done = False  # the client sent EOF
        self.lingering = False  # we sent EOF and wait for the client's (see _close)
        # When the last answer was written; when the answer still in the transport's
        # buffer was due.
        self.idle_since = 0.0
        self.drain_deadline: float | None = None

    # -- answering ----------------------------------------------------------------------

    def _answer_queue(self) -> None:
        transport = self.transport
        while self.queue and not self.busy and not self.paused:
            if transport is None or transport.is_closing():
                return
            request = self.queue.popleft()
            staged = self.app.stage(request)  # refusals and health: on the loop, at once
            if not isinstance(staged, Pending) or not staged.offload:
                self._answered(request, staged.run() if isinstance(staged, Pending) else staged)
                continue
            self.busy = True  # the store's part, in a worker thread
            pool = self.shared.pool(staged)
            future = self.loop.run_in_executor(pool, staged.run)
            future.add_done_callback(functools.partial(self._handled, request))
            return
        if not self.queue and not self.busy:
            self._queue_done()

    def _handled(self, request: RawRequest, future: asyncio.Future[Answer | Deferred]) -> None:
        self.busy = False
        if future.cancelled():  # the server stopped before the work began
            return
        exc = future.exception()
        answer = self.app.refusal(wire.GATEWAY_ERRORS["InternalError"]) if exc else future.result()
        self._answered(request, answer)
        self._answer_queue()

    def _answered(self, request: RawRequest, answer: Answer | Deferred) -> None:
        if isinstance(answer, Deferred):  # a long-poll: what there is now
            answer = answer.poll() or answer.expire()
        if answer.delay > 0:  # injected latency: the answer waits, the loop does not
            self.busy = True
            self.loop.call_later(answer.delay, self._delayed, request, answer)
            return
        self._write(request, answer)

    def _delayed(self, request: RawRequest, answer: Answer) -> None:
        self.busy = False
        answer.delay = 0.0
        self._write(request, answer)
        self._answer_queue()

    def _write(self, request: RawRequest, answer: Answer) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        close = not request.keep_alive or (self.closing and not self.queue)
        # An HTTP/1.0 client keeps the connection only when told so.
        kept = not close and request.http_version == "1.0"
        head = request.method == "HEAD"
        transport.write(serialize(answer.response, close, kept=kept, head=head))
        log = self.shared.log
        if log is not None:
            log.record(answer, perf_counter() - request.begun)
        if close:
            self.phase = Phase.DONE
            self.queue.clear()
            self._close()
        elif transport.get_write_buffer_size():
            if self.drain_deadline is None:
                self.drain_deadline = request.started + self.shared.request_timeout
        else:
            self.drain_deadline = None

    def _queue_done(self) -> None:
        """Everything received is answered: refuse, close, or wait for the next request."""
        if self.refusal is not None:
            refusal, self.refusal = self.refusal, None
            self._write_and_close(self.app.refusal(refusal))
        elif self.closing or self.phase is Phase.DONE:
            self._close()
        elif self.phase is Phase.IDLE:
            self.idle_since = self.loop.time()

    # -- refusing, closing, time ----------------------------------------------------------

    def _refuse(self, error: wire.GatewayError) -> None:
        """Answer ``error`` and close, once earlier requests have their answers."""
        self.phase = Phase.DONE
        self.deadline = None
        self._pause_reading()
        if self.queue or self.busy:
            if self.refusal is None:
                self.refusal = error
            return
        self._write_and_close(self.app.refusal(error))

    def _write_and_close(self, answer: Answer) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() and self.paused:
            transport.abort()  # the client takes no answers: it would not read this one
            return
        transport.write(serialize(answer.response, True))
        self._close()
        log = self.shared.log
        if log is not None:
            log.record(answer, 0.0)

    def _close(self) -> None:
        """Close after the last answer without losing it: a plain close with unread input
        makes the kernel reset the connection, which can destroy answers the client has
        not read yet. So: send EOF after the answers, read and drop whatever the client
        still sends until it closes too (or :data:`_LINGER` seconds pass), then close."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.lingering:
            return
        self.phase = Phase.DONE
        if self.peer_done or not transport.can_write_eof():
            transport.close()
            return
        self.lingering = True
        transport.write_eof()
        transport.resume_reading()
        self.loop.call_later(_LINGER, transport.close)

    def _pause_reading(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def shutdown(self) -> None:
        """The server is stopping: finish the answers owed, read nothing more, close."""
        self.closing = True
        if self.phase is not Phase.DONE:
            self.phase = Phase.DONE
            self._pause_reading()
        if not self.queue and not self.busy:
            self._queue_done()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
