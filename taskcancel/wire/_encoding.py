"""Text on the wire: RFC 3986 encoding, canonical queries, form decoding and timestamps.

Both signature schemes sign a *canonical query* (sorted, percent-encoded pairs); both
read parameters with form rules (``+`` is a space). The hot path takes two shortcuts,
each checked against its plain definition by the tests: a query is decoded as one UTF-8
string when it can be, and a query that is canonical already is signed as sent.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import quote, unquote, unquote_to_bytes

from .._core._time import as_utc, format_timestamp

__all__ = [
    "as_utc",
    "canonical_from_raw",
    "canonical_query",
    "decode_form",
    "format_timestamp",
    "parse_timestamp",
    "percent_encode",
    "scalar_text",
    "unquote_form",
]

_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8, as both signature schemes require.

    ``A-Z a-z 0-9 - _ . ~`` stay as they are; every other byte becomes ``%XY`` with
    upper-case hex, so a space is ``%20`` (never ``+``) and ``*`` is ``%2A``.
    """
    if _UNRESERVED(value):  # the common case: nothing to encode
        return value
    return quote(value, safe="-_.~", encoding="utf-8", errors="strict")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Sorted (by name, then value), percent-encoded ``name=value`` pairs joined by ``&``.

    Empty values are kept as ``name=`` (the old SDK signs ``SignatureType=``).
    """
    parts = []
    for name, value in sorted(params):  # percent_encode, inlined: this is a hot loop
        if not _UNRESERVED(name):
            name = quote(name, safe="-_.~", encoding="utf-8", errors="strict")
        if not _UNRESERVED(value):
            value = quote(value, safe="-_.~", encoding="utf-8", errors="strict")
        parts.append(f"{name}={value}")
    return "&".join(parts)


# A query that is already in canonical form: every piece ``name=value`` with an
# unreserved-only name and a value of unreserved characters and upper-case escapes of
# bytes that percent_encode escapes too (never of an unreserved one, never ``+``).
_CANONICAL_VALUE = (
    r"[A-Za-z0-9_.~-]*"
    r"(?:%(?:[01][0-9A-F]|2[0-9A-CF]|3[A-F]|40|5[B-E]|60|7[B-DF]|[89A-F][0-9A-F])"
    r"[A-Za-z0-9_.~-]*)*"
)
_CANONICAL_PIECE = rf"[A-Za-z0-9_.~-]+={_CANONICAL_VALUE}"
_ALREADY_CANONICAL = re.compile(rf"(?:{_CANONICAL_PIECE}(?:&{_CANONICAL_PIECE})*)?").fullmatch


def canonical_from_raw(query: str, *, without: str = "") -> str | None:
    """``canonical_query`` of the decoded ``query``, or None when it must be computed.

    Both SDKs send queries that are canonical already, piece for piece; then only the
    order (by name; names are unique here) and the ``without`` parameter differ. Only
    for a query that decoded as UTF-8 with unique names (as ``decode_request`` ensures
    before anything is signed).
    """
    if not _ALREADY_CANONICAL(query):
        return None
    # Each piece has exactly one "=" (a value's "=" would be %3D); a NUL in its place
    # sorts below every name character, so a plain sort orders the pieces by name.
    pieces = query.replace("=", "\0").split("&")
    pieces.sort()
    if without:
        # Names are unique, so at most one piece is ``without``'s: where the sort put it.
        prefix = without + "\0"
        at = bisect_left(pieces, prefix)
        if at < len(pieces) and pieces[at].startswith(prefix):
            del pieces[at]
    return "&".join(pieces).replace("\0", "=")


def decode_form(data: bytes) -> list[tuple[str, str]] | None:
    """``parse_qsl(keep_blank_values=True)`` over bytes with strict UTF-8; None if invalid.

    Raw (unescaped) UTF-8 decodes like escaped UTF-8, even when one character is split
    between the two.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_form_bytes(data)
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    try:
        for piece in text.split("&"):
            if not piece:
                continue
            name, _, value = piece.partition("=")
            # Raw characters are whole here, so every escaped run must be whole too.
            if "%" in name or "+" in name:
                name = unquote_form(name)
            if "%" in value or "+" in value:
                value = unquote_form(value)
            append((name, value))
    except UnicodeDecodeError:
        return None
    return pairs


def unquote_form(text: str) -> str:
    """``unquote_plus(text, errors="strict")``, quicker for what the SDKs escape.

    A timestamp's ``%3A``, a base64 signature's ``%2F``, ``%2B`` and ``%3D``: when those
    are the only escapes, four replacements decode them (none yields a ``%``, so none
    makes a new escape); anything else left goes to ``unquote``. Raises
    ``UnicodeDecodeError`` for escapes that are not UTF-8.
    """
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    quick = text.replace("%3A", ":").replace("%2F", "/").replace("%2B", "+").replace("%3D", "=")
    if "%" not in quick:
        return quick
    return unquote(text, errors="strict")


def _decode_form_bytes(data: bytes) -> list[tuple[str, str]] | None:
    pairs: list[tuple[str, str]] = []
    try:
        for piece in data.split(b"&"):
            if not piece:
                continue
            name, _, value = piece.partition(b"=")
            pairs.append((_form_unquote(name), _form_unquote(value)))
    except UnicodeDecodeError:
        return None
    return pairs


def _form_unquote(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")


def parse_timestamp(text: str) -> datetime | None:
    """Parse ``YYYY-MM-DDThh:mm:ss[.ffffff]Z`` into an aware UTC datetime, or None.

    Cached per distinct text: every request stamped in the same second sends the same
    one. The cache keeps at most :data:`_TIMESTAMP_CACHE_SIZE` texts, then starts over,
    so no sender can grow it.
    """
    cached = _timestamps.get(text, _UNSET)  # one lookup: another thread may clear it
    if cached is not _UNSET:
        return cached
    value = _parse_timestamp(text)
    if len(_timestamps) >= _TIMESTAMP_CACHE_SIZE:
        _timestamps.clear()
    _timestamps[text] = value
    return value


_TIMESTAMP_CACHE_SIZE = 256
_timestamps: dict[str, datetime | None] = {}
_UNSET = datetime.min  # naive: never a parsed value


def _parse_timestamp(text: str) -> datetime | None:
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def scalar_text(value: object) -> str:
    """A scalar as Aliyun writes it in text: enums by value, ``true``/``false``, None empty."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
