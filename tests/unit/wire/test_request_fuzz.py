"""taskcancel.wire.request never raises: any bytes, and valid requests with bytes flipped."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlencode, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from support.signing import (
    ACTIONS,
    NOW,
    SECRET,
    acs3_request,
    api_params,
    v1_request,
)

from taskcancel.wire import (
    Call,
    GatewayError,
    check_action,
    check_timestamp,
    decode_request,
    parse_call,
    render_error,
    render_success,
    verify_signature,
)

header_names = st.one_of(
    st.sampled_from(
        [
            b"authorization",
            b"content-type",
            b"host",
            b"x-acs-date",
            b"x-acs-signature-nonce",
            b"x-acs-action",
            b"x-acs-version",
            b"x-acs-content-sha256",
            b"Authorization",
        ]
    ),
    st.binary(max_size=12),
)


header_values = st.one_of(
    st.sampled_from(
        [
            b"application/x-www-form-urlencoded",
            b"ACS3-HMAC-SHA256 ",
            b"ACS3-HMAC-SHA256 Credential=a,"
            b"SignedHeaders=x-acs-date;x-acs-signature-nonce,Signature=b",
            b"ACS3-X",
            b"2026-11-28T15:15:45Z",
        ]
    ),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda s: ("ACS3-HMAC-SHA256 " + s).encode()),
)


queries = st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8).map(
        lambda pairs: urlencode(pairs).encode()
    ),
    st.builds(lambda r: urlsplit(r.target).query.encode(), st.builds(v1_request)),
)


@settings(max_examples=200)
@given(
    method=st.one_of(st.sampled_from(["GET", "POST"]), st.text(max_size=6)),
    path=st.one_of(
        st.sampled_from(["/", b"/", "", b""]), st.text(max_size=5), st.binary(max_size=5)
    ),
    query=queries,
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
    body=st.one_of(st.binary(max_size=100), queries),
)
def test_parse_request_never_raises(
    method: str,
    path: str | bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    result, response_format = _parse_in_two_steps(method, path, query, headers, body)
    if isinstance(result, GatewayError):
        assert 400 <= result.http_status < 500
        rendered = render_error(
            result, request_id="R", host_id="H", response_format=response_format
        )
        assert rendered.status == result.http_status
    else:
        assert result.scheme in ("V1", "ACS3")
        verify_signature(result, "secret")
        check_timestamp(result, now=NOW)
        check_action(result, ACTIONS)
        rendered = render_success(
            result.action,
            dict(result.params),
            request_id="R",
            response_format=result.response_format,
        )
        if result.response_format == "XML":
            ElementTree.fromstring(rendered.body)
        else:
            json.loads(rendered.body)


def _parse_in_two_steps(
    method: str,
    path: str | bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> tuple[Call | GatewayError, str]:
    """What a server does: decode, then parse; the format to answer errors in."""
    decoded = decode_request(method, path, query, headers, body)
    if isinstance(decoded, GatewayError):
        return decoded, "JSON"
    assert decoded.response_format in ("JSON", "XML")
    return parse_call(decoded), decoded.response_format


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes]:
    """A valid V1 or ACS3 request with a few random bytes flipped, headers dropped or added."""
    params = draw(api_params)
    request = draw(st.sampled_from([v1_request, acs3_request]))(params)
    query = bytearray(urlsplit(request.target).query.encode())
    headers = [(k.encode(), v.encode()) for k, v in request.headers]
    for _ in range(draw(st.integers(0, 3))):
        choice = draw(st.integers(0, 3))
        if choice == 0 and query:
            query[draw(st.integers(0, len(query) - 1))] = draw(st.integers(0, 255))
        elif choice == 1 and headers:
            del headers[draw(st.integers(0, len(headers) - 1))]
        elif choice == 2 and headers:
            index = draw(st.integers(0, len(headers) - 1))
            headers[index] = (headers[index][0], draw(st.binary(max_size=30)))
        else:
            headers.append((draw(header_names), draw(header_values)))
    body = draw(st.one_of(st.just(b""), st.binary(max_size=30)))
    return request.method, bytes(query), headers, body


@settings(max_examples=200)
@given(mutated_requests())
def test_parse_request_never_raises_on_mutated_valid_requests(
    case: tuple[str, bytes, list[tuple[bytes, bytes]], bytes],
) -> None:
    method, query, headers, body = case
    result, response_format = _parse_in_two_steps(method, "/", query, headers, body)
    assert isinstance(result, Call | GatewayError)
    if isinstance(result, Call):
        verify_signature(result, SECRET)
        check_timestamp(result, now=NOW)
    else:
        render_error(result, request_id="R", host_id="H", response_format=response_format)
