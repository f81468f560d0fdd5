"""Sans-IO Aliyun RPC over HTTP: the wire format that ECS ``CancelTask`` (2014-05-26) speaks.

This module turns HTTP bytes into values and values into HTTP bytes, and does nothing
else: no sockets, no clock reads, no randomness (times, nonces and request ids come in
as arguments), standard library only. The emulator's ASGI app and the signing client
are thin adapters around it, in the spirit of h11.

Server side, in the recommended order (first error wins)::

    parse_request(...)          -> Call | GatewayError   (never raises, for any bytes)
    check_action(call, ACTIONS) -> GatewayError | None   (InvalidAction.NotFound / InvalidVersion)
    check_timestamp(call, now=) -> GatewayError | None   (InvalidTimeStamp.Format / .Expired)
    secret lookup by call.access_key_id                  (else access_key_not_found())
    verify_signature(call, s)   -> GatewayError | None   (SignatureDoesNotMatch)
    NonceRegistry.seen(...)     -> bool                  (True => nonce_used())
    render_success / render_error / render_gateway_error -> Response

Record nonces only after the signature verifies, so unauthenticated traffic cannot
fill the registry.

Client side: :func:`build_v1_request` / :func:`build_acs3_request` produce an
:class:`OutgoingRequest` signed exactly like the official SDKs, and :func:`parse_reply`
turns any reply into a dict or an :class:`ErrorReply` (never raises).

Both signature schemes are supported: V1 (``SignatureVersion=1.0``, HMAC-SHA1, all
parameters in the query or a form body) and V3 (``ACS3-HMAC-SHA256``, ``Authorization``
header). Decisions that the references leave open are documented where they are made:

* Parameters are decoded with form rules (``+`` is a space) from the query and, when the
  content type is ``application/x-www-form-urlencoded``, from the body. A name that
  appears twice (in the query, or in both the query and the body) is refused with
  ``InvalidParameter.Format`` rather than silently picking one value.
* V1 takes ``Action``/``Version`` from the (signed) parameters only; V1 never signs
  headers, so trusting ``x-acs-action`` there would let the action be changed in
  flight. ACS3 takes them from the parameters, else from ``x-acs-action`` /
  ``x-acs-version``, which must then be listed in ``SignedHeaders``.
* ACS3 requires ``x-acs-date`` and ``x-acs-signature-nonce`` to be present and signed
  (otherwise a captured request could be replayed under a fresh nonce).
* Only ``/`` is served (RPC style); any other path is ``InvalidAction.NotFound``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import MappingProxyType
from urllib.parse import quote, unquote_plus, unquote_to_bytes

__all__ = [
    "ACS3_ALGORITHM",
    "COMMON_PARAMETERS",
    "DEFAULT_HOST_ID",
    "DEFAULT_LIMITS",
    "ECS_VERSION",
    "EMPTY_SHA256",
    "JSON_CONTENT_TYPE",
    "MAX_NONCE_LENGTH",
    "UNPARSEABLE_REPLY_CODE",
    "XML_CONTENT_TYPE",
    "Call",
    "ErrorReply",
    "GatewayError",
    "Limits",
    "NonceRegistry",
    "OutgoingRequest",
    "Response",
    "access_key_inactive",
    "access_key_not_found",
    "acs3_canonical_request",
    "acs3_signature",
    "acs3_string_to_sign",
    "api_throttled",
    "build_acs3_request",
    "build_v1_request",
    "canonical_query",
    "check_action",
    "check_timestamp",
    "format_timestamp",
    "incomplete_signature",
    "internal_error",
    "invalid_action",
    "invalid_parameter",
    "invalid_signature_method",
    "invalid_version",
    "malformed",
    "missing_parameter",
    "nonce_used",
    "parse_reply",
    "parse_request",
    "parse_timestamp",
    "percent_encode",
    "recommend_url",
    "render_error",
    "render_gateway_error",
    "render_success",
    "request_timeout",
    "retry_after_ms",
    "service_unavailable",
    "signature_mismatch",
    "throttled",
    "timestamp_expired",
    "timestamp_format",
    "too_large",
    "unsupported_method",
    "v1_signature",
    "v1_string_to_sign",
    "verify_signature",
]

ECS_VERSION = "2014-05-26"

#: The ``HostId`` of an error when the request named no host: the public endpoint.
DEFAULT_HOST_ID = "ecs.aliyuncs.com"
ACS3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
# The new SDK parses an XML error body only under exactly this content type.
XML_CONTENT_TYPE = "text/xml;charset=utf-8"
# Code of the ErrorReply for a reply that is not an Aliyun envelope (the old SDK's name).
UNPARSEABLE_REPLY_CODE = "SDK.UnknownServerError"

#: V1 parameters that belong to the protocol rather than to an API.
COMMON_PARAMETERS = frozenset(
    {
        "AccessKeyId",
        "Action",
        "Format",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "TimeStamp",
        "Timestamp",
        "Version",
    }
)

_V1_METHOD = "HMAC-SHA1"
_V1_VERSION = "1.0"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z"
)
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_ACS3_REQUIRED_SIGNED = ("x-acs-date", "x-acs-signature-nonce")

#: Longer nonces are refused (``InvalidSignatureNonce``): the SDKs send 32 hex digits,
#: and every nonce is remembered for the replay window.
MAX_NONCE_LENGTH = 128


# --------------------------------------------------------------------------- encoding


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8, as both signature schemes require.

    ``A-Z a-z 0-9 - _ . ~`` stay as they are; every other byte becomes ``%XY`` with
    upper-case hex, so a space is ``%20`` (never ``+``) and ``*`` is ``%2A``.
    """
    if _UNRESERVED(value):  # the common case: nothing to encode
        return value
    return quote(value, safe="-_.~", encoding="utf-8", errors="strict")


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


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


