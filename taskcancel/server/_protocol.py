"""The connection layer: HTTP/1.1 on httptools' public parser, answered by a sans-IO app.

Theory of operation. One :class:`Connection` per TCP connection (an ``asyncio.Protocol``).
Bytes go to httptools' ``HttpRequestParser``, whose callbacks assemble a :class:`RawRequest`.
Complete requests join a queue and are answered strictly in arrival order, one at a time,
by the app's synchronous ``handle`` (in a worker thread when the app says it may block).

The state of reading, explicit as in h11's ``_state.py``:

* ``IDLE``: between requests; the next byte starts one.
* ``HEAD``: a request line and headers are arriving (bounded by the head budget).
* ``BODY``: a body is arriving (bounded by the body budget).
* ``DONE``: nothing more is read: the connection was refused, asked to close, or the
  server is stopping. Requests already received still get their answers, then it closes.

Rules:

1. Every request must arrive, be answered and have its answer taken by the client within
   ``request_timeout`` seconds of its first byte (of the connection opening, for the first
   request). A request still arriving then gets ``RequestTimeout`` (408); a client that
   stops reading its answers is cut off. One timer per connection checks this.
2. Anything refused at this layer (bytes that are not HTTP, an oversized head or body, a
   ``CONNECT``, a target that is not a path) gets an Aliyun-shaped error written *after*
   the answers to earlier requests, then the connection closes.
3. While the client is not reading (the transport's buffer is full) no more requests are
   read or answered: a pipelining client cannot make the server buffer without bound.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import TYPE_CHECKING, cast

import httptools

from .. import wire
from ._http11 import CONTINUE, malformed
from ._request import RawRequest
from ._responder import Phase, Responder
from ._watchdog import arm

if TYPE_CHECKING:
    from ._connections import ConnectionSet

__all__ = ["Connection", "Phase"]  # Phase: see _responder

log = logging.getLogger("taskcancel.server")

#: Complete requests a connection may hold unanswered before it stops reading.
_MAX_QUEUED = 32
#: Bytes of a body fed to the parser at a time (see data_received).
_BODY_SLICE = 65536


class Connection(Responder, asyncio.Protocol):
    """One TCP connection: bytes in, through httptools, to :class:`Responder`."""

    def __init__(self, shared: ConnectionSet) -> None:
        self.shared = shared
        self.app = shared.app
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        super().__init__()
        # The request arriving: its parts, and when it must be complete.
        self.deadline: float | None = None
        self.started = 0.0
        self.begun = 0.0  # perf_counter() at the first byte: the logged latency
        self.head_bytes = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.framing = 0  # bytes of the body phase that were not body (see _framing_over)
        self.body_limit = shared.limits.max_body_bytes
        self.keep_alive = True
        self.timer: asyncio.TimerHandle | None = None  # the connection's one timer

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports offer asyncio.Transport's API without subclassing it.
        self.transport = transport = cast(asyncio.Transport, transport)
        if not self.shared.added(self):
            # Over the cap: answer and close at once (no lingering: that would hold on to
            # the very file descriptors the cap is there to save).
            self.phase, self.peer_done = Phase.DONE, True
            self._write_and_close(self.app.refusal(wire.GATEWAY_ERRORS["ServiceUnavailable"]))
            return
        transport.set_write_buffer_limits(high=65536)
        now = self.loop.time()
        self.idle_since = self.started = now
        self.deadline = now + self.shared.request_timeout
        arm(self, self.shared.request_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.phase is Phase.HEAD or self.phase is Phase.BODY:
            log.info("client disconnected mid-request: that request is not carried out")
        self.phase = Phase.DONE
        self.queue.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.shared.removed(self)

    def pause_writing(self) -> None:
        self.paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.drain_deadline = None
        if self.phase is not Phase.DONE and self.transport is not None:
            self.transport.resume_reading()
        self._answer_queue()

    def data_received(self, data: bytes) -> None:
        if self.phase is Phase.IDLE and self.deadline is None:
            # Bytes between requests (a stray CRLF) start the next request's clock.
            self.deadline = self.loop.time() + self.shared.request_timeout
        view = memoryview(data)
        body_before = self.body_bytes
        while view and self.phase is not Phase.DONE:
            if self.phase is Phase.BODY:
                # A body is fed a slice at a time, and what a slice holds besides body
                # bytes (chunk sizes, extensions, trailers) counts against the head budget.
                piece, view = view[:_BODY_SLICE], view[_BODY_SLICE:]
                body_before = self.body_bytes
            else:
                # Heads are fed at most a budget's worth at a time, so a chunk of many
                # small pipelined requests is fine and one endless head is not.
                room = self.shared.max_head - self.head_bytes
                if room <= 0:
                    self._refuse(
                        wire.gateway_error(
                            "RequestTooLarge", what="request head", limit=self.shared.max_head
                        )
                    )
                    return
                piece, view = view[:room], view[room:]
                self.head_bytes += len(piece)
            try:
                self.parser.feed_data(piece)
                if self.phase is Phase.BODY and self._framing_over(piece, body_before):
                    return
            except httptools.HttpParserCallbackError:
                return  # a callback refused the request and said why
            except httptools.HttpParserUpgrade as upgrade:
                self._upgrade(bytes(piece), upgrade)
                if view and not self._stopped():
                    self.data_received(bytes(view))
                return
            except httptools.HttpParserError:
                self._refuse(malformed("The request is not valid HTTP/1.1."))
                return

    def eof_received(self) -> bool:
        # The client sends no more (a request cut short is not carried out); the answers
        # to what it sent are still written, then the connection closes.
        self.peer_done = True
        if self.lingering:
            if self.transport is not None:
                self.transport.close()
            return True
        if self.phase is Phase.HEAD or self.phase is Phase.BODY:
            log.info("client disconnected mid-request: that request is not carried out")
        self.phase = Phase.DONE
        self.closing = True
        if not self.queue and not self.busy:
            self._queue_done()
        return True

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.started = self.loop.time()
        self.begun = perf_counter()
        if self.deadline is None:
            self.deadline = self.started + self.shared.request_timeout
        self.phase = Phase.HEAD
        self.url = b""
        self.headers = []
        self.body = []
        self.body_bytes = 0
        self.framing = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.phase is Phase.HEAD:  # trailers (after a chunked body) are dropped
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        self.keep_alive = parser.should_keep_alive()
        self.phase = Phase.BODY
        self.head_bytes = 0
        if not self.url.startswith(b"/"):
            self._refuse_in_callback(malformed("The request target must be a path."))
        self.body_limit = self.shared.limits.max_body_bytes
        if self.url.startswith(b"/_taskcancel/"):  # a world file may be larger than a call
            self.body_limit = max(self.body_limit, self.app.control_body_limit(self.headers))
        expects = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length" and value.isdigit():
                if int(value) > self.body_limit:
                    self._refuse_in_callback(
                        wire.gateway_error("RequestTooLarge", what="body", limit=self.body_limit)
                    )
            elif lower == b"expect" and value.lower() == b"100-continue":
                expects = True
        # Only once every header passed, and only when nothing is answered before it.
        if expects and not self.queue and not self.busy and self.transport is not None:
            self.transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.body_limit:
            self._refuse_in_callback(
                wire.gateway_error("RequestTooLarge", what="body", limit=self.body_limit)
            )
        self.body.append(body)

    def on_message_complete(self) -> None:
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        request = RawRequest(
            self.parser.get_method().decode("ascii", "replace"),
            self.url,
            self.headers,
            body,
            self.keep_alive,
            self.started,
            self.parser.get_http_version(),
            self.begun,
        )
        self.phase, self.deadline, self.head_bytes = Phase.IDLE, None, 0
        self.queue.append(request)
        if not self.keep_alive:
            self.phase = Phase.DONE  # nothing after a request that closes is read
        if not self.busy and not self.paused:
            self._answer_queue()
        if len(self.queue) >= _MAX_QUEUED:
            self._pause_reading()

    def _refuse_in_callback(self, error: wire.GatewayError) -> None:
        self._refuse(error)
        raise _Refused  # stops the parser; feed_data raises HttpParserCallbackError

    def _framing_over(self, piece: memoryview, body_before: int) -> bool:
        """Count what ``piece`` held besides body bytes; refuse once past the budget."""
        self.framing += len(piece) - (self.body_bytes - body_before)
        if self.framing <= self.shared.max_head:
            return False
        what = "chunk framing and trailers"
        self._refuse(wire.gateway_error("RequestTooLarge", what=what, limit=self.shared.max_head))
        return True

    def _upgrade(self, data: bytes, upgrade: httptools.HttpParserUpgrade) -> None:
        """``CONNECT`` is refused; other upgrades are served as the plain requests they are
        -- but never with a body, which the parser leaves unread at an upgrade: read as
        the next request, it would be a request smuggled past whatever fronts us."""
        if self.parser.get_method() == b"CONNECT":
            self._refuse(malformed("CONNECT is not supported."))
            return
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"transfer-encoding" or (lower == b"content-length" and value != b"0"):
                self._refuse(malformed("A request that asks to upgrade may not carry a body."))
                return
        offset = upgrade.args[0] if upgrade.args else len(data)
        if offset < len(data) and self.phase is not Phase.DONE:
            self.data_received(data[offset:])

    def _stopped(self) -> bool:
        """Whether reading stopped (a parser callback can change the phase)."""
        return self.phase is Phase.DONE


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a refused request."""
