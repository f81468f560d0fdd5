"""What the tests of taskcancel.wire share: signed requests, and feeding them to the parser."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from hypothesis import strategies as st

from taskcancel import wire
from taskcancel.wire import (
    Call,
    DecodedRequest,
    GatewayError,
    Limits,
    OutgoingRequest,
    acs3,
    decode_request,
    parse_call,
    v1,
)

NOW = datetime(2026, 11, 28, 15, 15, 45, tzinfo=UTC)


HOST = "127.0.0.1:8080"


SECRET = "testsecret"


API = {"RegionId": "cn-hangzhou", "TaskId": "t-23ym6mvro"}


ACTIONS = frozenset({"CancelTask", "DescribeTasks"})


def v1_request(params: Mapping[str, str] = API, **kwargs: object) -> OutgoingRequest:
    options: dict[str, object] = {
        "access_key_id": "testid",
        "secret": SECRET,
        "nonce": "n-1",
        "timestamp": NOW,
    }
    options.update(kwargs)
    return v1.build_request("CancelTask", params, **options)  # type: ignore[arg-type]


def acs3_request(params: Mapping[str, str] = API, **kwargs: object) -> OutgoingRequest:
    options: dict[str, object] = {
        "host": HOST,
        "access_key_id": "testid",
        "secret": SECRET,
        "nonce": "n-1",
        "timestamp": NOW,
    }
    options.update(kwargs)
    return acs3.build_request("CancelTask", params, **options)  # type: ignore[arg-type]


def send(
    request: OutgoingRequest,
    *,
    query: str | None = None,
    body: bytes | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    limits: Limits = wire.DEFAULT_LIMITS,
) -> Call | GatewayError:
    """Feed an OutgoingRequest to parse_request the way an ASGI server would."""
    split = urlsplit(request.target)
    headers = [(k.encode(), v.encode()) for k, v in (*request.headers, *extra_headers)]
    if not any(k.lower() == b"host" for k, _ in headers):
        headers.append((b"host", HOST.encode()))
    return parse_request(
        request.method,
        split.path,
        (split.query if query is None else query).encode(),
        headers,
        request.body if body is None else body,
        limits=limits,
    )


def parse_request(*request: Any, **options: Any) -> Call | GatewayError:
    """``decode_request`` then ``parse_call``, as a server does (for tests that do not render)."""
    decoded = decode_request(*request, **options)
    return parse_call(decoded) if isinstance(decoded, DecodedRequest) else decoded


def call_of(request: OutgoingRequest, **kwargs: object) -> Call:
    call = send(request, **kwargs)  # type: ignore[arg-type]
    assert isinstance(call, Call), call
    return call


def expect_error(result: object, code: str, status: int) -> GatewayError:
    assert isinstance(result, GatewayError), result
    assert (result.code, result.http_status) == (code, status), result
    return result


param_names = st.text(min_size=0, max_size=12).filter(lambda s: s not in v1.COMMON_PARAMETERS)


param_values = st.text(max_size=20)


api_params = st.dictionaries(param_names, param_values, max_size=5)


def tamper(query: str, data: st.DataObject) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    names = [k for k, _ in pairs if k != "Signature"]
    if data.draw(st.booleans(), label="add") or not names:
        extra = data.draw(param_names.filter(lambda s: s not in dict(pairs)), label="new name")
        pairs.append((extra, data.draw(param_values, label="new value")))
    else:
        name = data.draw(st.sampled_from(names), label="changed")
        old = dict(pairs)[name]
        new = data.draw(param_values.filter(lambda v: v != old), label="new value")
        pairs = [(k, new if k == name else v) for k, v in pairs]
    return urlencode(pairs)


def v1_query_without(name: str, **replace: str) -> str:
    params = dict(parse_qsl(urlsplit(v1_request().target).query, keep_blank_values=True))
    params.pop(name, None)
    params.update(replace)
    return urlencode(params)


def without_header(request: OutgoingRequest, name: str) -> OutgoingRequest:
    headers = tuple((k, v) for k, v in request.headers if k != name)
    return OutgoingRequest(request.method, request.target, headers, request.body)


def with_authorization(request: OutgoingRequest, value: str) -> OutgoingRequest:
    headers = tuple((k, value if k == "authorization" else v) for k, v in request.headers)
    return OutgoingRequest(request.method, request.target, headers, request.body)


def sdk_headers(
    *, host: str = HOST, date: str = "2026-11-28T15:15:45Z", nonce: str = "n-1", body: bytes = b""
) -> list[tuple[str, str]]:
    """The headers the new SDK sends and signs for a CancelTask (as observed on the wire)."""
    return [
        ("host", host),
        ("x-acs-action", "CancelTask"),
        ("x-acs-version", wire.ECS_VERSION),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("x-acs-content-sha256", hashlib.sha256(body).hexdigest()),
        ("x-acs-credentials-provider", "static_ak"),
    ]


def hand_signed_acs3(
    headers: Sequence[tuple[str, str]],
    signed: Sequence[str],
    *,
    params: Mapping[str, str] = API,
    body: bytes = b"",
    secret: str = SECRET,
) -> OutgoingRequest:
    """A POST signed with exactly ``signed`` as SignedHeaders (the builder signs them all)."""
    payload = hashlib.sha256(body).hexdigest()
    canonical = acs3.canonical_request("POST", "/", params.items(), headers, signed, payload)
    signature = acs3.signature(acs3.string_to_sign(canonical), secret)
    authorization = (
        f"{acs3.ALGORITHM} Credential=testid,SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    all_headers = (*headers, ("authorization", authorization))
    return OutgoingRequest("POST", f"/?{urlencode(params)}", all_headers, body)
