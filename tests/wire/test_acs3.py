"""taskcancel.wire.acs3: ACS3-HMAC-SHA256 requests built, parsed, verified and refused."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from _wire_kit import (
    API,
    HOST,
    SECRET,
    acs3_request,
    api_params,
    call_of,
    expect_error,
    param_names,
    param_values,
    parse_request,
    send,
    tamper,
    with_authorization,
    without_header,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel.wire import (
    ECS_VERSION,
    Call,
    GatewayError,
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
    request = acs3_request()
    form = [("content-type", "application/x-www-form-urlencoded")]
    call = call_of(request, body=b"TaskId2=x", extra_headers=form)
    assert call.params["TaskId2"] == "x"
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


def _hand_signed_acs3(content_sha256: str, *, sign_content_header: bool) -> Call | GatewayError:
    """An ACS3 request whose x-acs-content-sha256 header may be left out of SignedHeaders."""
    headers = [
        ("host", HOST),
        ("x-acs-action", "CancelTask"),
        ("x-acs-version", ECS_VERSION),
        ("x-acs-date", "2026-11-28T15:15:45Z"),
        ("x-acs-signature-nonce", "n"),
        ("x-acs-content-sha256", content_sha256),
    ]
    signed = sorted(k for k, _ in headers if sign_content_header or k != "x-acs-content-sha256")
    canonical = acs3.canonical_request("POST", "/", API.items(), headers, signed, acs3.EMPTY_SHA256)
    signature = acs3.signature(acs3.string_to_sign(canonical), SECRET)
    authorization = (
        f"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    raw = [(k.encode(), v.encode()) for k, v in (*headers, ("authorization", authorization))]
    return parse_request("POST", "/", urlencode(API).encode(), raw, b"")


def test_acs3_content_sha256_header_must_match_body() -> None:
    honest = _hand_signed_acs3(acs3.EMPTY_SHA256, sign_content_header=False)
    assert isinstance(honest, Call)
    assert verify_signature(honest, SECRET) is None
    lying = _hand_signed_acs3("0" * 64, sign_content_header=False)
    assert isinstance(lying, Call)
    assert not lying.content_sha256_matches
    expect_error(verify_signature(lying, SECRET), "SignatureDoesNotMatch", 400)
