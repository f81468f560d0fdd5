"""Server side: HTTP request parts -> :class:`Call`, and the call's signature checked.

:func:`decode_request` applies the limits and decodes (errors answered in JSON, as the
format is not known yet); :func:`parse_call` hands the decoded request to its scheme,
picked from :data:`SCHEMES` (errors answered in the request's ``Format``). Neither
raises, whatever the bytes.

Parameters are decoded with form rules (``+`` is a space) from the query and, when the
content type is ``application/x-www-form-urlencoded``, from the body. A name that
appears twice (in the query, or in both the query and the body) is refused with
``InvalidParameter.Format`` rather than silently picking one value. Only ``/`` is
served (RPC style); any other path is ``InvalidAction.NotFound``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from . import acs3, v1
from ._encoding import decode_form
from ._types import Call, DecodedRequest, OutgoingRequest, Scheme
from .gateway import GATEWAY_ERRORS, GatewayError, gateway_error

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_LIMITS",
    "SCHEMES",
    "Call",
    "DecodedRequest",
    "Limits",
    "SchemeModule",
    "check_headers",
    "decode_request",
    "parse_call",
    "verify_signature",
]

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
#: Headers read as one value. Sent twice, a signature covers both (ACS3 joins them) while
#: one would be used, so swapping them would replay a request under the other value.
_SINGLE_HEADERS = frozenset({"authorization", "content-type", "host"})


class SchemeModule(Protocol):
    """What :mod:`~taskcancel.wire.v1` and :mod:`~taskcancel.wire.acs3` both offer.

    ``build_request(action, params, *, host, access_key_id, secret, nonce, timestamp,
    version=, method=, security_token=)`` takes the same arguments in both (V1 signs no
    header, so it leaves ``host`` unused); each takes a few more of its own.
    """

    build_request: Callable[..., OutgoingRequest]

    def signature(self, string_to_sign: str, secret: str) -> str: ...

    def parse(self, request: DecodedRequest) -> Call | GatewayError: ...


#: Each signature scheme's module: the one switch between them.
SCHEMES: Mapping[Scheme, SchemeModule] = MappingProxyType({Scheme.V1: v1, Scheme.ACS3: acs3})


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits applied by :func:`decode_request` before decoding anything."""

    max_query_bytes: int = 8192
    max_body_bytes: int = 65536
    max_headers: int = 100
    max_header_bytes: int = 16384


DEFAULT_LIMITS = Limits()


def _header_count(headers: Sequence[tuple[bytes, bytes]], limits: Limits) -> GatewayError | None:
    if len(headers) > limits.max_headers:
        return gateway_error("RequestTooLarge", what="header count", limit=limits.max_headers)
    return None


def check_headers(headers: Sequence[tuple[bytes, bytes]], limits: Limits) -> GatewayError | None:
    """The header limits alone (count, then bytes), for requests that are not decoded as
    ECS calls (the control plane's): ``RequestTooLarge`` naming the limit, or ``None``."""
    too_many = _header_count(headers, limits)
    if too_many is not None:
        return too_many
    if sum(len(name) + len(value) for name, value in headers) > limits.max_header_bytes:
        return gateway_error("RequestTooLarge", what="header bytes", limit=limits.max_header_bytes)
    return None


#: Where the emulator's control plane lives (docs/control-plane.md): a path under it is never ECS
#: RPC. The one definition, for the server's routing and the CLI's control commands.
CONTROL_PREFIX = "/_taskcancel/"


