"""How taskcancel runs its ASGI app under uvicorn: one configuration for every server.

``taskcancel serve``, :class:`~taskcancel.testing.EmulatorServer` and the benchmarks all
build their ``uvicorn.Config`` here. Besides the options, it bounds what uvicorn buffers
before the app sees a request: httptools (uvicorn's fast parser) keeps the request line
and headers in memory with no limit of its own, so the protocol below counts the bytes of
each request's head as they arrive and refuses an oversized one with an Aliyun-shaped
``RequestTooLarge`` error, then closes the connection. Requests that are not HTTP at all
get an Aliyun-shaped ``InvalidParameter.Format`` instead of uvicorn's plain-text 400.
"""

from __future__ import annotations

from typing import Any

from . import wire
from ._client import uuid_request_ids

__all__ = ["uvicorn_config"]

_REASONS = {400: b"Bad Request", 413: b"Request Entity Too Large"}


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


def _bounded_httptools(limits: wire.Limits) -> Any:
    """uvicorn's httptools protocol, refusing request heads larger than ``limits`` allow."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    # The head (request line and headers) may carry the whole query and every header;
    # a chunk that also holds the start of the body is counted whole, hence the body term.
    most = limits.max_query_bytes + limits.max_header_bytes + limits.max_body_bytes + 8192

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
                if self._head_bytes > most:
                    self._refuse(wire.too_large("request head", most))
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head, self._head_bytes = True, 0
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            self._refuse(wire.malformed("The request is not valid HTTP/1.1."))

        def _refuse(self, error: wire.GatewayError) -> None:
            if not self.transport.is_closing():
                self.transport.write(_raw_error(error))
                self.transport.close()

    return BoundedHttpToolsProtocol


def uvicorn_config(app: Any, *, limits: wire.Limits = wire.DEFAULT_LIMITS, **options: Any) -> Any:
    """A ``uvicorn.Config`` for ``app``: httptools (bounded) when installed, else bounded h11."""
    import uvicorn

    settings: dict[str, Any] = {
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,  # the emulator never reads client addresses
    }
    try:
        settings["http"] = _bounded_httptools(limits)
    except ImportError:  # no httptools: h11, whose own buffer limit does the bounding
        settings["http"] = "h11"
        settings["h11_max_incomplete_event_size"] = (
            limits.max_query_bytes + limits.max_header_bytes + 8192
        )
    settings.update(options)
    return uvicorn.Config(app, **settings)
