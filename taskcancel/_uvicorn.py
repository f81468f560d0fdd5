"""How taskcancel runs its ASGI app under uvicorn: one configuration for every server.

``taskcancel serve``, :class:`~taskcancel.testing.EmulatorServer` and the benchmarks all
build their ``uvicorn.Config`` here. Besides the options, it guards what happens before
the app sees a request, where uvicorn's fast httptools protocol would otherwise answer in
plain text or not at all:

* Size: httptools keeps the request line and headers in memory with no limit of its own,
  so each request's head is counted as it arrives and an oversized one is refused with an
  Aliyun-shaped ``RequestTooLarge`` (413), then the connection is closed.
* Time: uvicorn only times out idle connections *after* a response, so a client that
  connects and never finishes a request would hold its socket forever. Every request must
  arrive in full within ``request_timeout`` seconds (30 by default) of its first byte (or
  of the connection opening); otherwise ``RequestTimeout`` (408) and the connection closes.
* Connections: past ``max_connections`` open connections (1,000 by default) a new one is
  answered ``ServiceUnavailable`` (503) and closed at once, so slow clients cannot use up
  the process's file descriptors.
* Bytes that are not HTTP get ``InvalidParameter.Format`` (400) instead of uvicorn's
  plain-text 400. When such an error follows requests of the same connection that are
  still being answered (pipelining), their responses are written first: a client never
  reads the error as the answer to a request the emulator carried out.
* WebSocket upgrades are not served (``ws="none"``): an upgrade request reaches the app as
  the plain HTTP request it also is, and is answered like any other; requests pipelined
  after it are parsed as usual. (The parser stops at an upgrade request's headers, so a
  body sent with one is read as the next request, and refused as not HTTP.)
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import wire
from ._client import uuid_request_ids

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT",
    "check_guards",
    "uvicorn_config",
]

log = logging.getLogger("taskcancel.server")

#: Seconds a request may take to arrive in full.
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Open connections past which new ones are refused with ``ServiceUnavailable``.
DEFAULT_MAX_CONNECTIONS = 1000

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    413: b"Request Entity Too Large",
    503: b"Service Unavailable",
}


def _raw_error(error: wire.GatewayError) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection."""
    response = wire.render_gateway_error(
        error, request_id=uuid_request_ids(), host_id=wire.DEFAULT_HOST_ID
    )
    lines = [b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, b"Error"))]
    lines += [
        b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
    ]
    lines.append(b"connection: close\r\n\r\n")
    return b"".join(lines) + response.body


