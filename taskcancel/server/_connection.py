"""One HTTP/1.1 connection: bytes in through httptools, answers out in arrival order.

Theory of operation. One :class:`Connection` per TCP connection (an ``asyncio.Protocol``),
written against :class:`~._transport.Transport` and :class:`~._transport.Loop` only, so a
test drives it with a fake transport and a manual clock. Bytes go to httptools'
``HttpRequestParser``, whose callbacks assemble a :class:`RawRequest`. Complete requests
join a queue and are answered strictly in arrival order, one at a time, by the app's
``stage`` (the store's part in a worker thread when the app says it may block; a
:class:`Deferred` waits for a wake-up holding no thread).

The state of reading, explicit as in h11's ``_state.py``:

* ``IDLE``: between requests; the next byte starts one.
* ``HEAD``: a request line and headers are arriving (bounded by the head budget).
* ``BODY``: a body is arriving (bounded by the body budget; a chunked body's framing
  by the head budget). Every budget is the request's own.
* ``DONE``: nothing more is read: the connection was refused, asked to close, or the
  server is stopping. Requests already received still get their answers, then it closes.
  Bytes that arrive after a request that closes the connection are dropped unread.

Rules:

1. Every request must arrive, be answered and have its answer taken by the client within
   ``request_timeout`` seconds of its first byte (of the connection opening, for the first
   request). A request still arriving then gets ``RequestTimeout`` (408); a client that
   stops reading its answers is cut off. One timer per connection checks this, and
   closes a connection idle for ``keep_alive`` seconds after its last answer.
2. Anything refused at this layer (bytes that are not HTTP, an oversized head or body, a
   ``CONNECT``, a target that is not a path, an HTTP/1.1 request without ``Host``) gets an
   Aliyun-shaped error written *after* the answers to earlier requests, then the
   connection closes.
3. No more requests are read while the client is not reading (the transport's buffer is
   full), while :data:`_MAX_QUEUED` wait, or while the server's connections together hold
   more unanswered bytes than their budget and this one is among those holding the most.
   Reading resumes as soon as none of these holds.
4. Closing never destroys an answer: EOF after the last answer, then what the client still
   sends is read and dropped for up to :data:`_LINGER` seconds. A connection owed nothing
   (idle) closes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections import deque
from concurrent.futures import Future
from time import perf_counter
from typing import cast

import httptools

from .. import wire
from ._connections import ConnectionSet, Held
from ._http11 import CONTINUE, malformed, read_head, serialize, upgrade_refusal
from ._request import Answer, Deferred, Pending, RawRequest
from ._transport import Loop, Timer, Transport
from ._wait import Wait

__all__ = ["TLS_ON_PLAIN_PORT", "Connection", "Phase"]

log = logging.getLogger("taskcancel.server")

#: Complete requests a connection may hold unanswered before it stops reading.
_MAX_QUEUED = 32
#: Bytes of a body fed to the parser at a time (see data_received).
_BODY_SLICE = 65536
#: Seconds a closing connection keeps reading (and dropping) what its client still sends.
_LINGER = 1.0
#: The first bytes of a TLS handshake record (a ClientHello): content type 22, version 3.x.
_TLS_RECORD = b"\x16\x03"
TLS_ON_PLAIN_PORT = "TLS handshake on a plain-HTTP port: set protocol HTTP in the SDK config"


class Phase(enum.Enum):
    IDLE = "idle"
    HEAD = "head"
    BODY = "body"
    DONE = "done"


_DONE: Phase = Phase.DONE  # typed as any phase: a callback may have moved there meanwhile


class Connection(asyncio.Protocol):
    """One TCP connection: its reading, its queue of answers, its timer and its close."""

    def __init__(self, shared: ConnectionSet, loop: Loop | None = None) -> None:
        self.shared = shared
        self.app = shared.app
        self.loop: Loop = loop if loop is not None else asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Transport | None = None
        self.phase = Phase.IDLE
        self.reading = True  # what we last told the transport
        self.fresh = True  # no byte received yet
        self.unread = b""  # read while reading was paused, to parse once it resumes
        self.eof_pending = False  # the client's EOF came after ``unread``
        # Answering.
        self.queue: deque[RawRequest] = deque()
        # Bytes the requests that had to wait hold (the last ``len(held_bytes)`` of the
        # queue), charged to the shared budget.
        self.held_bytes = Held(shared)
        self.held_off = False  # not read because of the shared budget
        self.busy = False  # the app is answering a request (worker, latency, long-poll)
        self.paused = False  # the client is not taking its answers
        self.refusal: wire.GatewayError | None = None  # to answer once the queue is done
        self.closing = False  # close once the queue is answered
        self.peer_done = False  # the client sent EOF
        self.lingering = False  # we sent EOF and wait for the client's (see _close)
        self.waiting: Wait | None = None  # a long-poll
        self.stall: Timer | None = None  # a stall fault's end
        # When the last answer was written; when the answer still in the transport's
        # buffer was due.
        self.idle_since = 0.0
        self.drain_deadline: float | None = None
        # The request arriving: its parts, and when it must be complete.
        self.deadline: float | None = None
        self.started = 0.0
        self.begun = 0.0  # perf_counter() at the first byte: the logged latency
        self.messages = 0  # requests begun on this connection
        self.head_bytes = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.body_left = 0  # Content-Length; -1 for a chunked body
        self.framing = 0  # bytes of a chunked body that were not body
        self.body_limit = shared.limits.max_body_bytes
        self.keep_alive = True
        self.version = "1.1"
        self.timer: Timer | None = None  # the connection's one timer

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports offer asyncio.Transport's API without subclassing it.
        pipe = self.transport = cast(Transport, transport)
        shared = self.shared
        if not shared.added(self):
            # Over the cap: answer and close at once (no lingering: that would hold on to
            # the very file descriptors the cap is there to save).
            self.phase, self.peer_done = Phase.DONE, True
            self._write_and_close(self.app.refusal(wire.GATEWAY_ERRORS["ServiceUnavailable"]))
            return
        pipe.set_write_buffer_limits(high=65536)
        now = self.loop.time()
        self.idle_since = self.started = now
        self.deadline = now + shared.request_timeout
        self._arm(shared.tick)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.phase is Phase.HEAD or self.phase is Phase.BODY:
            log.info("client disconnected mid-request: that request is not carried out")
        self.phase = Phase.DONE
        self.unread = b""
        self.queue.clear()
        self.held_bytes.release()
        if self.waiting is not None:
            self.waiting.cancel()
            self.waiting = None
        for timer in (self.timer, self.stall):
            if timer is not None:
                timer.cancel()
        self.timer = self.stall = None
        self.shared.removed(self)

    def pause_writing(self) -> None:
        self.paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self.drain_deadline = None
        self._update_reading()
        self._answer_queue()

    def data_received(self, data: bytes) -> None:
        if self.phase is Phase.DONE:
            return  # after a request that closes, a refusal, or while lingering: dropped
        if self.unread:  # read before reading paused, and not parsed yet: it comes first
            data, self.unread = self.unread + data, b""
        if self.fresh:
            self.fresh = False
            if data[:2] == _TLS_RECORD:
                self._tls()
                return
        elif self.phase is Phase.IDLE and self.deadline is None:
            # Bytes between requests (a stray CRLF) start the next request's clock.
            self.deadline = self.loop.time() + self.shared.request_timeout
        view = memoryview(data)
        while view and self.phase is not _DONE:  # (a parser callback may end reading)
            if not self.reading:
                # Reading paused (rule 3) while parsing this read: the rest waits unparsed
                # (raw bytes cost less than the requests made of them) until it resumes.
                self.unread = bytes(view)
                return
            in_body = self.phase is Phase.BODY
            if in_body and self.body_left - self.body_bytes > 0:
                # Exactly the rest of this body: what follows is the next request's.
                cut = min(self.body_left - self.body_bytes, _BODY_SLICE)
                piece, view = view[:cut], view[cut:]
            elif in_body:
                # A chunked body is fed a slice at a time; what a slice holds besides
                # body bytes (chunk sizes, extensions, trailers) counts against this
                # request's head budget (see below).
                piece, view = view[:_BODY_SLICE], view[_BODY_SLICE:]
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
            before, messages = self.body_bytes, self.messages
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserCallbackError:
                return  # a callback refused the request and said why, or dropped the rest
            except httptools.HttpParserUpgrade as upgrade:
                self._upgrade(bytes(piece), upgrade)
                if view and not self._stopped():
                    self.data_received(bytes(view))
                return
            except httptools.HttpParserError:
                if self._stopped():  # bytes after a request that closes
                    log.debug("dropped bytes sent after a request that closes the connection")
                    return
                self._refuse(malformed("The request is not valid HTTP/1.1."))
                return
            if (
                self.body_left < 0
                and self.phase is Phase.BODY
                and self._framing_over(len(piece), before, messages, in_body)
            ):
                return

    def _framing_over(self, size: int, before: int, messages: int, in_body: bool) -> bool:
        """Count what a piece of ``size`` bytes held besides this chunked body's bytes;
        refuse once past the head budget. The budget is the request's own: bytes of the
        requests before it in the piece are never charged to it."""
        if self.messages == messages:
            self.framing += size - (self.body_bytes - before)
        elif not in_body:  # it began in this piece of at most a head budget: charge it all
            self.framing = size - self.body_bytes
        if self.framing <= self.shared.max_head:
            return False
        what, limit = "chunk framing and trailers", self.shared.max_head
        self._refuse(wire.gateway_error("RequestTooLarge", what=what, limit=limit))
        return True

    def _stopped(self) -> bool:
        """Whether reading stopped (a parser callback can change the phase)."""
        return self.phase is Phase.DONE

    def eof_received(self) -> bool:
        # The client sends no more (a request cut short is not carried out); the answers
        # to what it sent are still written, then the connection closes.
        self.peer_done = True
        if self.unread:  # the requests read before it are parsed first (see _resume)
            self.eof_pending = True
            return True
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
        if self.phase is Phase.DONE:
            # A request pipelined behind one that closes the connection: never read.
            log.debug("dropped a request sent after one that closes the connection")
            raise _Refused
        self.started = self.loop.time()
        self.begun = perf_counter()
        if self.deadline is None:
            self.deadline = self.started + self.shared.request_timeout
        self.phase = Phase.HEAD
        self.messages += 1
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
        self.version = version = parser.get_http_version()
        self.phase = Phase.BODY
        self.head_bytes = 0
        self.body_limit = self.shared.limits.max_body_bytes
        if self.url.startswith(b"/_taskcancel/"):  # a world file may be larger than a call
            self.body_limit = max(self.body_limit, self.app.control_body_limit(self.headers))
        head = read_head(
            self.url, self.headers, version, parser.should_keep_alive(), self.body_limit
        )
        if head.refusal is not None:
            self._refuse_in_callback(head.refusal)
        if parser.should_upgrade():
            # Refused here, before its body: httptools reads a body and completes the
            # message before it raises HttpParserUpgrade, too late to refuse it then.
            refusal = upgrade_refusal(parser.get_method(), self.headers)
            if refusal is not None:
                self._refuse_in_callback(refusal)
        self.body_left, self.keep_alive = head.body_length, head.keep_alive
        # Only when nothing is answered before it.
        if head.expects_continue and not self.queue and not self.busy and self.transport:
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
            self.version,
            self.begun,
        )
        self.phase, self.deadline, self.head_bytes = Phase.IDLE, None, 0
        if not self.keep_alive:
            self.phase = Phase.DONE  # nothing after a request that closes is read
        waits = self.queue or self.busy or self.paused
        self.queue.append(request)
        if not waits:
            self._answer_queue()
            return
        self._charge(request)  # it waits: its bytes count against the shared budget

    def _charge(self, request: RawRequest) -> None:
        self.held_bytes.charge(request)
        if len(self.queue) >= _MAX_QUEUED:
            self._update_reading()

    def _refuse_in_callback(self, error: wire.GatewayError) -> None:
        self._refuse(error)
        raise _Refused  # stops the parser; feed_data raises HttpParserCallbackError

    def _upgrade(self, data: bytes, upgrade: httptools.HttpParserUpgrade) -> None:
        """An upgrade is served as the plain request it is, or refused (see
        :func:`~._http11.upgrade_refusal`)."""
        refusal = upgrade_refusal(self.parser.get_method(), self.headers)
        if refusal is not None:
            self._refuse(refusal)
            return
        offset = upgrade.args[0] if upgrade.args else len(data)
        if offset < len(data) and self.phase is not Phase.DONE:
            self.data_received(data[offset:])

    def _tls(self) -> None:
        """A TLS client on this plain-HTTP port: say so in one warning line, answer the
        bytes as the HTTP they are not (the client reports a wrong TLS version, not a
        silent close) and close."""
        log.warning(TLS_ON_PLAIN_PORT)
        self._refuse(malformed(f"A {TLS_ON_PLAIN_PORT}."))

    # -- answering, in arrival order -------------------------------------------------------

    def _answer_queue(self) -> None:
        transport = self.transport
        queue = self.queue
        while queue and not self.busy and not self.paused:
            if transport is None or transport.is_closing():
                return
            request = queue.popleft()
            if len(self.held_bytes) > len(queue):  # it was charged: the budget gets it back
                self.held_bytes.discharge_oldest()
            staged = self.app.stage(request)  # refusals and health: on the loop, at once
            if isinstance(staged, Answer):
                self._answered(request, staged)
                continue
            if isinstance(staged, Pending):
                if not staged.offload:
                    result = staged.run()
                    if isinstance(result, Answer):
                        self._answered(request, result)
                        continue
                    staged = result
                else:
                    self.busy = True  # the store's part, in a worker thread
                    future = self.shared.pool(staged).submit(staged.run)
                    future.add_done_callback(functools.partial(self._worker_done, request))
                    return
            answer = self._defer(request, staged)
            if answer is None:
                return  # a long-poll: answered when woken, or when it expires
            self._answered(request, answer)
        if not queue and not self.busy:
            self._queue_done()
        if not self.reading:
            self._update_reading()

    def _worker_done(self, request: RawRequest, future: Future[Answer | Deferred]) -> None:
        """In the worker thread (or the thread that cancelled it): back to the loop."""
        with contextlib.suppress(RuntimeError):  # the loop closed: the server is gone
            self.loop.call_soon_threadsafe(self._handled, request, future)

    def _handled(self, request: RawRequest, future: Future[Answer | Deferred]) -> None:
        self.busy = False
        if future.cancelled():  # the server stopped before the work began
            return
        exc = future.exception()
        if exc is not None:
            log.error("answering a request failed", exc_info=exc)
            result: Answer | Deferred = self.app.refusal(wire.GATEWAY_ERRORS["InternalError"])
        else:
            result = future.result()
        if isinstance(result, Deferred):
            answer = self._defer(request, result)
            if answer is None:
                return
            result = answer
        self._answered(request, result)
        self._answer_queue()

    def _answered(self, request: RawRequest, answer: Answer) -> None:
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
        if answer.fault is not None:
            self._fault(request, answer, transport)
            return
        close = not request.keep_alive or (self.closing and not self.queue)
        # An HTTP/1.0 client keeps the connection only when told so.
        kept = not close and request.http_version == "1.0"
        head = request.method == "HEAD"
        transport.write(serialize(answer.response, close, kept=kept, head=head))
        request_log = self.shared.log
        if request_log is not None:
            request_log.record(answer, perf_counter() - request.begun)
        if close:
            self.phase = Phase.DONE
            self.queue.clear()
            self.held_bytes.release()
            self._close()
        elif transport.get_write_buffer_size():
            if self.drain_deadline is None:
                self.drain_deadline = request.started + self.shared.request_timeout
        else:
            self.drain_deadline = None

    def _fault(self, request: RawRequest, answer: Answer, transport: Transport) -> None:
        """A fault rule's wire fault (docs/faults.md) instead of the answer: the connection
        ends, and nothing after this request is read or answered."""
        request_log = self.shared.log
        if request_log is not None:
            request_log.record(answer, perf_counter() - request.begun)
        self.phase = Phase.DONE
        self.queue.clear()
        self.held_bytes.release()
        fault = answer.fault
        if fault == "stall":  # nothing for a while, then a close (the timer; no thread)
            self.busy = True
            self.deadline = self.drain_deadline = None
            self._update_reading()
            self.stall = self.loop.call_later(answer.stall_seconds, self._stalled)
        elif fault == "truncate":  # the head and half the body, then EOF
            head = request.method == "HEAD"
            data = serialize(answer.response, True, head=head)
            transport.write(
                data[: len(data) - (0 if head else (len(answer.response.body) + 1) // 2)]
            )
            self._close()
        else:  # "reset", "reset-after": no answer at all
            if fault not in ("reset", "reset-after"):
                log.warning("unknown wire fault %r: the connection is reset", fault)
            transport.abort()

    def _stalled(self) -> None:
        self.stall = None
        if self.transport is not None:
            self.transport.close()

    # -- long-polls ----------------------------------------------------------------------

    def _defer(self, request: RawRequest, deferred: Deferred) -> Answer | None:
        """The answer if ``deferred`` has it now; else wait for it (busy) and ``None``."""
        if self.closing:  # the server is stopping: no waiting
            answer = deferred.poll()
            return answer if answer is not None else deferred.expire()
        wait = Wait(self.loop, deferred, functools.partial(self._settle, request))
        answer = wait.start()
        if answer is None:
            self.busy = True
            self.waiting = wait
        return answer

    def _settle(self, request: RawRequest, answer: Answer) -> None:
        self.waiting = None
        self.busy = False
        self._answered(request, answer)
        self._answer_queue()

    # -- the shared budget ---------------------------------------------------------------

    @property
    def held(self) -> int:
        return self.held_bytes.total

    def hold_off(self, paused: bool) -> None:
        self.held_off = paused
        self._update_reading()

    def _update_reading(self) -> None:
        """Read exactly when rule 3 of this module allows it."""
        want = (
            self.phase is not Phase.DONE
            and not self.paused
            and not self.held_off
            and len(self.queue) < _MAX_QUEUED
        )
        if want is self.reading or self.lingering:  # lingering reads (and drops) to the end
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.reading = want
        if want:
            transport.resume_reading()
            if self.unread:
                self._resume()
        else:
            transport.pause_reading()

    def _resume(self) -> None:
        """Parse what was read before reading paused; then the client's EOF, if it came."""
        self.data_received(b"")
        if self.eof_pending and not self.unread:
            self.eof_pending = False
            self.eof_received()

    # -- refusing, closing ---------------------------------------------------------------

    def _queue_done(self) -> None:
        """Everything received is answered: refuse, close, or wait for the next request."""
        if self.refusal is not None:
            refusal, self.refusal = self.refusal, None
            self._write_and_close(self.app.refusal(refusal))
        elif self.closing or self.phase is Phase.DONE:
            self._close()
        elif self.phase is Phase.IDLE:
            self.idle_since = self.loop.time()

    def _refuse(self, error: wire.GatewayError) -> None:
        """Answer ``error`` and close, once earlier requests have their answers."""
        self.phase = Phase.DONE
        self.deadline = None
        self._update_reading()
        if self.queue or self.busy:
            if self.refusal is None:
                self.refusal = error
            return
        self._write_and_close(self.app.refusal(error))

    def _write_and_close(self, answer: Answer) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.lingering:
            return
        if transport.get_write_buffer_size() and self.paused:
            transport.abort()  # the client takes no answers: it would not read this one
            return
        transport.write(serialize(answer.response, True))
        self._close()
        request_log = self.shared.log
        if request_log is not None:
            request_log.record(answer, 0.0)

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
        self.reading = True
        transport.resume_reading()
        self.loop.call_later(_LINGER, transport.close)

    def shutdown(self) -> None:
        """The server is stopping: finish the answers owed, read nothing more, close.
        A connection owed nothing (idle, or waiting out a stall fault) closes at once."""
        self.closing = True
        transport = self.transport
        if self.stall is not None:
            self.stall.cancel()
            self._stalled()
            return
        if (
            self.phase is Phase.IDLE
            and not self.queue
            and not self.busy
            and transport is not None
            and not self.lingering
        ):
            self.phase = Phase.DONE
            transport.close()
            return
        if self.phase is not Phase.DONE:
            self.phase = Phase.DONE
            self._update_reading()
        if self.waiting is not None:  # a long-poll answers now, with what it has
            self.waiting.expire_now()
            return
        if not self.queue and not self.busy:
            self._queue_done()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- the timer: rule 1 and idle keep-alive ---------------------------------------------

    def _arm(self, delay: float) -> None:
        """Wake :meth:`_check` in ``delay`` seconds. One timer per connection, re-armed
        only when it fires (a request costs no timer work): it fires at the earliest
        moment something can be due, and at most ``shared.tick`` later, so no deadline
        set since (all are "now + request_timeout") and no idle period is overslept."""
        self.timer = self.loop.call_later(delay, self._check)

    def _check(self) -> None:
        """Enforce rule 1, close idle keep-alive connections, re-arm."""
        self.timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        shared, now = self.shared, self.loop.time()
        drain = self.drain_deadline
        if drain is not None and not transport.get_write_buffer_size():
            drain = self.drain_deadline = None
        waiting = self.queue[0].started + shared.request_timeout if self.queue else None
        if (drain is not None and now >= drain) or (
            waiting is not None and self.paused and now >= waiting
        ):
            transport.abort()  # the client stopped taking its answers: cut it off
            return
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            self._refuse(wire.gateway_error("RequestTimeout", seconds=shared.request_timeout))
            if not transport.is_closing():
                self._arm(shared.tick)
            return
        outstanding = deadline is not None or self.queue or self.busy or drain is not None
        if not outstanding and not self.lingering and now - self.idle_since >= shared.keep_alive:
            transport.close()
            return
        wake = [now + shared.tick]
        wake += [t for t in (deadline, drain, waiting) if t is not None]
        if not outstanding:
            wake.append(self.idle_since + shared.keep_alive)
        self._arm(max(min(wake) - now, 0.001))


class _Refused(Exception):
    """Raised in a parser callback to stop parsing (a refused request, or bytes after a
    request that closes the connection)."""
