"""taskcancel.wire.v1: V1 (HMAC-SHA1) requests built, parsed, verified and refused."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.signing import (
    HOST,
    SECRET,
    acs3_request,
    api_params,
    call_of,
    expect_error,
    parse_request,
    send,
    tamper,
    v1_query_without,
    v1_request,
)

from taskcancel.wire import (
    ECS_VERSION,
    Call,
    verify_signature,
)


def test_build_v1_request_shape() -> None:
    request = v1_request()
    assert request.method == "POST"
    assert request.body == b""
    assert request.target.startswith("/?")
    params = dict(parse_qsl(urlsplit(request.target).query, keep_blank_values=True))
    assert params["Action"] == "CancelTask"
    assert params["Version"] == ECS_VERSION
    assert params["Format"] == "JSON"
    assert params["SignatureMethod"] == "HMAC-SHA1"
    assert params["SignatureVersion"] == "1.0"
    assert params["Timestamp"] == "2026-11-28T15:15:45Z"
    assert params["SignatureNonce"] == "n-1"
    assert params["RegionId"] == "cn-hangzhou"
    assert "SecurityToken" not in params


def test_build_v1_then_parse_and_verify() -> None:
    call = call_of(v1_request(security_token="sts-token"))
    assert call.scheme == "V1"
    assert (call.action, call.version, call.access_key_id) == ("CancelTask", ECS_VERSION, "testid")
    assert (call.nonce, call.timestamp, call.host) == ("n-1", "2026-11-28T15:15:45Z", HOST)
    assert call.response_format == "JSON"
    assert call.security_token == "sts-token"
    assert call.params["TaskId"] == "t-23ym6mvro"
    assert verify_signature(call, SECRET) is None
    expect_error(verify_signature(call, "other"), "SignatureDoesNotMatch", 400)


def test_build_v1_get_and_xml() -> None:
    call = call_of(v1_request(method="GET", response_format="XML"))
    assert call.method == "GET"
    assert call.response_format == "XML"
    assert verify_signature(call, SECRET) is None


def test_builders_refuse_protocol_names() -> None:
    with pytest.raises(ValueError):
        v1_request({"Action": "x"})
    with pytest.raises(ValueError):
        v1_request({"Signature": "x"})
    with pytest.raises(ValueError):
        acs3_request({"Version": "x"})
    with pytest.raises(ValueError):
        acs3_request(extra_headers=[("Host", "evil")])


@settings(max_examples=150)
@given(api_params, st.sampled_from(["GET", "POST"]), st.text(min_size=1, max_size=20))
def test_v1_round_trip_any_unicode(params: dict[str, str], method: str, secret: str) -> None:
    call = call_of(v1_request(params, method=method, secret=secret))
    assert {k: call.params[k] for k in params} == params
    assert verify_signature(call, secret) is None
    assert verify_signature(call, secret + "x") is not None


@settings(max_examples=150)
@given(api_params, st.data())
def test_v1_tampering_fails(params: dict[str, str], data: st.DataObject) -> None:
    request = v1_request(params)
    query = tamper(urlsplit(request.target).query, data)
    result = send(request, query=query)
    if isinstance(result, Call):
        assert verify_signature(result, SECRET) is not None


def test_v1_form_body_params_are_signed_and_merged() -> None:
    request = v1_request({"RegionId": "cn-hangzhou"})
    extra = b"TaskId=t-1"
    form = [("content-type", "application/x-www-form-urlencoded; charset=UTF-8")]
    call = call_of(request, body=extra, extra_headers=form)
    assert call.params["TaskId"] == "t-1"
    assert verify_signature(call, SECRET) is not None  # not in the signed set
    # sign the merged set: move TaskId from the query to the body
    signed = v1_request({"RegionId": "cn-hangzhou", "TaskId": "t-1"})
    query = "&".join(p for p in urlsplit(signed.target).query.split("&") if p != "TaskId=t-1")
    call = call_of(signed, query=query, body=extra, extra_headers=form)
    assert call.params["TaskId"] == "t-1"
    assert verify_signature(call, SECRET) is None
    # without the form content type the body is not parameters
    call = call_of(signed, query=query, body=extra)
    assert "TaskId" not in call.params


def test_plus_and_percent20_both_decode_to_space() -> None:
    for query in ("TaskId=a+b", "TaskId=a%20b"):
        request = v1_request({"TaskId": "a b"})
        base = urlsplit(request.target).query
        rebuilt = "&".join(p for p in base.split("&") if not p.startswith("TaskId="))
        call = call_of(request, query=f"{rebuilt}&{query}")
        assert call.params["TaskId"] == "a b"
        assert verify_signature(call, SECRET) is None


def test_raw_utf8_in_query_decodes() -> None:
    request = v1_request({"TaskId": "\u00e9"})
    base = urlsplit(request.target).query.replace("TaskId=%C3%A9", "TaskId=\u00e9")
    split = urlsplit(request.target)
    call = parse_request("POST", split.path, base.encode("utf-8"), [], b"")
    assert isinstance(call, Call)
    assert call.params["TaskId"] == "\u00e9"
    assert verify_signature(call, SECRET) is None


_V1_COMMON = "Action Version AccessKeyId Signature SignatureMethod SignatureVersion SignatureNonce"


@pytest.mark.parametrize("name", [*_V1_COMMON.split(), "Timestamp"])
def test_v1_missing_common_parameter(name: str) -> None:
    error = expect_error(send(v1_request(), query=v1_query_without(name)), f"Missing{name}", 400)
    assert error.message == f"{name} is mandatory for this action."
    # empty counts as missing
    expect_error(
        send(v1_request(), query=v1_query_without(name, **{name: ""})), f"Missing{name}", 400
    )


def test_v1_action_header_is_not_trusted() -> None:
    request = v1_request()  # carries x-acs-action, like the SDKs
    expect_error(send(request, query=v1_query_without("Action")), "MissingAction", 400)


def test_v1_signature_method_and_version() -> None:
    error = expect_error(
        send(
            v1_request(), query=v1_query_without("SignatureMethod", SignatureMethod="HMAC-SHA256")
        ),
        "InvalidSignatureMethod",
        400,
    )
    assert error.message == "Specified signature method is not valid."
    error = expect_error(
        send(v1_request(), query=v1_query_without("SignatureVersion", SignatureVersion="2.0")),
        "InvalidSignatureVersion",
        400,
    )
    assert error.message == "Specified parameter SignatureVersion is not valid."


def test_v1_accepts_legacy_timestamp_spelling() -> None:
    query = v1_query_without("Timestamp", TimeStamp="2026-11-28T15:15:45Z")
    call = call_of(v1_request(), query=query)
    assert call.timestamp == "2026-11-28T15:15:45Z"
