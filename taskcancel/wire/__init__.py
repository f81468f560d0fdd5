"""Sans-IO Aliyun RPC over HTTP: the wire format that ECS ``CancelTask`` (2014-05-26) speaks.

This package turns HTTP bytes into values and values into HTTP bytes, and does nothing
else: no sockets, no clock reads, no randomness (times, nonces and request ids come in
as arguments), standard library and the core's error value only. The emulator and the
signing client are thin adapters around it, in the spirit of h11.

Server side, in the recommended order (first error wins)::

    decode_request(...)         -> DecodedRequest | GatewayError  (never raises; JSON errors)
    parse_call(decoded)         -> Call | GatewayError   (SCHEMES[decoded.scheme].parse)
    check_action(call, ACTIONS) -> GatewayError | None   (InvalidAction.NotFound / InvalidVersion)
    check_timestamp(call, now=) -> GatewayError | None   (InvalidTimeStamp.Format / .Expired)
    secret lookup by call.access_key_id      (else gateway_error("InvalidAccessKeyId.NotFound"))
    verify_signature(call, s)   -> GatewayError | None   (SignatureDoesNotMatch)
    the server's nonce registry                          (a replay: "SignatureNonceUsed")
    render_success / render_error(error, ..., response_format=) -> Response

Errors found once the request is decoded are answered in its ``Format``
(``decoded.response_format``, then ``call.response_format``): the format is chosen when
rendering, never stored in an error. Record nonces only after the signature verifies,
so unauthenticated traffic cannot fill the registry.

Client side: ``SCHEMES[scheme].build_request(...)`` (:mod:`.v1` or :mod:`.acs3`)
produces an :class:`OutgoingRequest` signed exactly like the official SDKs, and
:func:`parse_reply` turns any reply into a dict or an :class:`ErrorReply` (never raises).

Modules: ``_encoding`` (percent-encoding, canonical queries, form decoding,
timestamps), ``v1`` and ``acs3`` (the two signature schemes, same function names:
``string_to_sign``, ``signature``, ``build_request``, ``parse``), ``request`` (limits,
decoding, the scheme table, signature check), ``gateway`` (the error table and the
action and timestamp checks), ``render`` (responses), ``reply`` (client-side replies).
"""

from __future__ import annotations

from . import acs3, v1
from ._encoding import format_timestamp
from ._types import ECS_VERSION, MAX_NONCE_LENGTH, Call, DecodedRequest, OutgoingRequest, Scheme
from .gateway import GATEWAY_ERRORS, GatewayError, check_action, check_timestamp, gateway_error
from .render import (
    DEFAULT_HOST_ID,
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    Response,
    render_error,
    render_success,
)
from .reply import ErrorReply, parse_reply, retry_after_ms
from .request import (
    CONTROL_PREFIX,
    DEFAULT_LIMITS,
    SCHEMES,
    Limits,
    check_headers,
    decode_request,
    parse_call,
    verify_signature,
)

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_HOST_ID",
    "DEFAULT_LIMITS",
    "ECS_VERSION",
    "GATEWAY_ERRORS",
    "JSON_CONTENT_TYPE",
    "MAX_NONCE_LENGTH",
    "SCHEMES",
    "XML_CONTENT_TYPE",
    "Call",
    "DecodedRequest",
    "ErrorReply",
    "GatewayError",
    "Limits",
    "OutgoingRequest",
    "Response",
    "Scheme",
    "acs3",
    "check_action",
    "check_headers",
    "check_timestamp",
    "decode_request",
    "format_timestamp",
    "gateway_error",
    "parse_call",
    "parse_reply",
    "render_error",
    "render_success",
    "retry_after_ms",
    "v1",
    "verify_signature",
]
