"""Tests for taskcancel.wire: build/parse/verify round trips, gateway checks, rendering."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel import wire
from taskcancel.wire import (
    COMMON_PARAMETERS,
    ECS_VERSION,
    EMPTY_SHA256,
    UNPARSEABLE_REPLY_CODE,
    Call,
    ErrorReply,
    GatewayError,
    Limits,
    NonceRegistry,
    OutgoingRequest,
    build_acs3_request,
    build_v1_request,
    canonical_query,
    check_action,
    check_timestamp,
    parse_reply,
    parse_request,
    percent_encode,
    render_error,
    render_gateway_error,
    render_success,
    verify_signature,
)

NOW = datetime(2026, 11, 28, 15, 15, 45, tzinfo=UTC)
HOST = "127.0.0.1:8080"
SECRET = "testsecret"
API = {"RegionId": "cn-hangzhou", "TaskId": "t-23ym6mvro"}
ACTIONS = frozenset({"CancelTask", "DescribeTasks"})


def _v1(params: Mapping[str, str] = API, **kwargs: object) -> OutgoingRequest:
    options: dict[str, object] = {
        "access_key_id": "testid",
        "secret": SECRET,
        "nonce": "n-1",
        "timestamp": NOW,
    }
    options.update(kwargs)
    return build_v1_request("CancelTask", params, **options)  # type: ignore[arg-type]


def _acs3(params: Mapping[str, str] = API, **kwargs: object) -> OutgoingRequest:
    options: dict[str, object] = {
        "host": HOST,
        "access_key_id": "testid",
        "secret": SECRET,
        "nonce": "n-1",
        "timestamp": NOW,
    }
    options.update(kwargs)
    return build_acs3_request("CancelTask", params, **options)  # type: ignore[arg-type]


def _send(
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


def _call(request: OutgoingRequest, **kwargs: object) -> Call:
    call = _send(request, **kwargs)  # type: ignore[arg-type]
    assert isinstance(call, Call), call
    return call


def _error(result: object, code: str, status: int) -> GatewayError:
    assert isinstance(result, GatewayError), result
    assert (result.code, result.http_status) == (code, status), result
    return result


# --------------------------------------------------------------------------- encoding


def test_percent_encode_rules() -> None:
    assert percent_encode("a b*c~d/e+f&g=h%\u00e9") == "a%20b%2Ac~d%2Fe%2Bf%26g%3Dh%25%C3%A9"
    assert percent_encode("AZaz09-_.~") == "AZaz09-_.~"
    assert percent_encode("") == ""


def test_canonical_query_sorts_and_keeps_empty() -> None:
    pairs = [("b", "2"), ("a", ""), ("a b", "x y"), ("b", "1")]
    assert canonical_query(pairs) == "a=&a%20b=x%20y&b=1&b=2"


# The server takes two shortcuts on its hot path: it decodes a query as one UTF-8 string
# (falling back to byte-wise decoding), and it signs a query that is already canonical
# as sent. Both must agree exactly with the straightforward definitions.

_FORM_BYTES = st.lists(
    st.sampled_from(
        [
            *(b"a", b"Z", b"0", b"-", b"~", b"=", b"&", b"+", b"%", b"%2", b"%41", b"%3D"),
            *(b"%26", b"%C3", b"%A9", b"%c3%a9", b"%FF", b"\xc3", b"\xa9", b"\xc3\xa9"),
            b"\xe2\x82",
        ]
    ),
    max_size=12,
).map(b"".join)


def _decode_bytewise(data: bytes) -> list[tuple[str, str]] | None:
    """The reference: form rules over bytes, strict UTF-8 on the fully unescaped bytes."""
    pairs = []
    for piece in data.split(b"&"):
        if piece:
            name, _, value = piece.replace(b"+", b" ").partition(b"=")
            try:
                pairs.append((unquote_to_bytes(name).decode(), unquote_to_bytes(value).decode()))
            except UnicodeDecodeError:
                return None
    return pairs


@settings(max_examples=200)
@given(st.text(), st.one_of(st.text(), st.integers(), st.none()))
def test_one_key_json_bodies_match_the_json_module(key: str, value: object) -> None:
    body = wire._json_bytes({key: value})
    assert json.loads(body) == {key: value}
    try:
        expected = json.dumps({key: value}, ensure_ascii=False, separators=(",", ":"))
        assert body == expected.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escaped instead
        assert body == json.dumps({key: value}, separators=(",", ":")).encode("ascii")


@settings(max_examples=300)
@given(_FORM_BYTES)
def test_query_decoding_matches_bytewise_parse_qsl(data: bytes) -> None:
    assert wire._decode_form(data) == _decode_bytewise(data)


_PARAM_NAMES = st.text(st.sampled_from("AaZz09-_.~ %+=é&"), min_size=1, max_size=6)


@settings(max_examples=300)
@given(
    st.dictionaries(_PARAM_NAMES, st.text(max_size=8), max_size=6),
    st.randoms(use_true_random=False),
)
def test_already_canonical_query_signs_like_canonical_query(
    params: dict[str, str], rng: object
) -> None:
    pairs = list(params.items())
    rng.shuffle(pairs)  # type: ignore[attr-defined]
    raw = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)
    fast = wire._canonical_from_raw(raw)
    if all(percent_encode(name) == name for name in params):
        assert fast == canonical_query(params.items())
    if fast is not None:
        assert fast == canonical_query(params.items())
        without = next(iter(params), "")
        assert wire._canonical_from_raw(raw, without=without) == canonical_query(
            (k, v) for k, v in params.items() if k != without
        )


@settings(max_examples=300)
@given(st.text(st.sampled_from("aZ09-_.~%=&+2AFf3D"), max_size=24))
def test_raw_canonical_shortcut_only_taken_when_exact(raw: str) -> None:
    fast = wire._canonical_from_raw(raw)
    pairs = wire._decode_form(raw.encode())
    # The server signs only queries that decoded (else InvalidParameter.Format) and whose
    # names are unique (else the same): for those the shortcut must be exact.
    if fast is not None and pairs is not None:
        names = [name for name, _ in pairs]
        if len(set(names)) == len(names):
            assert fast == canonical_query(pairs)


def test_signatures_agree_on_both_paths() -> None:
    # A request whose query is not canonical as sent (lower-case escapes, "+" for a
    # space) verifies exactly like its canonical twin.
    request = _v1({"RegionId": "cn-hangzhou", "TaskId": "t a/é"})
    target = request.target.replace("%20", "+").replace("%C3%A9", "%c3%a9")
    assert target != request.target
    for sent in (request.target, target):
        call = parse_request(request.method, "/", sent.split("?", 1)[1].encode(), [], b"")
        assert isinstance(call, Call)
        assert call.params["TaskId"] == "t a/é"
        assert verify_signature(call, SECRET) is None


@settings(max_examples=200)
@given(st.text())
def test_percent_encode_matches_quote_and_inverts(text: str) -> None:
    encoded = percent_encode(text)
    assert encoded == quote(text, safe="-_.~")
    assert unquote(encoded) == text
    assert set(encoded) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%"
    )


def test_timestamp_helpers() -> None:
    assert wire.format_timestamp(NOW) == "2026-11-28T15:15:45Z"
    assert wire.format_timestamp(NOW.replace(tzinfo=None)) == "2026-11-28T15:15:45Z"
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert wire.format_timestamp(shanghai) == "2026-11-28T15:15:45Z"
    assert wire.parse_timestamp("2026-11-28T15:15:45Z") == NOW
    assert wire.parse_timestamp("2026-11-28T15:15:45.5Z") == NOW + timedelta(milliseconds=500)
    for bad in (
        "",
        "2026-11-28 15:15:45Z",
        "2026-13-28T15:15:45Z",
        "2026-11-28T15:15:45",
        "\u0662026-11-28T15:15:45Z",
        "2026-11-28T15:15Z",
    ):
        assert wire.parse_timestamp(bad) is None, bad


# --------------------------------------------------------------------------- round trips


def test_build_v1_request_shape() -> None:
    request = _v1()
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
    call = _call(_v1(security_token="sts-token"))
    assert call.scheme == "V1"
    assert (call.action, call.version, call.access_key_id) == ("CancelTask", ECS_VERSION, "testid")
    assert (call.nonce, call.timestamp, call.host) == ("n-1", "2026-11-28T15:15:45Z", HOST)
    assert call.response_format == "JSON"
    assert call.security_token == "sts-token"
    assert call.params["TaskId"] == "t-23ym6mvro"
    assert verify_signature(call, SECRET) is None
    _error(verify_signature(call, "other"), "SignatureDoesNotMatch", 400)


def test_build_v1_get_and_xml() -> None:
    call = _call(_v1(method="GET", response_format="XML"))
    assert call.method == "GET"
    assert call.response_format == "XML"
    assert verify_signature(call, SECRET) is None


def test_build_acs3_then_parse_and_verify() -> None:
    request = _acs3(security_token="sts", extra_headers=[("User-Agent", "taskcancel/0.1")])
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
    assert headers["x-acs-content-sha256"] == EMPTY_SHA256
    assert urlsplit(request.target).query == "RegionId=cn-hangzhou&TaskId=t-23ym6mvro"
    call = _call(request)
    assert call.scheme == "ACS3"
    assert (call.action, call.version, call.access_key_id) == ("CancelTask", ECS_VERSION, "testid")
    assert (call.nonce, call.timestamp, call.host) == ("n-1", "2026-11-28T15:15:45Z", HOST)
    assert call.security_token == "sts"
    assert verify_signature(call, SECRET) is None
    _error(verify_signature(call, "other"), "SignatureDoesNotMatch", 400)


def test_builders_refuse_protocol_names() -> None:
    with pytest.raises(ValueError):
        _v1({"Action": "x"})
    with pytest.raises(ValueError):
        _v1({"Signature": "x"})
    with pytest.raises(ValueError):
        _acs3({"Version": "x"})
    with pytest.raises(ValueError):
        _acs3(extra_headers=[("Host", "evil")])


param_names = st.text(min_size=0, max_size=12).filter(lambda s: s not in COMMON_PARAMETERS)
param_values = st.text(max_size=20)
api_params = st.dictionaries(param_names, param_values, max_size=5)


@settings(max_examples=150)
@given(api_params, st.sampled_from(["GET", "POST"]), st.text(min_size=1, max_size=20))
def test_v1_round_trip_any_unicode(params: dict[str, str], method: str, secret: str) -> None:
    call = _call(_v1(params, method=method, secret=secret))
    assert {k: call.params[k] for k in params} == params
    assert verify_signature(call, secret) is None
    assert verify_signature(call, secret + "x") is not None


@settings(max_examples=150)
@given(
    st.dictionaries(param_names.filter(lambda s: s not in ("Format",)), param_values, max_size=5),
    st.sampled_from(["GET", "POST"]),
    st.text(min_size=1, max_size=20),
)
def test_acs3_round_trip_any_unicode(params: dict[str, str], method: str, secret: str) -> None:
    call = _call(_acs3(params, method=method, secret=secret))
    assert dict(call.params) == params
    assert verify_signature(call, secret) is None
    assert verify_signature(call, secret + "x") is not None


def _tamper(query: str, data: st.DataObject) -> str:
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


@settings(max_examples=150)
@given(api_params, st.data())
def test_v1_tampering_fails(params: dict[str, str], data: st.DataObject) -> None:
    request = _v1(params)
    query = _tamper(urlsplit(request.target).query, data)
    result = _send(request, query=query)
    if isinstance(result, Call):
        assert verify_signature(result, SECRET) is not None


@settings(max_examples=150)
@given(api_params.map(lambda d: {k: v for k, v in d.items() if k != "Format"}), st.data())
def test_acs3_tampering_fails(params: dict[str, str], data: st.DataObject) -> None:
    request = _acs3(params)
    query = _tamper(urlsplit(request.target).query, data)
    result = _send(request, query=query)
    if isinstance(result, Call):
        assert verify_signature(result, SECRET) is not None


def test_v1_form_body_params_are_signed_and_merged() -> None:
    request = _v1({"RegionId": "cn-hangzhou"})
    extra = b"TaskId=t-1"
    form = [("content-type", "application/x-www-form-urlencoded; charset=UTF-8")]
    call = _call(request, body=extra, extra_headers=form)
    assert call.params["TaskId"] == "t-1"
    assert verify_signature(call, SECRET) is not None  # not in the signed set
    # sign the merged set: move TaskId from the query to the body
    signed = _v1({"RegionId": "cn-hangzhou", "TaskId": "t-1"})
    query = "&".join(p for p in urlsplit(signed.target).query.split("&") if p != "TaskId=t-1")
    call = _call(signed, query=query, body=extra, extra_headers=form)
    assert call.params["TaskId"] == "t-1"
    assert verify_signature(call, SECRET) is None
    # without the form content type the body is not parameters
    call = _call(signed, query=query, body=extra)
    assert "TaskId" not in call.params


def test_acs3_form_body_is_covered_by_content_hash() -> None:
    request = _acs3()
    form = [("content-type", "application/x-www-form-urlencoded")]
    call = _call(request, body=b"TaskId2=x", extra_headers=form)
    assert call.params["TaskId2"] == "x"
    _error(verify_signature(call, SECRET), "SignatureDoesNotMatch", 400)


def test_plus_and_percent20_both_decode_to_space() -> None:
    for query in ("TaskId=a+b", "TaskId=a%20b"):
        request = _v1({"TaskId": "a b"})
        base = urlsplit(request.target).query
        rebuilt = "&".join(p for p in base.split("&") if not p.startswith("TaskId="))
        call = _call(request, query=f"{rebuilt}&{query}")
        assert call.params["TaskId"] == "a b"
        assert verify_signature(call, SECRET) is None


def test_raw_utf8_in_query_decodes() -> None:
    request = _v1({"TaskId": "\u00e9"})
    base = urlsplit(request.target).query.replace("TaskId=%C3%A9", "TaskId=\u00e9")
    split = urlsplit(request.target)
    call = parse_request("POST", split.path, base.encode("utf-8"), [], b"")
    assert isinstance(call, Call)
    assert call.params["TaskId"] == "\u00e9"
    assert verify_signature(call, SECRET) is None


# --------------------------------------------------------------------------- parse errors


def test_method_and_path() -> None:
    request = _v1()
    query = urlsplit(request.target).query.encode()
    for method in ("PUT", "DELETE", "get", "HEAD", ""):
        error = _error(parse_request(method, "/", query, [], b""), "UnsupportedHTTPMethod", 403)
        assert error.message == "This HTTP method is not supported."
    for path in ("/x", b"/api", "//"):
        _error(parse_request("GET", path, query, [], b""), "InvalidAction.NotFound", 404)
    assert isinstance(parse_request("GET", b"", query, [], b""), Call)


def test_bad_utf8_is_invalid_parameter_format() -> None:
    _error(parse_request("GET", "/", b"TaskId=%FF", [], b""), "InvalidParameter.Format", 400)
    _error(parse_request("GET", "/", b"Task\xffId=1", [], b""), "InvalidParameter.Format", 400)
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    _error(parse_request("POST", "/", b"", form, b"a=%C3"), "InvalidParameter.Format", 400)


def test_repeated_names_are_refused() -> None:
    request = _v1()
    query = urlsplit(request.target).query
    _error(_send(request, query=f"{query}&TaskId=t-2"), "InvalidParameter.Format", 400)
    form = [("content-type", "application/x-www-form-urlencoded")]
    _error(_send(request, body=b"RegionId=x", extra_headers=form), "InvalidParameter.Format", 400)


def _v1_without(name: str, **replace: str) -> str:
    params = dict(parse_qsl(urlsplit(_v1().target).query, keep_blank_values=True))
    params.pop(name, None)
    params.update(replace)
    return urlencode(params)


@pytest.mark.parametrize(
    "name",
    [
        "Action",
        "Version",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
    ],
)
def test_v1_missing_common_parameter(name: str) -> None:
    error = _error(_send(_v1(), query=_v1_without(name)), f"Missing{name}", 400)
    assert error.message == f"{name} is mandatory for this action."
    # empty counts as missing
    _error(_send(_v1(), query=_v1_without(name, **{name: ""})), f"Missing{name}", 400)


def test_v1_action_header_is_not_trusted() -> None:
    request = _v1()  # carries x-acs-action, like the SDKs
    _error(_send(request, query=_v1_without("Action")), "MissingAction", 400)


def test_v1_signature_method_and_version() -> None:
    error = _error(
        _send(_v1(), query=_v1_without("SignatureMethod", SignatureMethod="HMAC-SHA256")),
        "InvalidSignatureMethod",
        400,
    )
    assert error.message == "Specified signature method is not valid."
    error = _error(
        _send(_v1(), query=_v1_without("SignatureVersion", SignatureVersion="2.0")),
        "InvalidSignatureVersion",
        400,
    )
    assert error.message == "Specified parameter SignatureVersion is not valid."


def test_v1_accepts_legacy_timestamp_spelling() -> None:
    query = _v1_without("Timestamp", TimeStamp="2026-11-28T15:15:45Z")
    call = _call(_v1(), query=query)
    assert call.timestamp == "2026-11-28T15:15:45Z"


def test_format_normalised_and_checked() -> None:
    assert _call(_v1(), query=_v1_without("Format")).response_format == "JSON"
    assert _call(_v1(), query=_v1_without("Format", Format="xml")).response_format == "XML"
    assert _call(_v1(), query=_v1_without("Format", Format="json")).response_format == "JSON"
    _error(_send(_v1(), query=_v1_without("Format", Format="yaml")), "InvalidFormat", 400)
    # errors found after Format is known render in that format
    error = _error(
        _send(_v1(), query=_v1_without("SignatureNonce", Format="XML")),
        "MissingSignatureNonce",
        400,
    )
    assert error.response_format == "XML"


def _acs3_headers_without(request: OutgoingRequest, name: str) -> OutgoingRequest:
    headers = tuple((k, v) for k, v in request.headers if k != name)
    return OutgoingRequest(request.method, request.target, headers, request.body)


def _acs3_authorization(request: OutgoingRequest, value: str) -> OutgoingRequest:
    headers = tuple((k, value if k == "authorization" else v) for k, v in request.headers)
    return OutgoingRequest(request.method, request.target, headers, request.body)


def test_acs3_malformed_authorization() -> None:
    request = _acs3()
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
        _error(_send(_acs3_authorization(request, value)), "IncompleteSignature", 400)
    _error(_send(_acs3_headers_without(request, "x-acs-date")), "IncompleteSignature", 400)
    for algorithm in ("ACS3-HMAC-SM3", "ACS3-RSA-SHA256"):
        value = auth.replace("ACS3-HMAC-SHA256", algorithm)
        _error(_send(_acs3_authorization(request, value)), "InvalidSignatureMethod", 400)


def test_acs3_missing_action_and_version() -> None:
    request = _acs3()
    auth = dict(request.headers)["authorization"]
    no_action = _acs3_headers_without(request, "x-acs-action")
    _error(
        _send(_acs3_authorization(no_action, auth.replace("x-acs-action;", ""))),
        "MissingAction",
        400,
    )
    no_version = _acs3_headers_without(request, "x-acs-version")
    signed = auth.replace(";x-acs-version", "")
    _error(_send(_acs3_authorization(no_version, signed)), "MissingVersion", 400)


def test_acs3_action_in_query_wins_and_is_signed() -> None:
    request = _acs3()
    query = urlsplit(request.target).query + "&Action=DescribeTasks"
    call = _call(request, query=query)
    assert call.action == "DescribeTasks"
    assert verify_signature(call, SECRET) is not None


def test_authorization_other_than_acs3_falls_back_to_v1() -> None:
    call = _call(_v1(), extra_headers=[("Authorization", "Bearer x")])
    assert call.scheme == "V1"


def test_limits() -> None:
    request = _v1()
    small = Limits(max_query_bytes=64, max_body_bytes=4, max_headers=3, max_header_bytes=100)
    error = _error(_send(request, limits=small), "RequestTooLarge", 413)
    assert "query" in error.message
    roomy = Limits(max_body_bytes=4)
    _error(_send(request, body=b"12345", limits=roomy), "RequestTooLarge", 413)
    many = [("x-h", "v")] * 200
    _error(_send(request, extra_headers=many), "RequestTooLarge", 413)
    big = [("x-big", "v" * 20000)]
    _error(_send(request, extra_headers=big), "RequestTooLarge", 413)
    huge_query = b"a=" + b"b" * 9000
    _error(parse_request("GET", "/", huge_query, [], b""), "RequestTooLarge", 413)
    assert isinstance(_send(request, body=b"1234", limits=roomy), Call)


# --------------------------------------------------------------------------- property: never raise

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
    st.builds(lambda r: urlsplit(r.target).query.encode(), st.builds(_v1)),
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
    result = parse_request(method, path, query, headers, body)
    assert isinstance(result, Call | GatewayError)
    if isinstance(result, GatewayError):
        assert 400 <= result.http_status < 500
        rendered = render_gateway_error(result, request_id="R", host_id="H")
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


# --------------------------------------------------------------------------- checks


def test_check_action_and_version() -> None:
    call = _call(_v1())
    assert check_action(call, ACTIONS) is None
    error = _error(check_action(call, {"DescribeTasks"}), "InvalidAction.NotFound", 404)
    assert error.message == "Specified api is not found, please check your url and method."
    other = _call(_v1(version="2016-01-01"))
    error = _error(check_action(other, ACTIONS), "InvalidVersion", 400)
    assert error.message == "Specified parameter Version is not valid."


def _stamped(timestamp: str) -> Call:
    return _call(_v1(), query=_v1_without("Timestamp", Timestamp=timestamp))


def test_check_timestamp() -> None:
    call = _call(_v1())
    assert check_timestamp(call, now=NOW) is None
    assert check_timestamp(call, now=NOW + timedelta(minutes=15)) is None
    assert check_timestamp(call, now=NOW - timedelta(minutes=15)) is None
    assert check_timestamp(call, now=NOW.replace(tzinfo=None)) is None
    too_old = check_timestamp(call, now=NOW + timedelta(minutes=15, seconds=1))
    error = _error(too_old, "InvalidTimeStamp.Expired", 400)
    assert error.message == "Specified time stamp or date value is expired."
    too_new = check_timestamp(call, now=NOW - timedelta(minutes=15, seconds=1))
    _error(too_new, "InvalidTimeStamp.Expired", 400)
    assert (
        check_timestamp(call, now=NOW + timedelta(minutes=20), window=timedelta(minutes=31)) is None
    )
    for bad in ("2026-11-28 15:15:45", "yesterday", "2026-02-30T00:00:00Z", "1764342945"):
        error = _error(check_timestamp(_stamped(bad), now=NOW), "InvalidTimeStamp.Format", 400)
        assert error.message == "Specified time stamp or date value is not well formatted."


def test_check_timestamp_acs3() -> None:
    call = _call(_acs3())
    assert check_timestamp(call, now=NOW) is None
    _error(check_timestamp(call, now=NOW + timedelta(hours=1)), "InvalidTimeStamp.Expired", 400)


def test_check_results_keep_call_format() -> None:
    call = _call(_v1(response_format="XML"))
    error = check_timestamp(call, now=NOW + timedelta(days=1))
    assert error is not None and error.response_format == "XML"
    error = verify_signature(call, "bad")
    assert error is not None and error.response_format == "XML"
    error = check_action(call, set())
    assert error is not None and error.response_format == "XML"


def test_nonce_registry_replay_and_independence() -> None:
    registry = NonceRegistry(window=timedelta(minutes=15))
    assert registry.seen("ak1", "n", NOW) is False
    assert registry.seen("ak1", "n", NOW + timedelta(minutes=1)) is True
    assert registry.seen("ak2", "n", NOW) is False
    assert registry.seen("ak1", "m", NOW) is False
    assert len(registry) == 3


def test_nonce_registry_expiry() -> None:
    registry = NonceRegistry(window=timedelta(minutes=15))
    assert registry.seen("ak", "n", NOW) is False
    assert registry.seen("ak", "n", NOW + timedelta(minutes=14, seconds=59)) is True
    assert registry.seen("ak", "n", NOW + timedelta(minutes=15)) is True  # the last instant
    later = NOW + timedelta(minutes=15, microseconds=1)
    assert registry.seen("ak", "n", later) is False  # forgotten, re-recorded
    assert registry.seen("ak", "n", later + timedelta(minutes=1)) is True
    assert registry.seen("ak", "other", NOW + timedelta(hours=2)) is False
    assert len(registry) == 1  # expired entries evicted


def test_nonce_registry_default_window_covers_future_timestamps() -> None:
    registry = NonceRegistry()
    assert registry.seen("ak", "n", NOW) is False
    assert registry.seen("ak", "n", NOW + timedelta(minutes=29)) is True


def test_nonce_registry_remembers_as_long_as_the_timestamp_window_accepts() -> None:
    """A request stamped a whole window ahead is still fresh two windows after first use."""
    window = timedelta(minutes=15)
    registry = NonceRegistry(window=2 * window)
    stamp = NOW + window
    assert registry.seen("ak", "n", NOW) is False
    replay_at = NOW + 2 * window
    call = wire.Call(
        method="GET",
        action="CancelTask",
        version=wire.ECS_VERSION,
        params={},
        access_key_id="ak",
        response_format="JSON",
        nonce="n",
        timestamp=wire.format_timestamp(stamp),
        host="",
        scheme="V1",
        signature="",
        string_to_sign="",
    )
    assert wire.check_timestamp(call, now=replay_at, window=window) is None  # still fresh
    assert registry.seen("ak", "n", replay_at) is True  # so the nonce must still be known


def test_one_account_cannot_push_out_another_accounts_nonces() -> None:
    registry = NonceRegistry(max_entries=3)
    assert registry.seen("victim", "v", NOW) is False
    for i in range(10):
        assert registry.seen("attacker", str(i), NOW) is False
    assert registry.seen("victim", "v", NOW) is True


def test_nonce_registry_bounded() -> None:
    registry = NonceRegistry(max_entries=3)
    for i in range(10):
        assert registry.seen("ak", str(i), NOW + timedelta(seconds=i)) is False
    assert len(registry) == 3
    assert registry.seen("ak", "9", NOW + timedelta(seconds=11)) is True
    assert registry.seen("ak", "0", NOW + timedelta(seconds=11)) is False  # evicted when full
    with pytest.raises(ValueError):
        NonceRegistry(max_entries=0)


# --------------------------------------------------------------------------- gateway errors


def test_gateway_error_catalogue() -> None:
    cases: list[tuple[GatewayError, str, int, str]] = [
        (
            wire.missing_parameter("Action"),
            "MissingAction",
            400,
            "Action is mandatory for this action.",
        ),
        (
            wire.invalid_parameter("Format"),
            "InvalidFormat",
            400,
            "Specified parameter Format is not valid.",
        ),
        (
            wire.malformed(),
            "InvalidParameter.Format",
            400,
            "Specified parameter format is not valid.",
        ),
        (
            wire.invalid_action(),
            "InvalidAction.NotFound",
            404,
            "Specified api is not found, please check your url and method.",
        ),
        (
            wire.invalid_version(),
            "InvalidVersion",
            400,
            "Specified parameter Version is not valid.",
        ),
        (
            wire.unsupported_method(),
            "UnsupportedHTTPMethod",
            403,
            "This HTTP method is not supported.",
        ),
        (
            wire.access_key_not_found(),
            "InvalidAccessKeyId.NotFound",
            404,
            "Specified access key is not found.",
        ),
        (
            wire.access_key_inactive(),
            "InvalidAccessKeyId.Inactive",
            400,
            "Specified access key is disabled.",
        ),
        (
            wire.signature_mismatch("STS"),
            "SignatureDoesNotMatch",
            400,
            "Specified signature is not matched with our calculation. server string to sign is:STS",
        ),
        (
            wire.incomplete_signature(),
            "IncompleteSignature",
            400,
            "The request signature does not conform to Alibaba Cloud standards.",
        ),
        (
            wire.invalid_signature_method(),
            "InvalidSignatureMethod",
            400,
            "Specified signature method is not valid.",
        ),
        (
            wire.timestamp_format(),
            "InvalidTimeStamp.Format",
            400,
            "Specified time stamp or date value is not well formatted.",
        ),
        (
            wire.timestamp_expired(),
            "InvalidTimeStamp.Expired",
            400,
            "Specified time stamp or date value is expired.",
        ),
        (
            wire.nonce_used(),
            "SignatureNonceUsed",
            400,
            "Specified signature nonce was used already.",
        ),
        (
            wire.throttled(1000),
            "Throttling.User",
            400,
            "Request was denied due to user flow control.",
        ),
        (
            wire.api_throttled(5),
            "Throttling.Api",
            400,
            "Request was denied due to api flow control.",
        ),
        (
            wire.internal_error(),
            "InternalError",
            500,
            "The request processing has failed due to some unknown error, exception or failure.",
        ),
        (
            wire.service_unavailable(),
            "ServiceUnavailable",
            503,
            "The request has failed due to a temporary failure of the server.",
        ),
    ]
    for error, code, status, message in cases:
        assert (error.code, error.http_status, error.message) == (code, status, message)
        assert error.response_format == "JSON"
    assert wire.throttled(1000).headers == (("x-acs-retry-after", "1000"),)
    assert wire.too_large("body bytes", 10).http_status == 413
    assert wire.nonce_used(response_format="XML").response_format == "XML"


# --------------------------------------------------------------------------- rendering


def test_render_success_json() -> None:
    response = render_success("CancelTask", {}, request_id="R-1")
    assert response.status == 200
    headers = dict(response.headers)
    assert headers["content-type"] == "application/json;charset=utf-8"
    assert headers["content-length"] == str(len(response.body))
    assert headers["x-acs-request-id"] == "R-1"
    assert response.body == b'{"RequestId":"R-1"}'

    data = {"TotalCount": 1, "RequestId": "ignored", "TaskSet": {"Task": [{"TaskId": "t-\u00e9"}]}}
    response = render_success("DescribeTasks", data, request_id="R-2")
    document = json.loads(response.body)
    assert list(document) == ["RequestId", "TotalCount", "TaskSet"]
    assert document["RequestId"] == "R-2"
    assert document["TaskSet"]["Task"][0]["TaskId"] == "t-\u00e9"
    assert "t-\u00e9".encode() in response.body  # ensure_ascii=False


def test_render_success_xml() -> None:
    data: dict[str, object] = {
        "TotalCount": 2,
        "TaskSet": {
            "Task": [
                {"TaskId": "a<&>", "SupportCancel": True},
                {"TaskId": "b", "SupportCancel": False},
            ]
        },
        "Empty": None,
        "Control": "x\x01y",
    }
    response = render_success("DescribeTasks", data, request_id="R", response_format="XML")
    assert dict(response.headers)["content-type"] == "text/xml;charset=utf-8"
    assert response.body.startswith(
        b"<?xml version='1.0' encoding='UTF-8'?><DescribeTasksResponse>"
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag == "DescribeTasksResponse"
    assert [child.tag for child in root] == [
        "RequestId",
        "TotalCount",
        "TaskSet",
        "Empty",
        "Control",
    ]
    assert root.findtext("RequestId") == "R"
    tasks = root.findall("TaskSet/Task")
    assert [t.findtext("TaskId") for t in tasks] == ["a<&>", "b"]
    assert [t.findtext("SupportCancel") for t in tasks] == ["true", "false"]
    assert root.findtext("Empty") == ""


def test_render_cancel_task_xml_exact() -> None:
    response = render_success("CancelTask", {}, request_id="R", response_format="xml")
    assert response.body == (
        b"<?xml version='1.0' encoding='UTF-8'?><CancelTaskResponse><RequestId>R</RequestId>"
        b"</CancelTaskResponse>"
    )


def test_render_error_json() -> None:
    response = render_error(
        "InvalidTaskId.NotFound",
        'The specified "TaskId" is not found.',
        400,
        request_id="R",
        host_id="ecs.aliyuncs.com",
    )
    assert response.status == 400
    assert dict(response.headers)["content-type"] == "application/json;charset=utf-8"
    document = json.loads(response.body)
    assert list(document) == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert document == {
        "RequestId": "R",
        "HostId": "ecs.aliyuncs.com",
        "Code": "InvalidTaskId.NotFound",
        "Message": 'The specified "TaskId" is not found.',
        "Recommend": "https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US"
        "&q=InvalidTaskId.NotFound&product=Ecs&requestId=R",
    }
    plain = render_error("X", "m", 500, request_id="R", host_id="H", recommend=False)
    assert "Recommend" not in json.loads(plain.body)


def test_render_error_xml() -> None:
    response = render_error(
        "Code.A",
        "a <b> & c",
        403,
        request_id="R",
        host_id="H",
        response_format="XML",
        headers=[("x-extra", "1")],
    )
    assert response.status == 403
    headers = dict(response.headers)
    assert headers["content-type"] == "text/xml;charset=utf-8"
    assert headers["x-extra"] == "1"
    assert (
        b"<Recommend><![CDATA[https://api.alibabacloud.com/troubleshoot?intl_lang=EN_US&q=Code.A"
        in response.body
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert root.findtext("Message") == "a <b> & c"
    assert root.findtext("Recommend", "").endswith("&product=Ecs&requestId=R")


def test_render_gateway_error_throttling_header() -> None:
    response = render_gateway_error(wire.throttled(1500), request_id="R", host_id="H")
    assert response.status == 400
    assert ("x-acs-retry-after", "1500") in response.headers
    assert json.loads(response.body)["Code"] == "Throttling.User"
    xml = render_gateway_error(wire.nonce_used(response_format="XML"), request_id="R", host_id="H")
    assert ElementTree.fromstring(xml.body).findtext("Code") == "SignatureNonceUsed"


# --------------------------------------------------------------------------- replies


def test_parse_reply_success() -> None:
    assert parse_reply(200, [], b'{"RequestId":"X"}') == {"RequestId": "X"}


def test_parse_reply_json_error() -> None:
    body = render_error("InvalidTaskId.NotFound", "nf", 400, request_id="X", host_id="H").body
    reply = parse_reply(400, [("Content-Type", "application/json")], body)
    assert isinstance(reply, ErrorReply)
    assert (reply.http_status, reply.code, reply.message) == (400, "InvalidTaskId.NotFound", "nf")
    assert (reply.request_id, reply.host_id, reply.retry_after_ms) == ("X", "H", None)
    assert reply.data["Recommend"]


def test_parse_reply_xml_error_and_throttle() -> None:
    rendered = render_gateway_error(
        wire.throttled(250, response_format="XML"), request_id="X", host_id="H"
    )
    reply = parse_reply(rendered.status, list(rendered.headers), rendered.body)
    assert isinstance(reply, ErrorReply)
    assert (reply.code, reply.request_id, reply.retry_after_ms) == ("Throttling.User", "X", 250)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b""),
        (200, b"hello"),
        (200, b"[1]"),
        (502, b"<html>bad</html>"),
        (400, b"{}"),
        (500, b"\xff\xfe"),
        (200, b"<?xml version='1.0'?><CancelTaskResponse/>"),
    ],
)
def test_parse_reply_unparseable(status: int, body: bytes) -> None:
    reply = parse_reply(status, [("x-acs-retry-after", "abc")], body)
    assert isinstance(reply, ErrorReply)
    assert reply.code == UNPARSEABLE_REPLY_CODE
    assert reply.http_status == status
    assert reply.retry_after_ms is None


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=999),
    st.lists(
        st.tuples(
            st.sampled_from(["x-acs-retry-after", "content-type", "X"]), st.text(max_size=10)
        ),
        max_size=3,
    ),
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["Code", "Message", "RequestId", "x"]), inner, max_size=4
                )
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
        st.just(b"[" * 100_000),
        st.just(b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><Error><Code>&a;</Code></Error>"),
    ),
)
def test_parse_reply_never_raises(status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    reply = parse_reply(status, headers, body)
    assert isinstance(reply, dict | ErrorReply)
    if isinstance(reply, ErrorReply):
        assert isinstance(reply.code, str) and reply.code
        assert reply.retry_after_ms is None or reply.retry_after_ms > 0
    else:
        assert 200 <= status < 300


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
    canonical = wire.acs3_canonical_request("POST", "/", API.items(), headers, signed, EMPTY_SHA256)
    signature = wire.acs3_signature(wire.acs3_string_to_sign(canonical), SECRET)
    authorization = (
        f"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    raw = [(k.encode(), v.encode()) for k, v in (*headers, ("authorization", authorization))]
    return parse_request("POST", "/", urlencode(API).encode(), raw, b"")


def test_acs3_content_sha256_header_must_match_body() -> None:
    honest = _hand_signed_acs3(EMPTY_SHA256, sign_content_header=False)
    assert isinstance(honest, Call)
    assert verify_signature(honest, SECRET) is None
    lying = _hand_signed_acs3("0" * 64, sign_content_header=False)
    assert isinstance(lying, Call)
    assert not lying.content_sha256_matches
    _error(verify_signature(lying, SECRET), "SignatureDoesNotMatch", 400)


@st.composite
def mutated_requests(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes]:
    """A valid V1 or ACS3 request with a few random bytes flipped, headers dropped or added."""
    params = draw(api_params)
    request = draw(st.sampled_from([_v1, _acs3]))(params)
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
    result = parse_request(method, "/", query, headers, body)
    assert isinstance(result, Call | GatewayError)
    if isinstance(result, Call):
        verify_signature(result, SECRET)
        check_timestamp(result, now=NOW)
    else:
        render_gateway_error(result, request_id="R", host_id="H")


@pytest.mark.parametrize("build", [_v1, _acs3], ids=["v1", "acs3"])
def test_an_overlong_nonce_is_refused(build: Callable[..., OutgoingRequest]) -> None:
    """Every nonce is remembered for the replay window, so its size is bounded."""
    assert isinstance(_send(build(nonce="n" * wire.MAX_NONCE_LENGTH)), Call)
    refused = _send(build(nonce="n" * (wire.MAX_NONCE_LENGTH + 1)))
    _error(refused, "InvalidSignatureNonce", 400)