def _guarded_httptools(limits: wire.Limits, request_timeout: float, max_connections: int) -> Any:
    """uvicorn's httptools protocol with the size, time and connection guards above."""
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # The head (request line and headers) may carry the whole query and every header;
    # a chunk that also holds the start of the body is counted whole, hence the body term.
    most = limits.max_query_bytes + limits.max_header_bytes + limits.max_body_bytes + 8192

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True
        # When the request being received must be complete (None: none is arriving), and
        # the connection's watchdog, which checks it: one timer per connection, re-armed
        # only when it fires, so a request costs one clock read.
        _deadline: float | None = None
        _watchdog: asyncio.TimerHandle | None = None
        _refusal: wire.GatewayError | None = None  # waiting for earlier answers
        _running: Any = None  # the request/response cycle the app is answering

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                self._refuse(wire.service_unavailable())
                return
            self._deadline = self.loop.time() + request_timeout
            self._watch(request_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_watching()
            running = self._running
            if running is not None and not running.response_complete:
                # uvicorn tells only the newest request; an earlier pipelined one still
                # being answered must learn it too, or its reply meets a closed transport.
                running.disconnected = True
                running.message_event.set()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refusal is not None or self.transport.is_closing():
                return  # the parser is done with this connection
            if self._in_head:
                if self._deadline is None:  # bytes between requests (a stray CRLF) count
                    self._deadline = self.loop.time() + request_timeout
                self._head_bytes += len(data)
                if self._head_bytes > most:
                    self._refuse(wire.too_large("request head", most))
                    return
            self._unset_keepalive_if_required()
            while data:
                try:
                    self.parser.feed_data(data)
                    return
                except httptools.HttpParserError:
                    self.logger.warning("Invalid HTTP request received.")
                    self.send_400_response("Invalid HTTP request received.")
                    return
                except httptools.HttpParserUpgrade as upgrade:
                    # No protocol switch is served: the request was taken as plain HTTP,
                    # and whatever the client sent after it is parsed as usual.
                    data = data[upgrade.args[0] :] if upgrade.args else b""

        def on_message_begin(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.time() + request_timeout
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()
            if not self.pipeline or self.pipeline[0][0] is not self.cycle:
                self._running = self.cycle  # started at once, not queued behind another

        def on_message_complete(self) -> None:
            self._in_head, self._head_bytes = True, 0
            self._deadline = None
            super().on_message_complete()

        def on_response_complete(self) -> None:
            queued = self.pipeline[-1][0] if self.pipeline else None
            super().on_response_complete()
            if queued is not None and (not self.pipeline or self.pipeline[-1][0] is not queued):
                self._running = queued  # uvicorn started the next pipelined request
            if self._refusal is not None and not self._earlier_unanswered():
                refusal, self._refusal = self._refusal, None
                self._refuse(refusal)

        def send_400_response(self, msg: str) -> None:
            self._refuse(wire.malformed("The request is not valid HTTP/1.1."))

        def _refuse(self, error: wire.GatewayError) -> None:
            """Answer ``error`` and close, once earlier requests have their answers."""
            self._deadline = None
            self._stop_watching()
            if self.transport.is_closing():
                return
            if not self._in_head:
                # The request being received broke off (bad bytes, out of time) after its
                # head: it gets this error, not an answer, so the app must not wait for it.
                self._abandon(self.cycle)
            if self._earlier_unanswered():
                if self._refusal is None:
                    self._refusal = error
                    self.flow.pause_reading()
                return
            self.transport.write(_raw_error(error))
            self.transport.close()
            # The app's one line per request, for requests it never saw.
            log.info("- %s %d -", error.code, error.http_status)

        def _watch(self, delay: float) -> None:
            self._watchdog = self.loop.call_later(delay, self._check_deadline)

        def _stop_watching(self) -> None:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None

        def _check_deadline(self) -> None:
            # Armed at most request_timeout before any deadline set since, so it fires in time.
            self._watchdog = None
            if self.transport.is_closing():
                return
            now, deadline = self.loop.time(), self._deadline
            if deadline is not None and now >= deadline and self._earlier_unanswered():
                # uvicorn stops reading while earlier requests are answered: the clock
                # must not run out on a request the server is not reading.
                deadline = self._deadline = now + request_timeout
            if deadline is None:
                self._watch(request_timeout)
            elif now < deadline:
                self._watch(deadline - now)
            else:
                self._timed_out()

        def _earlier_unanswered(self) -> bool:
            """Whether a request before the one arriving still waits for its answer."""
            current = None if self._in_head else self.cycle
            running = self._running
            if running is not None and running is not current and not self._done(running):
                return True
            return any(cycle is not current for cycle, _ in self.pipeline)

        @staticmethod
        def _done(cycle: Any) -> bool:
            return bool(cycle.response_complete or cycle.disconnected)

        def _timed_out(self) -> None:
            if not self._in_head and self._done(self.cycle):
                # Answered already (the app refused an oversized body early) while the
                # rest of the body never came: nothing more to say, just close.
                self._deadline = None
                self.transport.close()
                return
            self._refuse(wire.request_timeout(request_timeout))

        def _abandon(self, cycle: Any) -> None:
            for entry in [e for e in self.pipeline if e[0] is cycle]:
                self.pipeline.remove(entry)  # queued: it never starts
            cycle.disconnected = True  # running: the app reads a disconnect
            cycle.message_event.set()

    return GuardedHttpToolsProtocol


def check_guards(request_timeout: float, max_connections: int) -> None:
    """``ValueError`` unless both connection guards are usable values."""
    if not request_timeout > 0:
        raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
    if not isinstance(max_connections, int) or max_connections < 1:
        raise ValueError(f"max_connections must be an int of at least 1, got {max_connections!r}")


def uvicorn_config(
    app: Any,
    *,
    limits: wire.Limits = wire.DEFAULT_LIMITS,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    **options: Any,
) -> Any:
    """A ``uvicorn.Config`` for ``app``: httptools (guarded) when installed, else h11.

    ``options`` go to ``uvicorn.Config`` as they are. Without httptools, h11's own buffer
    limit bounds request heads, and uvicorn's defaults apply to the rest.
    """
    import uvicorn

    check_guards(request_timeout, max_connections)
    settings: dict[str, Any] = {
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,  # the emulator never reads client addresses
        "ws": "none",
    }
    try:
        settings["http"] = _guarded_httptools(limits, request_timeout, max_connections)
    except ImportError:  # no httptools: h11, whose own buffer limit does the bounding
        settings["http"] = "h11"
        settings["h11_max_incomplete_event_size"] = (
            limits.max_query_bytes + limits.max_header_bytes + 8192
        )
    settings.update(options)
    return uvicorn.Config(app, **settings)
