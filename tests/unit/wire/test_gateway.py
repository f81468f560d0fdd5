"""taskcancel.wire.gateway: the error table, gateway_error, and the action/timestamp checks."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from datetime import timedelta

import pytest
from support.signing import (
    ACTIONS,
    NOW,
    acs3_request,
    call_of,
    expect_error,
    v1_query_without,
    v1_request,
)

from taskcancel.catalogue import ErrorSpec
from taskcancel.wire import (
    GATEWAY_ERRORS,
    Call,
    GatewayError,
    check_action,
    check_timestamp,
    gateway_error,
    render_error,
    verify_signature,
)


def test_check_action_and_version() -> None:
    call = call_of(v1_request())
    assert check_action(call, ACTIONS) is None
    error = expect_error(check_action(call, {"DescribeTasks"}), "InvalidAction.NotFound", 404)
    assert error.message == "Specified api is not found, please check your url and method."
    other = call_of(v1_request(version="2016-01-01"))
    error = expect_error(check_action(other, ACTIONS), "InvalidVersion", 400)
    assert error.message == "Specified parameter Version is not valid."


def _stamped(timestamp: str) -> Call:
    return call_of(v1_request(), query=v1_query_without("Timestamp", Timestamp=timestamp))


def test_check_timestamp() -> None:
    call = call_of(v1_request())
    assert check_timestamp(call, now=NOW) is None
    assert check_timestamp(call, now=NOW + timedelta(minutes=15)) is None
    assert check_timestamp(call, now=NOW - timedelta(minutes=15)) is None
    assert check_timestamp(call, now=NOW.replace(tzinfo=None)) is None
    too_old = check_timestamp(call, now=NOW + timedelta(minutes=15, seconds=1))
    error = expect_error(too_old, "InvalidTimeStamp.Expired", 400)
    assert error.message == "Specified time stamp or date value is expired."
    too_new = check_timestamp(call, now=NOW - timedelta(minutes=15, seconds=1))
    expect_error(too_new, "InvalidTimeStamp.Expired", 400)
    assert (
        check_timestamp(call, now=NOW + timedelta(minutes=20), window=timedelta(minutes=31)) is None
    )
    for bad in ("2026-11-28 15:15:45", "yesterday", "2026-02-30T00:00:00Z", "1764342945"):
        error = expect_error(
            check_timestamp(_stamped(bad), now=NOW), "InvalidTimeStamp.Format", 400
        )
        assert error.message == "Specified time stamp or date value is not well formatted."


def test_check_timestamp_acs3() -> None:
    call = call_of(acs3_request())
    assert check_timestamp(call, now=NOW) is None
    expect_error(
        check_timestamp(call, now=NOW + timedelta(hours=1)), "InvalidTimeStamp.Expired", 400
    )


def test_check_results_do_not_depend_on_the_call_format() -> None:
    """The format is chosen when rendering (the call's): the checks' errors carry none."""
    checks: list[Callable[[Call], GatewayError | None]] = [
        lambda call: check_timestamp(call, now=NOW + timedelta(days=1)),
        lambda call: check_action(call, set()),
        lambda call: verify_signature(call, "bad"),
    ]
    json_call = call_of(v1_request())
    xml_call = call_of(v1_request(response_format="XML"))
    assert xml_call.response_format == "XML"
    for check in checks:
        json_error, xml_error = check(json_call), check(xml_call)
        assert json_error is not None and xml_error is not None
        assert (xml_error.code, xml_error.http_status) == (json_error.code, json_error.http_status)
        rendered = render_error(
            xml_error, request_id="R", host_id="H", response_format=xml_call.response_format
        )
        assert ElementTree.fromstring(rendered.body).findtext("Code") == xml_error.code


def test_gateway_error_catalogue() -> None:
    cases: list[tuple[GatewayError, str, int, str]] = [
        (
            gateway_error("Missing{name}", name="Action"),
            "MissingAction",
            400,
            "Action is mandatory for this action.",
        ),
        (
            gateway_error("Invalid{name}", name="Format"),
            "InvalidFormat",
            400,
            "Specified parameter Format is not valid.",
        ),
        (
            gateway_error("InvalidParameter.Format"),
            "InvalidParameter.Format",
            400,
            "Specified parameter format is not valid.",
        ),
        (
            gateway_error("InvalidAction.NotFound"),
            "InvalidAction.NotFound",
            404,
            "Specified api is not found, please check your url and method.",
        ),
        (
            gateway_error("InvalidVersion"),
            "InvalidVersion",
            400,
            "Specified parameter Version is not valid.",
        ),
        (
            gateway_error("UnsupportedHTTPMethod"),
            "UnsupportedHTTPMethod",
            403,
            "This HTTP method is not supported.",
        ),
        (
            gateway_error("InvalidAccessKeyId.NotFound"),
            "InvalidAccessKeyId.NotFound",
            404,
            "Specified access key is not found.",
        ),
        (
            gateway_error("InvalidAccessKeyId.Inactive"),
            "InvalidAccessKeyId.Inactive",
            400,
            "Specified access key is disabled.",
        ),
        (
            gateway_error("SignatureDoesNotMatch", string_to_sign="STS"),
            "SignatureDoesNotMatch",
            400,
            "Specified signature is not matched with our calculation. server string to sign is:STS",
        ),
        (
            gateway_error("IncompleteSignature"),
            "IncompleteSignature",
            400,
            "The request signature does not conform to Alibaba Cloud standards.",
        ),
        (
            gateway_error("InvalidSignatureMethod"),
            "InvalidSignatureMethod",
            400,
            "Specified signature method is not valid.",
        ),
        (
            gateway_error("InvalidTimeStamp.Format"),
            "InvalidTimeStamp.Format",
            400,
            "Specified time stamp or date value is not well formatted.",
        ),
        (
            gateway_error("InvalidTimeStamp.Expired"),
            "InvalidTimeStamp.Expired",
            400,
            "Specified time stamp or date value is expired.",
        ),
        (
            gateway_error("SignatureNonceUsed"),
            "SignatureNonceUsed",
            400,
            "Specified signature nonce was used already.",
        ),
        (
            gateway_error("Throttling.User", retry_after_ms=1000),
            "Throttling.User",
            400,
            "Request was denied due to user flow control.",
        ),
        (
            gateway_error("Throttling.Api", retry_after_ms=5),
            "Throttling.Api",
            400,
            "Request was denied due to api flow control.",
        ),
        (
            gateway_error("InternalError"),
            "InternalError",
            500,
            "The request processing has failed due to some unknown error, exception or failure.",
        ),
        (
            gateway_error("ServiceUnavailable"),
            "ServiceUnavailable",
            503,
            "The request has failed due to a temporary failure of the server.",
        ),
    ]
    for error, code, status, message in cases:
        assert (error.code, error.http_status, error.message) == (code, status, message)
    throttled = gateway_error("Throttling.User", retry_after_ms=1000)
    assert throttled.headers == (("x-acs-retry-after", "1000"),)
    assert gateway_error("Throttling.Api", retry_after_ms=5).headers == (
        ("x-acs-retry-after", "5"),
    )
    too_large = gateway_error("RequestTooLarge", what="body bytes", limit=10)
    assert (too_large.code, too_large.http_status) == ("RequestTooLarge", 413)
    assert too_large.message == "The request is too large: body bytes exceeds 10."
    timeout = gateway_error("RequestTimeout", seconds=2.5)
    assert (timeout.code, timeout.http_status) == ("RequestTimeout", 408)
    assert timeout.message == "The request was not received in full within 2.5 seconds."
    # Every row of the table is covered above, by code (the templated ones by template).
    covered = {code for _, code, _, _ in cases} | {"RequestTooLarge", "RequestTimeout"}
    covered |= {"Missing{name}", "Invalid{name}"}
    assert set(GATEWAY_ERRORS) == covered - {"MissingAction", "InvalidFormat"}


def test_gateway_error_detail_follows_after_a_space() -> None:
    error = gateway_error("InvalidParameter.Format", detail="Parameter X is repeated.")
    assert error.message == "Specified parameter format is not valid. Parameter X is repeated."
    error = gateway_error("IncompleteSignature", detail="")
    assert error.message == "The request signature does not conform to Alibaba Cloud standards."


def test_gateway_error_is_the_core_error_value() -> None:
    """One value from decision to bytes: the gateway's errors are the core's ErrorSpec."""
    assert GatewayError is ErrorSpec
    assert ErrorSpec("X", 400, "m") == ErrorSpec("X", 400, "m", ())
    assert gateway_error("InternalError") == GATEWAY_ERRORS["InternalError"]


@pytest.mark.parametrize(
    ("code", "fields", "complaint"),
    [
        ("NoSuchCode", {}, "unknown gateway error code 'NoSuchCode'"),
        ("Missing{name}", {}, "takes fields ['name'], got []"),
        ("InternalError", {"name": "x"}, "takes fields [], got ['name']"),
        ("Throttling.User", {"retry_after": 1}, "takes fields ['retry_after_ms']"),
        ("SignatureNonceUsed", {"detail": "x"}, "takes fields [], got ['detail']"),
    ],
)
def test_gateway_error_refuses_unknown_codes_and_wrong_fields(
    code: str, fields: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        gateway_error(code, **fields)