def _canonical_from_raw(query: str, *, without: str = "") -> str | None:
    """``canonical_query`` of the decoded ``query``, or None when it must be computed.

    Both SDKs send queries that are canonical already, piece for piece; then only the
    order (by name; names are unique here) and the ``without`` parameter differ. Only
    for a query that decoded as UTF-8 with unique names (as :func:`parse_request`
    ensures before it signs anything).
    """
    if not _ALREADY_CANONICAL(query):
        return None
    # Each piece has exactly one "=" (a value's "=" would be %3D); a NUL in its place
    # sorts below every name character, so a plain sort orders the pieces by name.
    pieces = query.replace("=", "\0").split("&")
    pieces.sort()
    if without:
        pieces = [piece for piece in pieces if not piece.startswith(without + "\0")]
    return "&".join(pieces).replace("\0", "=")


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC; a naive datetime is taken to be UTC already."""
    return _as_utc(moment).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime | None:
    """Parse ``YYYY-MM-DDThh:mm:ss[.ffffff]Z`` into an aware UTC datetime, or None."""
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


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:  # the usual case: nothing to convert
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --------------------------------------------------------------------------- signatures


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """V1 StringToSign: ``METHOD&%2F&`` + percent_encode(canonical query).

    ``params`` are all request parameters (query and form body); a ``Signature`` entry,
    if present, is left out.
    """
    canonical = canonical_query((k, v) for k, v in params.items() if k != "Signature")
    return _v1_string_to_sign(method, canonical)


def _v1_string_to_sign(method: str, canonical: str) -> str:
    # percent_encode(canonical), cheaply: a canonical query holds only unreserved
    # characters, %XY escapes, "=" and "&", so these three are all that change.
    encoded = canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    return f"{method}&%2F&{encoded}"


def v1_signature(string_to_sign: str, secret: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + "&"``."""
    digest = hmac.new(
        (secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def acs3_canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    """The ACS3 CanonicalRequest.

    ``headers`` are the headers as received (names in any case, values are stripped,
    repeated values are sorted and joined by ``,``); the canonical headers are exactly
    ``signed_headers``, in the order given, a missing one counting as empty.
    """
    first: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name, value in headers:
        name, value = name.lower(), value.strip()
        if name in first:
            repeated.setdefault(name, [first[name]]).append(value)
        else:
            first[name] = value
    return _acs3_canonical(
        method, path, canonical_query(query), first, repeated, signed_headers, payload_sha256
    )


def _acs3_canonical(
    method: str,
    path: str,
    canonical: str,
    first: Mapping[str, str],
    repeated: Mapping[str, list[str]],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    """:func:`acs3_canonical_request` from the canonical query and headers by lower-case
    name (``first`` value of each, ``repeated`` lists all values of names sent twice)."""
    lines = []
    for name in signed_headers:
        values = repeated.get(name)
        value = first.get(name, "") if values is None else ",".join(sorted(values))
        lines.append(f"{name}:{value}\n")
    return "\n".join(
        (method, path or "/", canonical, "".join(lines), ";".join(signed_headers), payload_sha256)
    )


def acs3_string_to_sign(canonical_request: str) -> str:
    """``ACS3-HMAC-SHA256`` + newline + hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ACS3_ALGORITHM}\n{digest}"


def acs3_signature(string_to_sign: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the plain secret (no ``&``)."""
    return hmac.new(
        secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()


# --------------------------------------------------------------------------- client: build


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """A signed request ready to send: ``target`` is path and query (``/?A=b&...``)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def build_v1_request(
    action: str,
    params: Mapping[str, str],
    *,
    access_key_id: str,
    secret: str,
    nonce: str,
    timestamp: datetime,
    version: str = ECS_VERSION,
    method: str = "POST",
    response_format: str = "JSON",
    security_token: str | None = None,
) -> OutgoingRequest:
    """Sign like the SDKs in V1 mode: every parameter in the query, empty body.

    Raises ValueError if ``params`` uses a name of :data:`COMMON_PARAMETERS`.
    """
    clash = sorted(COMMON_PARAMETERS & params.keys())
    if clash:
        raise ValueError(f"API parameters may not use protocol names: {clash}")
    common = {
        "Action": action,
        "Version": version,
        "Format": response_format,
        "AccessKeyId": access_key_id,
        "SignatureMethod": _V1_METHOD,
        "SignatureVersion": _V1_VERSION,
        "SignatureNonce": nonce,
        "Timestamp": format_timestamp(timestamp),
    }
    if security_token is not None:
        common["SecurityToken"] = security_token
    signed = {**params, **common}
    signature = v1_signature(v1_string_to_sign(method, signed), secret)
    query = f"{canonical_query(signed.items())}&Signature={percent_encode(signature)}"
    headers = (("x-acs-action", action), ("x-acs-version", version))
    return OutgoingRequest(method, f"/?{query}", headers, b"")


def build_acs3_request(
    action: str,
    params: Mapping[str, str],
    *,
    host: str,
    access_key_id: str,
    secret: str,
    nonce: str,
    timestamp: datetime,
    version: str = ECS_VERSION,
    method: str = "POST",
    security_token: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> OutgoingRequest:
    """Sign like the new SDK's default (ACS3-HMAC-SHA256): API params in the query.

    Every header set here, ``extra_headers`` included, is signed (names lower-cased),
    so the transport must send them unchanged. Raises ValueError if ``params`` has
    ``Action``/``Version`` or an extra header repeats one of ours.
    """
    clash = sorted({"Action", "Version"} & params.keys())
    if clash:
        raise ValueError(f"API parameters may not use protocol names: {clash}")
    headers = [
        ("host", host),
        ("x-acs-action", action),
        ("x-acs-version", version),
        ("x-acs-date", format_timestamp(timestamp)),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-content-sha256", EMPTY_SHA256),
        ("accept", "application/json"),
    ]
    if security_token is not None:
        headers.append(("x-acs-accesskey-id", access_key_id))
        headers.append(("x-acs-security-token", security_token))
    taken = {name for name, _ in headers} | {"authorization"}
    for name, value in extra_headers:
        lowered = name.lower()
        if lowered in taken:
            raise ValueError(f"header {lowered!r} is set by the signer")
        taken.add(lowered)
        headers.append((lowered, value))
    signed = sorted(name for name, _ in headers)
    canonical = acs3_canonical_request(method, "/", params.items(), headers, signed, EMPTY_SHA256)
    signature = acs3_signature(acs3_string_to_sign(canonical), secret)
    authorization = (
        f"{ACS3_ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    headers.append(("authorization", authorization))
    return OutgoingRequest(method, f"/?{canonical_query(params.items())}", tuple(headers), b"")


# --------------------------------------------------------------------------- gateway errors


@dataclass(frozen=True, slots=True)
class GatewayError:
    """An error the API gateway answers before any handler runs (pure data).

    ``headers`` are extra response headers (``x-acs-retry-after`` for throttling);
    ``response_format`` is the format to render in (``JSON`` or ``XML``).
    """

    code: str
    http_status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    response_format: str = "JSON"


def missing_parameter(name: str, *, response_format: str = "JSON") -> GatewayError:
    """``Missing{Name}`` 400: a common (protocol) parameter is absent or empty."""
    return GatewayError(
        f"Missing{name}", 400, f"{name} is mandatory for this action.", (), response_format
    )


def invalid_parameter(name: str, *, response_format: str = "JSON") -> GatewayError:
    """``Invalid{Name}`` 400: a common parameter has a value the gateway does not accept."""
    return GatewayError(
        f"Invalid{name}", 400, f"Specified parameter {name} is not valid.", (), response_format
    )


def malformed(detail: str = "", *, response_format: str = "JSON") -> GatewayError:
    """``InvalidParameter.Format`` 400: undecodable or repeated parameters."""
    message = "Specified parameter format is not valid."
    if detail:
        message = f"{message} {detail}"
    return GatewayError("InvalidParameter.Format", 400, message, (), response_format)


def invalid_action(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidAction.NotFound`` 404: no such API (or a path other than ``/``)."""
    return GatewayError(
        "InvalidAction.NotFound",
        404,
        "Specified api is not found, please check your url and method.",
        (),
        response_format,
    )


def invalid_version(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidVersion`` 400 (status undocumented; 400 like other parameter errors)."""
    return GatewayError(
        "InvalidVersion", 400, "Specified parameter Version is not valid.", (), response_format
    )


def unsupported_method(*, response_format: str = "JSON") -> GatewayError:
    """``UnsupportedHTTPMethod`` 403 with the ECS table's message.

    The generic gateway table says 400 but reuses the signature-mismatch message there,
    an evident copy error; the ECS table (403, "This HTTP method is not supported.") is
    self-consistent and specific to this product.
    """
    return GatewayError(
        "UnsupportedHTTPMethod", 403, "This HTTP method is not supported.", (), response_format
    )


def access_key_not_found(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidAccessKeyId.NotFound`` 404.

    Sources disagree (404 in the gateway table, 400 in an ECS 2018 table with another
    message); the message used here is the gateway table's, so its status goes with it.
    Either way the new SDK raises ClientException.
    """
    return GatewayError(
        "InvalidAccessKeyId.NotFound",
        404,
        "Specified access key is not found.",
        (),
        response_format,
    )


def access_key_inactive(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidAccessKeyId.Inactive`` 400: the key exists but is disabled."""
    return GatewayError(
        "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.", (), response_format
    )


def signature_mismatch(string_to_sign: str, *, response_format: str = "JSON") -> GatewayError:
    """``SignatureDoesNotMatch`` 400, echoing the server's string to sign after a ``:``.

    The old SDK splits the message on ``:`` (IndexError without one) and, when the rest
    equals its own string to sign, reports InvalidAccessKeySecret instead.
    """
    return GatewayError(
        "SignatureDoesNotMatch",
        400,
        "Specified signature is not matched with our calculation. server string to sign is:"
        + string_to_sign,
        (),
        response_format,
    )


def incomplete_signature(detail: str = "", *, response_format: str = "JSON") -> GatewayError:
    """``IncompleteSignature`` 400: an ACS3 Authorization header that cannot be used."""
    message = "The request signature does not conform to Alibaba Cloud standards."
    if detail:
        message = f"{message} {detail}"
    return GatewayError("IncompleteSignature", 400, message, (), response_format)


def invalid_signature_method(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidSignatureMethod`` 400: not HMAC-SHA1 (V1) / not ACS3-HMAC-SHA256."""
    return GatewayError(
        "InvalidSignatureMethod",
        400,
        "Specified signature method is not valid.",
        (),
        response_format,
    )


def timestamp_format(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidTimeStamp.Format`` 400."""
    return GatewayError(
        "InvalidTimeStamp.Format",
        400,
        "Specified time stamp or date value is not well formatted.",
        (),
        response_format,
    )


def timestamp_expired(*, response_format: str = "JSON") -> GatewayError:
    """``InvalidTimeStamp.Expired`` 400: outside the window, in either direction."""
    return GatewayError(
        "InvalidTimeStamp.Expired",
        400,
        "Specified time stamp or date value is expired.",
        (),
        response_format,
    )


def nonce_used(*, response_format: str = "JSON") -> GatewayError:
    """``SignatureNonceUsed`` 400: a replay."""
    return GatewayError(
        "SignatureNonceUsed",
        400,
        "Specified signature nonce was used already.",
        (),
        response_format,
    )


def too_large(what: str, limit: int, *, response_format: str = "JSON") -> GatewayError:
    """``RequestTooLarge`` 413: a part of the request exceeds :class:`Limits`.

    No Aliyun code is documented for this; the name and 413 are ours (a 4xx, so the new
    SDK raises ClientException and neither SDK retries).
    """
    return GatewayError(
        "RequestTooLarge",
        413,
        f"The request is too large: {what} exceeds {limit}.",
        (),
        response_format,
    )


def request_timeout(seconds: float, *, response_format: str = "JSON") -> GatewayError:
    """``RequestTimeout`` 408: the request did not arrive in full in time.

    No Aliyun code is documented for this; the name and 408 are ours.
    """
    return GatewayError(
        "RequestTimeout",
        408,
        f"The request was not received in full within {seconds:g} seconds.",
        (),
        response_format,
    )


def throttled(retry_after_ms: int, *, response_format: str = "JSON") -> GatewayError:
    """``Throttling.User`` 400 with ``x-acs-retry-after`` (the new SDK's ThrottlingException)."""
    return GatewayError(
        "Throttling.User",
        400,
        "Request was denied due to user flow control.",
        (("x-acs-retry-after", str(retry_after_ms)),),
        response_format,
    )


def api_throttled(retry_after_ms: int, *, response_format: str = "JSON") -> GatewayError:
    """``Throttling.Api`` 400 with ``x-acs-retry-after``: the API as a whole is throttled."""
    return GatewayError(
        "Throttling.Api",
        400,
        "Request was denied due to api flow control.",
        (("x-acs-retry-after", str(retry_after_ms)),),
        response_format,
    )


def internal_error(*, response_format: str = "JSON") -> GatewayError:
    """``InternalError`` 500."""
    return GatewayError(
        "InternalError",
        500,
        "The request processing has failed due to some unknown error, exception or failure.",
        (),
        response_format,
    )


def service_unavailable(*, response_format: str = "JSON") -> GatewayError:
    """``ServiceUnavailable`` 503."""
    return GatewayError(
        "ServiceUnavailable",
        503,
        "The request has failed due to a temporary failure of the server.",
        (),
        response_format,
    )


# --------------------------------------------------------------------------- server: parse


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied by :func:`parse_request` before decoding anything."""

    max_query_bytes: int = 8192
    max_body_bytes: int = 65536
    max_headers: int = 100
    max_header_bytes: int = 16384


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A well-formed, not yet authenticated API call.

    ``params`` holds every decoded parameter (query and form body, protocol ones
    included). ``nonce``/``timestamp`` are the raw strings sent (V1 ``SignatureNonce`` /
    ``Timestamp``, ACS3 ``x-acs-signature-nonce`` / ``x-acs-date``). ``scheme`` is
    ``"V1"`` or ``"ACS3"``; ``string_to_sign`` and ``signature`` are what
    :func:`verify_signature` compares, ``canonical_request`` is ACS3's (empty for V1).
    """

    method: str
    action: str
    version: str
    params: Mapping[str, str]
    access_key_id: str
    response_format: str
    nonce: str
    timestamp: str
    host: str
    scheme: str
    signature: str
    string_to_sign: str
    canonical_request: str = ""
    security_token: str | None = None
    content_sha256_matches: bool = True


def _form_unquote(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")


def _decode_form(data: bytes) -> list[tuple[str, str]] | None:
    """``parse_qsl(keep_blank_values=True)`` over bytes with strict UTF-8; None if invalid.

    Raw (unescaped) UTF-8 decodes like escaped UTF-8, even when one character is split
    between the two.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_form_bytes(data)
    pairs: list[tuple[str, str]] = []
    try:
        for piece in text.split("&"):
            if not piece:
                continue
            name, _, value = piece.partition("=")
            if "%" in piece or "+" in piece:
                # Raw characters are whole here, so every escaped run must be whole too.
                name = unquote_plus(name, errors="strict")
                value = unquote_plus(value, errors="strict")
            pairs.append((name, value))
    except UnicodeDecodeError:
        return None
    return pairs


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


def _parse_authorization(text: str) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        fields[key.strip()] = value.strip()
    return fields


def parse_request(
    method: str,
    path: str | bytes,
    query: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> Call | GatewayError:
    """Parse one HTTP request into a :class:`Call`, or the gateway error to answer.

    Never raises, whatever the bytes. Checks, first failure wins: limits
    (``RequestTooLarge``), method (``UnsupportedHTTPMethod``), path
    (``InvalidAction.NotFound``), decoding and repeated names
    (``InvalidParameter.Format``), ``Format`` (``InvalidFormat``), then the scheme's
    protocol fields (``Missing{Name}``, ``InvalidSignatureMethod``,
    ``InvalidSignatureVersion``, ``IncompleteSignature``). It does not look at the
    action, clock, nonce or secret; see :func:`check_action`, :func:`check_timestamp`,
    :class:`NonceRegistry` and :func:`verify_signature`.
    """
    if len(headers) > limits.max_headers:
        return too_large("header count", limits.max_headers)
    header_map: dict[str, str] = {}  # lower-case name -> first value
    repeated: dict[str, list[str]] = {}  # every value of a name sent more than once
    header_bytes = 0
    for raw_name, raw_value in headers:
        header_bytes += len(raw_name) + len(raw_value)
        name = raw_name.decode("latin-1").lower()
        try:
            value = raw_value.decode("utf-8").strip()
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1").strip()
        if name in header_map:
            repeated.setdefault(name, [header_map[name]]).append(value)
        else:
            header_map[name] = value
    if header_bytes > limits.max_header_bytes:
        return too_large("header bytes", limits.max_header_bytes)
    if len(query) > limits.max_query_bytes:
        return too_large("query bytes", limits.max_query_bytes)
    if len(body) > limits.max_body_bytes:
        return too_large("body bytes", limits.max_body_bytes)
    if method not in ("GET", "POST"):
        return unsupported_method()
    raw_path = path.decode("latin-1") if isinstance(path, bytes) else path
    if raw_path not in ("", "/"):
        return invalid_action()

    query_pairs = _decode_form(query)
    if query_pairs is None:
        return malformed("The query is not valid UTF-8.")
    body_pairs: list[tuple[str, str]] = []
    content_type = header_map.get("content-type", "").split(";", 1)[0].strip().lower()
    if body and content_type == _FORM_CONTENT_TYPE:
        decoded_body = _decode_form(body)
        if decoded_body is None:
            return malformed("The form body is not valid UTF-8.")
        body_pairs = decoded_body
    pairs = [*query_pairs, *body_pairs] if body_pairs else query_pairs
    params = dict(pairs)
    if len(params) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                return malformed(f"Parameter {name} is repeated.")
            seen.add(name)

    response_format = params.get("Format", "JSON").upper()
    if response_format not in ("JSON", "XML"):
        return invalid_parameter("Format")

    authorization = header_map.get("authorization", "")
    raw_query = query.decode("latin-1")  # only ever used when it is pure ASCII
    if authorization.startswith("ACS3-"):
        return _parse_acs3(
            method, params, query_pairs, raw_query, header_map, repeated, body, response_format
        )
    return _parse_v1(
        method, params, raw_query if not body_pairs else None, header_map, response_format
    )


def _parse_v1(
    method: str,
    params: dict[str, str],
    raw_query: str | None,
    header_map: Mapping[str, str],
    response_format: str,
) -> Call | GatewayError:
    required = (
        "Action",
        "Version",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
    )
    for name in required:
        if not params.get(name):
            return missing_parameter(name, response_format=response_format)
    # The 2017-era docs spell it TimeStamp; accept both, Timestamp first.
    timestamp = params.get("Timestamp") or params.get("TimeStamp")
    if not timestamp:
        return missing_parameter("Timestamp", response_format=response_format)
    if len(params["SignatureNonce"]) > MAX_NONCE_LENGTH:
        return invalid_parameter("SignatureNonce", response_format=response_format)
    if params["SignatureMethod"] != _V1_METHOD:
        return invalid_signature_method(response_format=response_format)
    if params["SignatureVersion"] != _V1_VERSION:
        return invalid_parameter("SignatureVersion", response_format=response_format)
    canonical = None if raw_query is None else _canonical_from_raw(raw_query, without="Signature")
    if canonical is None:
        string_to_sign = v1_string_to_sign(method, params)
    else:
        string_to_sign = _v1_string_to_sign(method, canonical)
    return Call(
        method=method,
        action=params["Action"],
        version=params["Version"],
        params=MappingProxyType(params),
        access_key_id=params["AccessKeyId"],
        response_format=response_format,
        nonce=params["SignatureNonce"],
        timestamp=timestamp,
        host=header_map.get("host", ""),
        scheme="V1",
        signature=params["Signature"],
        string_to_sign=string_to_sign,
        security_token=params.get("SecurityToken"),
    )


def _parse_acs3(
    method: str,
    params: dict[str, str],
    query_pairs: list[tuple[str, str]],
    raw_query: str,
    header_map: Mapping[str, str],
    repeated: Mapping[str, list[str]],
    body: bytes,
    response_format: str,
) -> Call | GatewayError:
    algorithm, _, rest = header_map["authorization"].partition(" ")
    if algorithm != ACS3_ALGORITHM:
        return invalid_signature_method(response_format=response_format)
    fields = _parse_authorization(rest)
    if fields is None:
        return incomplete_signature(
            "Authorization must be Credential=..,SignedHeaders=..,Signature=..",
            response_format=response_format,
        )
    credential = fields.get("Credential", "")
    signed_text = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    for name, value in (
        ("Credential", credential),
        ("SignedHeaders", signed_text),
        ("Signature", signature),
    ):
        if not value:
            return incomplete_signature(
                f"Authorization has no {name}.", response_format=response_format
            )
    signed_headers = signed_text.split(";")
    if "" in signed_headers:
        return incomplete_signature(
            "SignedHeaders has an empty name.", response_format=response_format
        )
    signed = set(signed_headers)

    for header in _ACS3_REQUIRED_SIGNED:
        if not header_map.get(header) or header not in signed:
            return incomplete_signature(
                f"Header {header} must be present and signed.", response_format=response_format
            )
    if len(header_map["x-acs-signature-nonce"]) > MAX_NONCE_LENGTH:
        return invalid_parameter("SignatureNonce", response_format=response_format)
    found: dict[str, str] = {}
    for param, header in (("Action", "x-acs-action"), ("Version", "x-acs-version")):
        value = params.get(param, "")
        if not value:
            value = header_map.get(header, "")
            if value and header not in signed:
                return incomplete_signature(
                    f"Header {header} must be signed.", response_format=response_format
                )
        if not value:
            return missing_parameter(param, response_format=response_format)
        found[param] = value

    payload_sha256 = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    sent_sha256 = header_map.get("x-acs-content-sha256")
    canonical_query_text = _canonical_from_raw(raw_query)
    if canonical_query_text is None:
        canonical_query_text = canonical_query(query_pairs)
    canonical = _acs3_canonical(
        method, "/", canonical_query_text, header_map, repeated, signed_headers, payload_sha256
    )
    return Call(
        method=method,
        action=found["Action"],
        version=found["Version"],
        params=MappingProxyType(params),
        access_key_id=credential,
        response_format=response_format,
        nonce=header_map["x-acs-signature-nonce"],
        timestamp=header_map["x-acs-date"],
        host=header_map.get("host", ""),
        scheme="ACS3",
        signature=signature,
        string_to_sign=acs3_string_to_sign(canonical),
        canonical_request=canonical,
        security_token=header_map.get("x-acs-security-token"),
        content_sha256_matches=sent_sha256 is None or sent_sha256.lower() == payload_sha256,
    )


# --------------------------------------------------------------------------- server: checks


def check_action(call: Call, actions: Collection[str]) -> GatewayError | None:
    """Unknown action -> ``InvalidAction.NotFound`` 404, then version -> ``InvalidVersion``."""
    if call.action not in actions:
        return invalid_action(response_format=call.response_format)
    if call.version != ECS_VERSION:
        return invalid_version(response_format=call.response_format)
    return None


def check_timestamp(
    call: Call, *, now: datetime, window: timedelta = timedelta(minutes=15)
) -> GatewayError | None:
    """``InvalidTimeStamp.Format`` or ``.Expired`` (more than ``window`` off, either way).

    A naive ``now`` is taken to be UTC.
    """
    sent = parse_timestamp(call.timestamp)
    if sent is None:
        return timestamp_format(response_format=call.response_format)
    if abs(sent - _as_utc(now)) > window:
        return timestamp_expired(response_format=call.response_format)
    return None


def verify_signature(call: Call, secret: str) -> GatewayError | None:
    """``SignatureDoesNotMatch`` 400 unless ``call`` was signed with ``secret``.

    Constant-time comparison. For ACS3 the body must also hash to the
    ``x-acs-content-sha256`` header (the canonical request always uses the real hash).
    """
    if call.scheme == "ACS3":
        expected = acs3_signature(call.string_to_sign, secret)
        sent = call.signature.lower()
    else:
        expected = v1_signature(call.string_to_sign, secret)
        sent = call.signature
    matches = hmac.compare_digest(expected.encode("utf-8"), sent.encode("utf-8"))
    if matches and call.content_sha256_matches:
        return None
    return signature_mismatch(call.string_to_sign, response_format=call.response_format)


class NonceRegistry:
    """Replay protection: remembers each access key's nonces for ``window``.

    Time is passed in. Memory is bounded by ``max_entries`` per access key: when a key's
    share is full its oldest nonce goes first, so a caller can only ever push out its own
    nonces, never another account's (call :meth:`seen` only after the signature checks
    out, so only real accounts get a share). ``window`` defaults to 30 minutes, twice the
    default timestamp window: a request stamped up to 15 minutes in the future stays
    acceptable for up to 30 minutes after it is first seen, so its nonce is remembered
    that long, the last instant included. Thread-safe.
    """

    def __init__(
        self, *, window: timedelta = timedelta(minutes=30), max_entries: int = 100_000
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._window = window
        self._max_entries = max_entries
        self._by_key: dict[str, OrderedDict[str, datetime]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._by_key.values())

    def seen(self, access_key_id: str, nonce: str, now: datetime) -> bool:
        """True if the nonce was used within the window; otherwise record it, return False."""
        now = _as_utc(now)
        cutoff = now - self._window
        with self._lock:
            entries = self._by_key.get(access_key_id)
            if entries is None:
                entries = self._by_key[access_key_id] = OrderedDict()
            while entries:
                oldest_nonce, oldest_time = next(iter(entries.items()))
                if oldest_time >= cutoff:
                    break
                del entries[oldest_nonce]
            recorded = entries.get(nonce)
            if recorded is not None:
                if recorded >= cutoff:
                    return True
                del entries[nonce]  # stale, left behind by a clock that went backwards
            while len(entries) >= self._max_entries:
                entries.popitem(last=False)
            entries[nonce] = now
            return False


# --------------------------------------------------------------------------- server: render


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: headers include content-type, content-length, x-acs-request-id."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME_INVALID = re.compile(r"[^A-Za-z0-9_.\-]")


def _xml_text(value: str) -> str:
    text = _XML_INVALID.sub("\ufffd", value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_name(name: str) -> str:
    cleaned = _XML_NAME_INVALID.sub("_", name)
    if not cleaned or not (cleaned[0].isalpha() or cleaned[0] == "_"):
        cleaned = "_" + cleaned
    return cleaned


def _scalar_text(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _xml_element(tag: str, value: object, out: list[str]) -> None:
    if isinstance(value, Mapping):
        out.append(f"<{tag}>")
        for key, item in value.items():
            _xml_element(_xml_name(str(key)), item, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list | tuple):
        for item in value:
            _xml_element(tag, item, out)
    else:
        out.append(f"<{tag}>{_xml_text(_scalar_text(value))}</{tag}>")


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


_json_string = json.encoder.encode_basestring  # what _JSON does to a str (no ASCII escaping)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_bytes(document: Mapping[str, object]) -> bytes:
    if len(document) == 1:  # the usual success reply, {"RequestId": ...}: skip the encoder
        ((key, value),) = document.items()
        if isinstance(value, str):
            text = "{" + _json_string(key) + ":" + _json_string(value) + "}"
        else:
            text = _JSON.encode(document)
    else:
        text = _JSON.encode(document)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: fall back to \u escapes
        return json.dumps(document, separators=(",", ":"), default=_json_default).encode("ascii")


def _xml_bytes(root: str, document: Mapping[str, object]) -> bytes:
    out = ["<?xml version='1.0' encoding='UTF-8'?>"]
    _xml_element(_xml_name(root), document, out)
    return "".join(out).encode("utf-8")


def _response(status: int, content_type: str, body: bytes, request_id: str) -> Response:
    headers = (
        ("content-type", content_type),
        ("content-length", str(len(body))),
        ("x-acs-request-id", request_id),
    )
    return Response(status, headers, body)


def render_success(
    action: str,
    data: Mapping[str, object],
    *,
    request_id: str,
    response_format: str = "JSON",
) -> Response:
    """200 with ``RequestId`` first, then ``data`` (a ``RequestId`` key in it is ignored).

    JSON: one compact flat object. XML: root ``<{action}Response>``; mappings nest, a
    list repeats its key (``{"TaskSet": {"Task": [a, b]}}`` -> ``<TaskSet><Task>a</Task>
    <Task>b</Task></TaskSet>``), booleans are ``true``/``false``, None is empty.
    """
    document: dict[str, object] = {"RequestId": request_id}
    if data:
        document.update((k, v) for k, v in data.items() if k != "RequestId")
    if response_format.upper() == "XML":
        return _response(
            200, XML_CONTENT_TYPE, _xml_bytes(f"{action}Response", document), request_id
        )
    return _response(200, JSON_CONTENT_TYPE, _json_bytes(document), request_id)


def recommend_url(code: str, request_id: str) -> str:
    """The gateway's diagnosis link for an error."""
    return (
        "https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US"
        f"&q={percent_encode(code)}&product=Ecs&requestId={percent_encode(request_id)}"
    )


def render_error(
    code: str,
    message: str,
    http_status: int,
    *,
    request_id: str,
    host_id: str,
    response_format: str = "JSON",
    headers: Sequence[tuple[str, str]] = (),
    recommend: bool = True,
) -> Response:
    """The error envelope ``RequestId, HostId, Code, Message[, Recommend]``.

    JSON object, or XML root ``<Error>`` with ``Recommend`` in CDATA. ``headers`` are
    appended to the response headers.
    """
    document: dict[str, object] = {
        "RequestId": request_id,
        "HostId": host_id,
        "Code": code,
        "Message": message,
    }
    url = recommend_url(code, request_id)
    if response_format.upper() == "XML":
        out = ["<?xml version='1.0' encoding='UTF-8'?><Error>"]
        for key, value in document.items():
            _xml_element(key, value, out)
        if recommend:
            cdata = _XML_INVALID.sub("\ufffd", url).replace("]]>", "]]]]><![CDATA[>")
            out.append(f"<Recommend><![CDATA[{cdata}]]></Recommend>")
        out.append("</Error>")
        response = _response(
            http_status, XML_CONTENT_TYPE, "".join(out).encode("utf-8"), request_id
        )
    else:
        if recommend:
            document["Recommend"] = url
        response = _response(http_status, JSON_CONTENT_TYPE, _json_bytes(document), request_id)
    return Response(response.status, response.headers + tuple(headers), response.body)


def render_gateway_error(error: GatewayError, *, request_id: str, host_id: str) -> Response:
    """Render a :class:`GatewayError` in its own format, with its extra headers."""
    return render_error(
        error.code,
        error.message,
        error.http_status,
        request_id=request_id,
        host_id=host_id,
        response_format=error.response_format,
        headers=error.headers,
    )


# --------------------------------------------------------------------------- client: replies


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
            return _scalar_text(value)
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
    retry_after_ms = _retry_after(headers)
    document = _decode_json_object(body)
    if 200 <= status < 300 and document is not None:
        return document
    if document is None and body.lstrip().startswith(b"<"):
        document = _decode_xml_error(body)
    if 200 <= status < 300 or document is None:
        text = body[:512].decode("utf-8", errors="replace")
        return ErrorReply(
            status, UNPARSEABLE_REPLY_CODE, f"ServerResponseBody: {text}", "", "", retry_after_ms
        )
    code = _field(document, "Code", "code") or UNPARSEABLE_REPLY_CODE
    return ErrorReply(
        http_status=status,
        code=code,
        message=_field(document, "Message", "message"),
        request_id=_field(document, "RequestId", "requestId"),
        host_id=_field(document, "HostId", "hostId"),
        retry_after_ms=retry_after_ms,
        data=document,
    )
