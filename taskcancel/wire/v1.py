"""Signature V1 (``SignatureVersion=1.0``, HMAC-SHA1), both directions.

Every parameter travels in the query (or a form body) and all of them are signed,
``Signature`` excepted; no header is signed. So ``Action``/``Version`` come from the
parameters only: trusting ``x-acs-action`` here would let the action be changed in
flight.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from ._encoding import canonical_from_raw, canonical_query, format_timestamp, percent_encode
from ._keyed import mac
from ._types import ECS_VERSION, MAX_NONCE_LENGTH, Call, DecodedRequest, OutgoingRequest, Scheme
from .gateway import GatewayError, gateway_error

__all__ = [
    "COMMON_PARAMETERS",
    "build_request",
    "parse",
    "signature",
    "string_to_sign",
]

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

_METHOD = "HMAC-SHA1"
_VERSION = "1.0"
_REQUIRED = (
    "Action",
    "Version",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
)


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """V1 StringToSign: ``METHOD&%2F&`` + percent_encode(canonical query).

    ``params`` are all request parameters (query and form body); a ``Signature`` entry,
    if present, is left out.
    """
    canonical = canonical_query((k, v) for k, v in params.items() if k != "Signature")
    return _from_canonical(method, canonical)


def _from_canonical(method: str, canonical: str) -> str:
    # percent_encode(canonical), cheaply: a canonical query holds only unreserved
    # characters, %XY escapes, "=" and "&", so these three are all that change.
    encoded = canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    return f"{method}&%2F&{encoded}"


def signature(string_to_sign: str, secret: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + "&"``."""
    digest = mac((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), "sha1")
    return base64.b64encode(digest).decode("ascii")


def build_request(
    action: str,
    params: Mapping[str, str],
    *,
    access_key_id: str,
    secret: str,
    nonce: str,
    timestamp: datetime,
    host: str = "",
    version: str = ECS_VERSION,
    method: str = "POST",
    response_format: str = "JSON",
    security_token: str | None = None,
) -> OutgoingRequest:
    """Sign like the SDKs in V1 mode: every parameter in the query, empty body.

    ``host`` is accepted so that both schemes build from the same arguments; V1 signs
    no header, so it is not used. Raises ValueError if ``params`` uses a name of
    :data:`COMMON_PARAMETERS`.
    """
    clash = sorted(COMMON_PARAMETERS & params.keys())
    if clash:
        raise ValueError(f"API parameters may not use protocol names: {clash}")
    common = {
        "Action": action,
        "Version": version,
        "Format": response_format,
        "AccessKeyId": access_key_id,
        "SignatureMethod": _METHOD,
        "SignatureVersion": _VERSION,
        "SignatureNonce": nonce,
        "Timestamp": format_timestamp(timestamp),
    }
    if security_token is not None:
        common["SecurityToken"] = security_token
    signed = {**params, **common}
    sent = signature(string_to_sign(method, signed), secret)
    query = f"{canonical_query(signed.items())}&Signature={percent_encode(sent)}"
    headers = (("x-acs-action", action), ("x-acs-version", version))
    return OutgoingRequest(method, f"/?{query}", headers, b"")


def parse(request: DecodedRequest) -> Call | GatewayError:
    """The V1 call in ``request``, or ``Missing{Name}`` / ``InvalidSignatureMethod`` /
    ``InvalidSignatureVersion`` / ``InvalidSignatureNonce`` (too long)."""
    params = request.params
    for name in _REQUIRED:
        if not params.get(name):
            return gateway_error("Missing{name}", name=name)
    # The 2017-era docs spell it TimeStamp; accept both, Timestamp first.
    timestamp = params.get("Timestamp") or params.get("TimeStamp")
    if not timestamp:
        return gateway_error("Missing{name}", name="Timestamp")
    if len(params["SignatureNonce"]) > MAX_NONCE_LENGTH:
        return gateway_error("Invalid{name}", name="SignatureNonce")
    if params["SignatureMethod"] != _METHOD:
        return gateway_error("InvalidSignatureMethod")
    if params["SignatureVersion"] != _VERSION:
        return gateway_error("Invalid{name}", name="SignatureVersion")
    canonical = None
    if not request.has_form_body:
        canonical = canonical_from_raw(request.raw_query, without="Signature")
    if canonical is None:
        sts = string_to_sign(request.method, params)
    else:
        sts = _from_canonical(request.method, canonical)
    return Call(
        method=request.method,
        action=params["Action"],
        version=params["Version"],
        params=MappingProxyType(params),
        access_key_id=params["AccessKeyId"],
        response_format=request.response_format,
        nonce=params["SignatureNonce"],
        timestamp=timestamp,
        host=request.headers.get("host", ""),
        scheme=Scheme.V1,
        signature=params["Signature"],
        string_to_sign=sts,
        security_token=params.get("SecurityToken"),
    )
