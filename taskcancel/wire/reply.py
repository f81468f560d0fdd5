"""Client side: any HTTP reply -> the success document or an :class:`ErrorReply`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ._encoding import scalar_text

__all__ = ["UNPARSEABLE_REPLY_CODE", "ErrorReply", "parse_reply", "retry_after_ms"]

#: Code of the ErrorReply for a reply that is not an Aliyun envelope (the old SDK's name).
UNPARSEABLE_REPLY_CODE = "SDK.UnknownServerError"


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """An error reply as data.

    ``code`` is :data:`UNPARSEABLE_REPLY_CODE` when the body is not an Aliyun envelope
    (also for a 2xx whose body is not a JSON object); missing fields are ``""``.
    ``retry_after_ms`` comes from a positive integer ``x-acs-retry-after`` header.
    ``data`` is the decoded envelope (e.g. ``AccessDeniedDetail``), empty if none.
    """

    http_status: int
    code: str
    message: str
    request_id: str
    host_id: str
    retry_after_ms: int | None
    data: Mapping[str, object] = field(default_factory=dict)


def _field(document: Mapping[str, object], *names: str) -> str:
    for name in names:
        value = document.get(name)
        if value is not None and not isinstance(value, dict | list):
            return scalar_text(value)
    return ""


def _decode_json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict):
        return document
    return None


def _decode_xml_error(body: bytes) -> dict[str, object] | None:
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError, RecursionError):
        return None
    if root.tag != "Error":
        return None
    return {child.tag: (child.text or "").strip() for child in root}


def retry_after_ms(value: str) -> int | None:
    """An ``x-acs-retry-after`` header value as milliseconds, if a positive integer."""
    text = value.strip()
    if text.isascii() and text.isdigit() and 0 < int(text) < 10**9:
        return int(text)
    return None


def _retry_after(headers: Sequence[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "x-acs-retry-after":
            return retry_after_ms(value)
    return None


def parse_reply(
    status: int, headers: Sequence[tuple[str, str]], body: bytes
) -> dict[str, object] | ErrorReply:
    """A 2xx JSON object -> that dict; anything else -> :class:`ErrorReply`. Never raises.

    Error bodies are read as JSON, or as XML ``<Error>`` when they start with ``<``.
    """
    retry_after = _retry_after(headers)
    document = _decode_json_object(body)
    if 200 <= status < 300 and document is not None:
        return document
    if document is None and body.lstrip().startswith(b"<"):
        document = _decode_xml_error(body)
    if 200 <= status < 300 or document is None:
        text = body[:512].decode("utf-8", errors="replace")
        return ErrorReply(
            status, UNPARSEABLE_REPLY_CODE, f"ServerResponseBody: {text}", "", "", retry_after
        )
    code = _field(document, "Code", "code") or UNPARSEABLE_REPLY_CODE
    return ErrorReply(
        http_status=status,
        code=code,
        message=_field(document, "Message", "message"),
        request_id=_field(document, "RequestId", "requestId"),
        host_id=_field(document, "HostId", "hostId"),
        retry_after_ms=retry_after,
        data=document,
    )