def decode_request(
    method: str,
    path: str | bytes,
    query: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> DecodedRequest | GatewayError:
    """Decode one HTTP request, or the error to answer (in JSON). Never raises.

    First failure wins: limits (``RequestTooLarge``), a repeated ``Authorization``,
    ``Content-Type``, ``Host`` or ``x-acs-*`` header (``InvalidParameter.Format``), method
    (``UnsupportedHTTPMethod``), path (``InvalidAction.NotFound``), decoding and repeated
    parameter names (``InvalidParameter.Format``), ``Format`` (``InvalidFormat``). The
    scheme is ACS3 when ``Authorization`` starts with ``ACS3-``, else V1.
    """
    too_many = _header_count(headers, limits)
    if too_many is not None:
        return too_many
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
        return gateway_error("RequestTooLarge", what="header bytes", limit=limits.max_header_bytes)
    if len(query) > limits.max_query_bytes:
        return gateway_error("RequestTooLarge", what="query bytes", limit=limits.max_query_bytes)
    if len(body) > limits.max_body_bytes:
        return gateway_error("RequestTooLarge", what="body bytes", limit=limits.max_body_bytes)
    if repeated:
        for name in repeated:
            if name in _SINGLE_HEADERS or name.startswith("x-acs-"):
                detail = f"Header {name} is repeated."
                return gateway_error("InvalidParameter.Format", detail=detail)
    if method != "POST" and method != "GET":
        return GATEWAY_ERRORS["UnsupportedHTTPMethod"]
    if path != b"/" and path != "/":
        raw_path = path.decode("latin-1") if isinstance(path, bytes) else path
        if raw_path not in ("", "/"):
            return GATEWAY_ERRORS["InvalidAction.NotFound"]

    query_pairs = decode_form(query)
    if query_pairs is None:
        return gateway_error("InvalidParameter.Format", detail="The query is not valid UTF-8.")
    body_pairs: list[tuple[str, str]] = []
    if body and _content_type(header_map) == _FORM_CONTENT_TYPE:
        decoded_body = decode_form(body)
        if decoded_body is None:
            detail = "The form body is not valid UTF-8."
            return gateway_error("InvalidParameter.Format", detail=detail)
        body_pairs = decoded_body
    pairs = [*query_pairs, *body_pairs] if body_pairs else query_pairs
    params = dict(pairs)
    if len(params) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                detail = f"Parameter {name} is repeated."
                return gateway_error("InvalidParameter.Format", detail=detail)
            seen.add(name)

    response_format = params.get("Format", "JSON")
    if response_format != "JSON":
        response_format = response_format.upper()
        if response_format not in ("JSON", "XML"):
            return gateway_error("Invalid{name}", name="Format")
    acs3_signed = header_map.get("authorization", "").startswith("ACS3-")
    return DecodedRequest(
        method=method,
        scheme=Scheme.ACS3 if acs3_signed else Scheme.V1,
        params=params,
        query_pairs=query_pairs,
        raw_query=query.decode("latin-1"),  # only ever used when it is pure ASCII
        has_form_body=bool(body_pairs),
        headers=header_map,
        repeated=repeated,
        body=body,
        response_format=response_format,
    )


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse_call(request: DecodedRequest) -> Call | GatewayError:
    """The call in ``request``, or its scheme's error (answer it in
    ``request.response_format``): ``Missing{Name}``, ``InvalidSignatureMethod``,
    ``InvalidSignatureVersion``, ``IncompleteSignature``, ``InvalidSignatureNonce``.

    It does not look at the action, clock, nonce or secret; see ``check_action``,
    ``check_timestamp`` and :func:`verify_signature`.
    """
    return SCHEMES[request.scheme].parse(request)


def verify_signature(call: Call, secret: str) -> GatewayError | None:
    """``SignatureDoesNotMatch`` 400 unless ``call`` was signed with ``secret``.

    Constant-time comparison. For ACS3 the body must also hash to the
    ``x-acs-content-sha256`` header (the canonical request always uses the real hash).
    """
    expected = SCHEMES[call.scheme].signature(call.string_to_sign, secret)
    matches = hmac.compare_digest(expected.encode("utf-8"), call.signature.encode("utf-8"))
    if matches and call.content_sha256_matches:
        return None
    return gateway_error("SignatureDoesNotMatch", string_to_sign=call.string_to_sign)
