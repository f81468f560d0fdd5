"""Signature V3 (``ACS3-HMAC-SHA256``, ``Authorization`` header), both directions.

The API parameters travel in the query; the protocol fields in ``x-acs-*`` headers.
``Action``/``Version`` come from the parameters, else from ``x-acs-action`` /
``x-acs-version``. ``x-acs-date`` and ``x-acs-signature-nonce`` must be present.

``SignedHeaders`` must cover everything the server decides on, as the official SDKs
sign it (they sign every header they set): ``host``, every ``x-acs-*`` header sent, and
``content-type`` whenever there is a body (it decides whether the body is read as
parameters). Otherwise ``IncompleteSignature``: a request could be changed in flight,
or replayed under a fresh nonce. An unsigned ``content-type`` with an empty body is
accepted: aiohttp (the new SDK's async client) adds one after signing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from ._encoding import canonical_from_raw, canonical_query, format_timestamp
from ._keyed import mac
from ._types import ECS_VERSION, MAX_NONCE_LENGTH, Call, DecodedRequest, OutgoingRequest, Scheme
from .gateway import GatewayError, gateway_error

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "build_request",
    "canonical_request",
    "parse",
    "signature",
    "string_to_sign",
]

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_REQUIRED = ("x-acs-date", "x-acs-signature-nonce")


def canonical_request(
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
    return _canonical(
        method, path, canonical_query(query), first, repeated, signed_headers, payload_sha256
    )


def _canonical(
    method: str,
    path: str,
    canonical: str,
    first: Mapping[str, str],
    repeated: Mapping[str, list[str]],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    """:func:`canonical_request` from the canonical query and headers by lower-case
    name (``first`` value of each, ``repeated`` lists all values of names sent twice)."""
    lines = []
    for name in signed_headers:
        values = repeated.get(name)
        value = first.get(name, "") if values is None else ",".join(sorted(values))
        lines.append(f"{name}:{value}\n")
    return "\n".join(
        (method, path or "/", canonical, "".join(lines), ";".join(signed_headers), payload_sha256)
    )


def string_to_sign(canonical_request: str) -> str:
    """``ACS3-HMAC-SHA256`` + newline + hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{digest}"


def signature(string_to_sign: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the string to sign, keyed with the plain secret (no ``&``)."""
    return mac(secret.encode("utf-8"), string_to_sign.encode("utf-8"), "sha256").hex()


def build_request(
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
    canonical = canonical_request(method, "/", params.items(), headers, signed, EMPTY_SHA256)
    sent = signature(string_to_sign(canonical), secret)
    authorization = (
        f"{ALGORITHM} Credential={access_key_id},SignedHeaders={';'.join(signed)},Signature={sent}"
    )
    headers.append(("authorization", authorization))
    return OutgoingRequest(method, f"/?{canonical_query(params.items())}", tuple(headers), b"")


def _authorization_fields(text: str) -> dict[str, str] | None:
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        fields[key.strip()] = value.strip()
    return fields


def parse(request: DecodedRequest) -> Call | GatewayError:
    """The ACS3 call in ``request``, or ``InvalidSignatureMethod`` / ``IncompleteSignature``
    / ``InvalidSignatureNonce`` (too long) / ``Missing{Name}``."""
    headers = request.headers
    algorithm, _, rest = headers["authorization"].partition(" ")
    if algorithm != ALGORITHM:
        return gateway_error("InvalidSignatureMethod")
    fields = _authorization_fields(rest)
    if fields is None:
        return _incomplete("Authorization must be Credential=..,SignedHeaders=..,Signature=..")
    credential = fields.get("Credential", "")
    signed_text = fields.get("SignedHeaders", "")
    sent = fields.get("Signature", "")
    for name, value in (
        ("Credential", credential),
        ("SignedHeaders", signed_text),
        ("Signature", sent),
    ):
        if not value:
            return _incomplete(f"Authorization has no {name}.")
    signed_headers = signed_text.split(";")
    if "" in signed_headers:
        return _incomplete("SignedHeaders has an empty name.")
    for header in _REQUIRED:
        if not headers.get(header):
            return _incomplete(f"Header {header} must be present and signed.")
    must_sign = {"host", *(name for name in headers if name.startswith("x-acs-"))}
    if request.body:
        must_sign.add("content-type")
    unsigned = sorted(must_sign.difference(signed_headers))
    if unsigned:
        plural = "s" if len(unsigned) > 1 else ""
        return _incomplete(f"Header{plural} {', '.join(unsigned)} must be signed.")
    if len(headers["x-acs-signature-nonce"]) > MAX_NONCE_LENGTH:
        return gateway_error("Invalid{name}", name="SignatureNonce")
    found: dict[str, str] = {}
    for param, header in (("Action", "x-acs-action"), ("Version", "x-acs-version")):
        value = request.params.get(param) or headers.get(header, "")
        if not value:
            return gateway_error("Missing{name}", name=param)
        found[param] = value

    body = request.body
    payload_sha256 = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    sent_sha256 = headers.get("x-acs-content-sha256")
    query = canonical_from_raw(request.raw_query)
    if query is None:
        query = canonical_query(request.query_pairs)
    canonical = _canonical(
        request.method, "/", query, headers, request.repeated, signed_headers, payload_sha256
    )
    return Call(
        method=request.method,
        action=found["Action"],
        version=found["Version"],
        params=MappingProxyType(request.params),
        access_key_id=credential,
        response_format=request.response_format,
        nonce=headers["x-acs-signature-nonce"],
        timestamp=headers["x-acs-date"],
        host=headers.get("host", ""),
        scheme=Scheme.ACS3,
        signature=sent.lower(),
        string_to_sign=string_to_sign(canonical),
        canonical_request=canonical,
        security_token=headers.get("x-acs-security-token"),
        content_sha256_matches=sent_sha256 is None or sent_sha256.lower() == payload_sha256,
    )


def _incomplete(detail: str) -> GatewayError:
    return gateway_error("IncompleteSignature", detail=detail)
