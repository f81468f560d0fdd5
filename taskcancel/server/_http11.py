"""HTTP/1.1 as the connection layer applies it: what a request's head says about its
framing (RFC 9112), and the bytes it writes (status lines, headers, 100 Continue).

Pure: headers in, a value out; the connection does the reading and the writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import NamedTuple

from .. import wire

__all__ = ["CONTINUE", "Head", "malformed", "read_head", "serialize", "upgrade_refusal"]

#: Every status's reason phrase (the standard library's table), as bytes.
_REASONS = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
_STATUS_LINES = {
    status: b"HTTP/1.1 %d %s\r\n" % (status, reason) for status, reason in _REASONS.items()
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def serialize(
    response: wire.Response, close: bool, *, kept: bool = False, head: bool = False
) -> bytes:
    """The response's bytes; ``close`` says so in a header, and ``kept`` (to an HTTP/1.0
    client that asked for keep-alive) says the connection stays open. The answer to a
    ``HEAD`` request (``head``) has the headers of the full answer and no body."""
    status = response.status
    line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d %s\r\n" % (status, b"Status")
    # The headers as one string, encoded once (a hot path: every answer).
    fields = "".join([f"{name}: {value}\r\n" for name, value in response.headers])
    parts = [line, fields.encode("latin-1")]
    if close:
        parts.append(b"connection: close\r\n\r\n")
    elif kept:
        parts.append(b"connection: keep-alive\r\n\r\n")
    else:
        parts.append(b"\r\n")
    if not head:
        parts.append(response.body)
    return b"".join(parts)


def malformed(detail: str) -> wire.GatewayError:
    return wire.gateway_error("InvalidParameter.Format", detail=detail)


class Head(NamedTuple):
    """What a request's head decides before its body is read."""

    #: The refusal to answer instead (the first rule the head breaks), else ``None``.
    refusal: wire.GatewayError | None
    #: The body's Content-Length, or -1 for a chunked body.
    body_length: int
    keep_alive: bool
    #: Whether to send ``100 Continue`` (when nothing is answered before this request).
    expects_continue: bool


def read_head(
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    version: str,
    keep_alive: bool,
    body_limit: int,
) -> Head:
    """The framing of a request whose parser read ``target``, ``headers`` and ``version``
    (``keep_alive`` is the parser's reading of ``Connection``). Refused, in this order: a
    target that is not a path, a Content-Length over ``body_limit``, an HTTP/1.1 request
    without ``Host``."""
    refusal: wire.GatewayError | None = None
    if not target.startswith(b"/"):
        refusal = malformed("The request target must be a path.")
    expects = host = chunked = False
    length = 0
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length" and value.isdigit():
            length = int(value)
            if length > body_limit and refusal is None:
                refusal = wire.gateway_error("RequestTooLarge", what="body", limit=body_limit)
        elif lower == b"transfer-encoding":
            chunked = True
        elif lower == b"host":
            host = True
        elif lower == b"expect" and value.lower() == b"100-continue":
            expects = True
    if version == "1.0":
        # RFC 9112 6.1: a Transfer-Encoding in HTTP/1.0 makes the framing faulty, so the
        # connection closes after this message; and a 1.0 client would read a 100 Continue
        # as the final answer (RFC 9110 10.1.1).
        keep_alive = keep_alive and not chunked
        expects = False
    elif not host and refusal is None:
        refusal = malformed("An HTTP/1.1 request must carry a Host header.")
    return Head(refusal, -1 if chunked else length, keep_alive, expects and refusal is None)


def upgrade_refusal(
    method: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> wire.GatewayError | None:
    """Why a request that asks to upgrade is refused, or ``None`` to serve it as the plain
    request it is. ``CONNECT`` is refused; so is any body (asked once the head is read,
    before the body: served or read as the next request, it would be a request smuggled
    past whatever fronts us)."""
    if method == b"CONNECT":
        return malformed("CONNECT is not supported.")
    for name, value in headers:
        lower = name.lower()
        if lower == b"transfer-encoding" or (lower == b"content-length" and value != b"0"):
            return malformed("A request that asks to upgrade may not carry a body.")
    return None
