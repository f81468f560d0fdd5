"""HTTP/1.1 bytes the connection layer writes: status lines, headers, 100 Continue."""

from __future__ import annotations

from http import HTTPStatus

from .. import wire

__all__ = ["CONTINUE", "malformed", "serialize"]

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
