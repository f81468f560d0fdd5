"""The API gateway's errors, as one table, and its checks of a parsed call.

Each row is the error itself (:data:`GatewayError`, the core's ``ErrorSpec``: code,
HTTP status, message, extra headers) with ``{field}`` templates where a value is filled
in; :func:`gateway_error` fills them. The format (JSON or XML) is not part of the
error: it is chosen when the error is rendered.

Statuses and messages are those of Aliyun's public gateway and ECS error tables; where
the sources disagree, the row's comment says which one is followed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from string import Formatter
from types import MappingProxyType

from ..catalogue import ErrorSpec
from ._encoding import as_utc, parse_timestamp
from ._types import ECS_VERSION, Call

__all__ = [
    "GATEWAY_ERRORS",
    "GatewayError",
    "check_action",
    "check_timestamp",
    "gateway_error",
]

#: An error answered by the gateway before any handler runs (the core's error value).
GatewayError = ErrorSpec

# Code (a template where gateway_error fills a value in), HTTP status, message. Sources:
# Aliyun's public gateway and ECS error tables, except where a note says otherwise.
_TABLE = """
Missing{name}                400  {name} is mandatory for this action.
Invalid{name}                400  Specified parameter {name} is not valid.
InvalidParameter.Format      400  Specified parameter format is not valid.{detail}
InvalidAction.NotFound       404  Specified api is not found, please check your url and method.
InvalidVersion               400  Specified parameter Version is not valid.
UnsupportedHTTPMethod        403  This HTTP method is not supported.
InvalidAccessKeyId.NotFound  404  Specified access key is not found.
InvalidAccessKeyId.Inactive  400  Specified access key is disabled.
SignatureDoesNotMatch        400  Specified signature is not matched with our calculation. \
server string to sign is:{string_to_sign}
IncompleteSignature          400  The request signature does not conform to Alibaba Cloud \
standards.{detail}
InvalidSignatureMethod       400  Specified signature method is not valid.
InvalidTimeStamp.Format      400  Specified time stamp or date value is not well formatted.
InvalidTimeStamp.Expired     400  Specified time stamp or date value is expired.
SignatureNonceUsed           400  Specified signature nonce was used already.
RequestTooLarge              413  The request is too large: {what} exceeds {limit}.
RequestTimeout               408  The request was not received in full within {seconds:g} seconds.
Throttling.User              400  Request was denied due to user flow control.
Throttling.Api               400  Request was denied due to api flow control.
InternalError                500  The request processing has failed due to some unknown error, \
exception or failure.
ServiceUnavailable           503  The request has failed due to a temporary failure of the server.
"""
# Notes on single rows:
# - Missing{name} / Invalid{name}: a common (protocol) parameter absent or empty / with a
#   value the gateway does not accept (Action, Format, SignatureNonce, SignatureVersion...).
# - InvalidParameter.Format: undecodable or repeated parameters; {detail} (optional)
#   follows after a space. Likewise IncompleteSignature: an unusable ACS3 Authorization
#   header or signed-header set.
# - InvalidVersion: status undocumented; 400 like the other parameter errors.
# - UnsupportedHTTPMethod: the generic gateway table says 400 but reuses the
#   signature-mismatch message there, an evident copy error; the ECS table (403, this
#   message) is self-consistent.
# - InvalidAccessKeyId.NotFound: 404 in the gateway table, 400 in an ECS 2018 table with
#   another message; the gateway table's message, so its status (ClientException either way).
# - SignatureDoesNotMatch: the old SDK splits the message on ":" (IndexError without one)
#   and, when the rest equals its own string to sign, reports InvalidAccessKeySecret.
# - RequestTooLarge, RequestTimeout: no Aliyun code is documented; names and statuses are
#   ours (4xx, so the new SDK raises ClientException and neither SDK retries).
# - Throttling.*: sent with x-acs-retry-after, so the new SDK raises ThrottlingException.

_RETRY_AFTER = (("x-acs-retry-after", "{retry_after_ms}"),)


def _row(line: str) -> ErrorSpec:
    code, status, message = line.split(maxsplit=2)
    headers = _RETRY_AFTER if code.startswith("Throttling.") else ()
    return ErrorSpec(code, int(status), message, headers)


#: Every gateway error by code (``{field}`` where :func:`gateway_error` fills a value in).
GATEWAY_ERRORS: Mapping[str, GatewayError] = MappingProxyType(
    {row.code: row for row in map(_row, _TABLE.strip().splitlines())}
)


def _fields(row: ErrorSpec) -> frozenset[str]:
    texts = (row.code, row.message, *(value for _, value in row.headers))
    return frozenset(name for text in texts for _, name, _, _ in Formatter().parse(text) if name)


_FIELDS = {code: _fields(row) for code, row in GATEWAY_ERRORS.items()}


def gateway_error(code: str, **fields: object) -> GatewayError:
    """The error of :data:`GATEWAY_ERRORS` row ``code``, its ``{field}`` values filled in.

    ``gateway_error("Missing{name}", name="Action")`` is ``MissingAction`` 400. A
    ``detail`` (rows that have one) is appended to the message after a space, if not
    empty. Raises ValueError for an unknown code or fields other than the row's.
    """
    row = GATEWAY_ERRORS.get(code)
    if row is None:
        raise ValueError(f"unknown gateway error code {code!r}; known: {sorted(GATEWAY_ERRORS)}")
    wanted = _FIELDS[code]
    given = set(fields) | ({"detail"} if "detail" in wanted else set())
    if given != wanted:
        raise ValueError(
            f"gateway error {code!r} takes fields {sorted(wanted)}, got {sorted(fields)}"
        )
    if not wanted:
        return row
    detail = fields.get("detail")
    values = {**fields, "detail": f" {detail}" if detail else ""}
    return GatewayError(
        row.code.format_map(values),
        row.http_status,
        row.message.format_map(values),
        tuple((name, value.format_map(values)) for name, value in row.headers),
    )


def check_action(call: Call, actions: Collection[str]) -> GatewayError | None:
    """Unknown action -> ``InvalidAction.NotFound`` 404, then version -> ``InvalidVersion``."""
    if call.action not in actions:
        return GATEWAY_ERRORS["InvalidAction.NotFound"]
    if call.version != ECS_VERSION:
        return GATEWAY_ERRORS["InvalidVersion"]
    return None


def check_timestamp(
    call: Call, *, now: datetime, window: timedelta = timedelta(minutes=15)
) -> GatewayError | None:
    """``InvalidTimeStamp.Format`` or ``.Expired`` (more than ``window`` off, either way).

    A naive ``now`` is taken to be UTC.
    """
    sent = parse_timestamp(call.timestamp)
    if sent is None:
        return GATEWAY_ERRORS["InvalidTimeStamp.Format"]
    if abs(sent - as_utc(now)) > window:
        return GATEWAY_ERRORS["InvalidTimeStamp.Expired"]
    return None
