"""taskcancel.wire.acs3: ACS3-HMAC-SHA256 requests built, parsed, verified and refused."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.signing import (
    API,
    HOST,
    SECRET,
    acs3_request,
    api_params,
    call_of,
    expect_error,
    hand_signed_acs3,
    param_names,
    param_values,
    sdk_headers,
    send,
    tamper,
    with_authorization,
    without_header,
)

from taskcancel.wire import (
    ECS_VERSION,
    Call,
    OutgoingRequest,
    acs3,
    verify_signature,
)


def test_build_acs3_then_parse_and_verify() -> None:
    request = acs3_request(security_token="sts", extra_headers=[("User-Agent", "taskcancel/0.1")])
    headers = dict(request.headers)
    assert headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=")
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert signed == sorted(signed)
    assert {
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "accept",
        "user-agent",
        "x-acs-security-token",
    } <= set(signed)
    assert headers["x-acs-content-sha256"] == acs3.EMPTY_SHA256
    assert urlsplit(request.target).query == "RegionId=cn-hangzhou&TaskId=t-23ym6mvro"
    call = call_of(request)
    assert call.scheme == "ACS3"
    assert (call.action, call.version, call.access_key_id) == ("CancelTask", ECS_VERSION, "testid")
    assert (call.nonce, call.timestamp, call.host) == ("n-1", "2026-11-28T15:15:45Z", HOST)
    assert call.security_token == "sts"
    assert verify_signature(call, SECRET) is None
    expect_error(verify_signature(call, "other"), "SignatureDoesNotMatch", 400)


@settings(max_examples=150)
@given(
    st.dictionaries(param_names.filter(lambda s: s not in ("Format",)), param_values, max_size=5),
    st.sampled_from(["GET", "POST"]),
    st.text(min_size=1, max_size=20),
)
def test_acs3_round_trip_any_unicode(params: dict[str, str], method: str, secret: str) -> None:
    call = call_of(acs3_request(params, method=method, secret=secret))
    assert dict(call.params) == params
    assert verify_signature(call, secret) is None
    assert verify_signature(call, secret + "x") is not None


@settings(max_examples=150)
@given(api_params.map(lambda d: {k: v for k, v in d.items() if k != "Format"}), st.data())
def test_acs3_tampering_fails(params: dict[str, str], data: st.DataObject) -> None:
    request = acs3_request(params)
    query = tamper(urlsplit(request.target).query, data)
    result = send(request, query=query)
    if isinstance(result, Call):
        assert verify_signature(result, SECRET) is not None


def test_acs3_form_body_is_covered_by_content_hash() -> None:
    request = acs3_request(extra_headers=[("content-type", "application/x-www-form-urlencoded")])
    call = call_of(request, body=b"TaskId2=x")  # signed for an empty body
    assert call.params["TaskId2"] == "x"
    assert not call.content_sha256_matches
    expect_error(verify_signature(call, SECRET), "SignatureDoesNotMatch", 400)


def test_acs3_malformed_authorization() -> None:
    request = acs3_request()
    auth = dict(request.headers)["authorization"]
    cases = [
        "ACS3-HMAC-SHA256 garbage",
        "ACS3-HMAC-SHA256 Credential=testid,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;;x,Signature=ab",
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host,Signature=",
        auth.replace("x-acs-date;", ""),
        auth.replace("x-acs-signature-nonce;", ""),
        auth.replace("x-acs-action;", ""),
    ]
    for value in cases:
        expect_error(send(with_authorization(request, value)), "IncompleteSignature", 400)
    expect_error(send(without_header(request, "x-acs-date")), "IncompleteSignature", 400)
    for algorithm in ("ACS3-HMAC-SM3", "ACS3-RSA-SHA256"):
        value = auth.replace("ACS3-HMAC-SHA256", algorithm)
        expect_error(send(with_authorization(request, value)), "InvalidSignatureMethod", 400)


def test_acs3_missing_action_and_version() -> None:
    request = acs3_request()
    auth = dict(request.headers)["authorization"]
    no_action = without_header(request, "x-acs-action")
    expect_error(
        send(with_authorization(no_action, auth.replace("x-acs-action;", ""))),
        "MissingAction",
        400,
    )
    no_version = without_header(request, "x-acs-version")
    signed = auth.replace(";x-acs-version", "")
    expect_error(send(with_authorization(no_version, signed)), "MissingVersion", 400)


def test_acs3_action_in_query_wins_and_is_signed() -> None:
    request = acs3_request()
    query = urlsplit(request.target).query + "&Action=DescribeTasks"
    call = call_of(request, query=query)
    assert call.action == "DescribeTasks"
    assert verify_signature(call, SECRET) is not None


def test_acs3_content_sha256_header_must_match_body() -> None:
    headers = sdk_headers()
    honest = call_of(hand_signed_acs3(headers, sorted(k for k, _ in headers)))
    assert verify_signature(honest, SECRET) is None
    lying_headers = [(k, "0" * 64 if k == "x-acs-content-sha256" else v) for k, v in headers]
    lying = call_of(hand_signed_acs3(lying_headers, sorted(k for k, _ in headers)))
    assert not lying.content_sha256_matches
    expect_error(verify_signature(lying, SECRET), "SignatureDoesNotMatch", 400)


# ------------------------------------------ what ACS3 decides on must be signed


def test_a_signature_over_date_and_nonce_alone_is_refused() -> None:
    """Signing only x-acs-date and x-acs-signature-nonce covers neither host nor action."""
    params = {**API, "Action": "CancelTask", "Version": ECS_VERSION}
    request = hand_signed_acs3(
        sdk_headers(), ["x-acs-date", "x-acs-signature-nonce"], params=params
    )
    error = expect_error(send(request), "IncompleteSignature", 400)
    assert "host" in error.message


@pytest.mark.parametrize(
    "left_out",
    [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-content-sha256",
        "x-acs-credentials-provider",
        "x-acs-security-token",
        "x-acs-anything",
    ],
)
def test_every_x_acs_header_and_host_must_be_signed(left_out: str) -> None:
    headers = [*sdk_headers(), ("x-acs-security-token", "sts"), ("x-acs-anything", "1")]
    signed = sorted(k for k, _ in headers if k != left_out)
    error = expect_error(send(hand_signed_acs3(headers, signed)), "IncompleteSignature", 400)
    assert f"{left_out} must be signed" in error.message
    # signed, the same request is accepted and verifies
    call = call_of(hand_signed_acs3(headers, sorted(k for k, _ in headers)))
    assert verify_signature(call, SECRET) is None


FORM = ("content-type", "application/x-www-form-urlencoded")


def test_content_type_must_be_signed_when_there_is_a_body() -> None:
    """It decides whether the body is read as parameters: relabelling must break the call."""
    body = b"TaskId=t-from-the-body"
    params = {"RegionId": "cn-hangzhou"}
    headers = [*sdk_headers(body=body), FORM]
    unsigned = sorted(k for k, _ in headers if k != "content-type")
    request = hand_signed_acs3(headers, unsigned, params=params, body=body)
    error = expect_error(send(request), "IncompleteSignature", 400)
    assert "content-type must be signed" in error.message
    signed = hand_signed_acs3(headers, sorted(k for k, _ in headers), params=params, body=body)
    call = call_of(signed)
    assert call.params["TaskId"] == "t-from-the-body"
    assert verify_signature(call, SECRET) is None
    relabelled = [(k, "text/plain" if k == "content-type" else v) for k, v in signed.headers]
    moved = call_of(OutgoingRequest("POST", signed.target, tuple(relabelled), body))
    assert "TaskId" not in moved.params
    expect_error(verify_signature(moved, SECRET), "SignatureDoesNotMatch", 400)


def test_an_unsigned_content_type_without_a_body_is_accepted() -> None:
    """aiohttp (the new SDK's async client) adds Content-Type after signing, body empty."""
    headers = sdk_headers()
    request = hand_signed_acs3(headers, sorted(k for k, _ in headers))
    call = call_of(request, extra_headers=[("Content-Type", "application/octet-stream")])
    assert verify_signature(call, SECRET) is None


@pytest.mark.parametrize(
    "repeated",
    ["x-acs-signature-nonce", "x-acs-date", "x-acs-action", "x-acs-version", "host"],
)
def test_a_repeated_header_that_decides_the_call_is_refused(repeated: str) -> None:
    """Sent twice, the signature covers both values (sorted) but one would be used: swapping
    them would replay the request under the other value."""
    headers = sdk_headers()
    other = (repeated, dict(headers)[repeated] + "-2")
    at = [name for name, _ in headers].index(repeated)
    for order in ([*headers, other], [*headers[:at], other, *headers[at:]]):
        request = hand_signed_acs3(order, sorted({k for k, _ in order}))
        error = expect_error(send(request), "InvalidParameter.Format", 400)
        assert f"Header {repeated} is repeated." in error.message


@pytest.mark.parametrize("repeated", ["authorization", "content-type"])
def test_a_repeated_authorization_or_content_type_is_refused(repeated: str) -> None:
    request = acs3_request()
    extra = [(repeated, dict(request.headers).get(repeated, "application/x-www-form-urlencoded"))]
    if repeated == "content-type":
        extra *= 2
    error = expect_error(send(request, extra_headers=extra), "InvalidParameter.Format", 400)
    assert f"Header {repeated} is repeated." in error.message
