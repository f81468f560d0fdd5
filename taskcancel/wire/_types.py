"""The values handed from one stage of the wire to the next (pure data, no behaviour)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ECS_VERSION",
    "MAX_NONCE_LENGTH",
    "Call",
    "DecodedRequest",
    "OutgoingRequest",
    "Scheme",
]

ECS_VERSION = "2014-05-26"

#: Longer nonces are refused (``InvalidSignatureNonce``): the SDKs send 32 hex digits,
#: and every nonce is remembered for the replay window.
MAX_NONCE_LENGTH = 128


class Scheme(StrEnum):
    """A signature scheme: V1 (HMAC-SHA1, signed parameters) or ACS3 (signed headers).

    ``Scheme(name)`` also takes the SDKs' names, in any case: ``acs3``, ``v3`` and
    ``acs3-hmac-sha256`` for ACS3; ``v1`` and ``v2`` (the new SDK's
    ``signature_algorithm="v2"``) for V1.
    """

    V1 = "V1"
    ACS3 = "ACS3"

    @classmethod
    def _missing_(cls, value: object) -> Scheme | None:
        return _ALIASES.get(value.lower()) if isinstance(value, str) else None


_ALIASES = {
    "acs3": Scheme.ACS3,
    "v3": Scheme.ACS3,
    "acs3-hmac-sha256": Scheme.ACS3,
    "v1": Scheme.V1,
    "v2": Scheme.V1,
}


@dataclass(frozen=True, slots=True)
class OutgoingRequest:
    """A signed request ready to send: ``target`` is path and query (``/?A=b&...``)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(slots=True, kw_only=True)
class DecodedRequest:
    """A request within limits whose parameters decoded, not yet read by its scheme.

    Per-request values (this one, :class:`Call`, ``Response``) are plain slotted
    dataclasses, read-only by convention: a frozen one would set each field through
    ``object.__setattr__``, a cost paid on every request.

    ``params`` holds every parameter (query and form body); ``query_pairs`` the query's
    alone, in order, and ``raw_query`` the query as sent. ``headers`` maps each
    lower-case name to its first value (stripped), ``repeated`` to all values of a
    name sent more than once. ``response_format`` is ``JSON`` or ``XML``: every error
    found from here on is answered in it.
    """

    method: str
    scheme: Scheme
    params: Mapping[str, str]
    query_pairs: list[tuple[str, str]]
    raw_query: str
    has_form_body: bool
    headers: Mapping[str, str]
    repeated: Mapping[str, list[str]]
    body: bytes
    response_format: str


@dataclass(slots=True, kw_only=True)
class Call:
    """A well-formed, not yet authenticated API call.

    ``params`` holds every decoded parameter (query and form body, protocol ones
    included). ``nonce``/``timestamp`` are the raw strings sent (V1 ``SignatureNonce`` /
    ``Timestamp``, ACS3 ``x-acs-signature-nonce`` / ``x-acs-date``). ``string_to_sign``
    and ``signature`` (ACS3's hex in lower case) are what ``verify_signature`` compares;
    ``canonical_request`` is ACS3's (empty for V1).
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
    scheme: Scheme
    signature: str
    string_to_sign: str
    canonical_request: str = ""
    security_token: str | None = None
    content_sha256_matches: bool = True
