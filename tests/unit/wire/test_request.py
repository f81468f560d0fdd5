"""taskcancel.wire.request: limits, decoding, Format, and the table of schemes."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from support.signing import (
    API,
    HOST,
    NOW,
    SECRET,
    acs3_request,
    call_of,
    expect_error,
    parse_request,
    send,
    v1_query_without,
    v1_request,
)

from taskcancel import wire
from taskcancel.wire import (
    SCHEMES,
    Call,
    DecodedRequest,
    Limits,
    OutgoingRequest,
    Scheme,
    decode_request,
    parse_call,
    verify_signature,
)


def test_method_and_path() -> None:
    request = v1_request()
    query = urlsplit(request.target).query.encode()
    for method in ("PUT", "DELETE", "get", "HEAD", ""):
        error = expect_error(
            parse_request(method, "/", query, [], b""), "UnsupportedHTTPMethod", 403
        )
        assert error.message == "This HTTP method is not supported."
    for path in ("/x", b"/api", "//"):
        expect_error(parse_request("GET", path, query, [], b""), "InvalidAction.NotFound", 404)
    assert isinstance(parse_request("GET", b"", query, [], b""), Call)


def test_bad_utf8_is_invalid_parameter_format() -> None:
    expect_error(parse_request("GET", "/", b"TaskId=%FF", [], b""), "InvalidParameter.Format", 400)
    expect_error(
        parse_request("GET", "/", b"Task\xffId=1", [], b""), "InvalidParameter.Format", 400
    )
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    expect_error(parse_request("POST", "/", b"", form, b"a=%C3"), "InvalidParameter.Format", 400)


def test_repeated_names_are_refused() -> None:
    request = v1_request()
    query = urlsplit(request.target).query
    expect_error(send(request, query=f"{query}&TaskId=t-2"), "InvalidParameter.Format", 400)
    form = [("content-type", "application/x-www-form-urlencoded")]
    expect_error(
        send(request, body=b"RegionId=x", extra_headers=form), "InvalidParameter.Format", 400
    )


def test_format_normalised_and_checked() -> None:
    assert call_of(v1_request(), query=v1_query_without("Format")).response_format == "JSON"
    assert (
        call_of(v1_request(), query=v1_query_without("Format", Format="xml")).response_format
        == "XML"
    )
    assert (
        call_of(v1_request(), query=v1_query_without("Format", Format="json")).response_format
        == "JSON"
    )
    expect_error(
        send(v1_request(), query=v1_query_without("Format", Format="yaml")), "InvalidFormat", 400
    )
    # errors found after Format is known are answered in that format: decoding says which
    query = v1_query_without("SignatureNonce", Format="XML").encode()
    decoded = decode_request("POST", "/", query, [], b"")
    assert isinstance(decoded, DecodedRequest)
    assert decoded.response_format == "XML"
    expect_error(parse_call(decoded), "MissingSignatureNonce", 400)


def test_authorization_other_than_acs3_falls_back_to_v1() -> None:
    call = call_of(v1_request(), extra_headers=[("Authorization", "Bearer x")])
    assert call.scheme == "V1"


def test_limits() -> None:
    request = v1_request()
    small = Limits(max_query_bytes=64, max_body_bytes=4, max_headers=3, max_header_bytes=100)
    error = expect_error(send(request, limits=small), "RequestTooLarge", 413)
    assert "query" in error.message
    roomy = Limits(max_body_bytes=4)
    expect_error(send(request, body=b"12345", limits=roomy), "RequestTooLarge", 413)
    many = [("x-h", "v")] * 200
    expect_error(send(request, extra_headers=many), "RequestTooLarge", 413)
    big = [("x-big", "v" * 20000)]
    expect_error(send(request, extra_headers=big), "RequestTooLarge", 413)
    huge_query = b"a=" + b"b" * 9000
    expect_error(parse_request("GET", "/", huge_query, [], b""), "RequestTooLarge", 413)
    assert isinstance(send(request, body=b"1234", limits=roomy), Call)


@pytest.mark.parametrize("build", [v1_request, acs3_request], ids=["v1", "acs3"])
def test_an_overlong_nonce_is_refused(build: Callable[..., OutgoingRequest]) -> None:
    """Every nonce is remembered for the replay window, so its size is bounded."""
    assert isinstance(send(build(nonce="n" * wire.MAX_NONCE_LENGTH)), Call)
    refused = send(build(nonce="n" * (wire.MAX_NONCE_LENGTH + 1)))
    expect_error(refused, "InvalidSignatureNonce", 400)


@pytest.mark.parametrize("scheme", list(Scheme))
def test_a_request_built_through_the_table_parses_as_its_scheme(scheme: Scheme) -> None:
    """SCHEMES is the one switch: the same arguments build and check either scheme."""
    out = SCHEMES[scheme].build_request(
        "CancelTask",
        API,
        host=HOST,
        access_key_id="testid",
        secret=SECRET,
        nonce="n",
        timestamp=NOW,
    )
    call = call_of(out)
    assert call.scheme is scheme
    assert SCHEMES[scheme].signature(call.string_to_sign, SECRET) == call.signature
    assert verify_signature(call, SECRET) is None


@pytest.mark.parametrize(
    ("name", "scheme"),
    [
        ("acs3", Scheme.ACS3),
        ("ACS3", Scheme.ACS3),
        ("v3", Scheme.ACS3),
        ("ACS3-HMAC-SHA256", Scheme.ACS3),
        ("v1", Scheme.V1),
        ("V1", Scheme.V1),
        ("v2", Scheme.V1),
    ],
)
def test_scheme_names_the_sdks_use(name: str, scheme: Scheme) -> None:
    assert Scheme(name) is scheme


@pytest.mark.parametrize("name", ["v4", "", "hmac-sha1", "ACS3-HMAC-SM3"])
def test_unknown_scheme_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        Scheme(name)
