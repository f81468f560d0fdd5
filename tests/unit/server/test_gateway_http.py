"""The API gateway's checks and the answers' shapes, through ``Emulator.handle``.

An ``httpx.Client`` whose transport calls the app in-process (``support.app``): every
request is signed (or not) exactly as a client on the wire would send it. What the
connection layer does with bytes (framing, limits, timeouts, pipelining) is in
tests/e2e/test_http_framing.py.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.app import HOST, InProcess, build_app
from support.gateway import (
    FINISHED,
    FRESH,
    OTHER_TASK,
    REGION,
    acs3,
    envelope,
    gateway_world,
    now,
    send,
    v1,
)
from support.serve import REQUEST_ID

from taskcancel import MemoryStore, wire
from taskcancel.worldfile import NO_FAULTS, Faults


@pytest.fixture(scope="module")
def server() -> Iterator[InProcess]:
    running = build_app(gateway_world())
    yield running
    running.close()


_fresh = iter(FRESH)


def fresh_task() -> str:
    return next(_fresh)


@pytest.fixture
def serves_afterwards(server: InProcess) -> Iterator[None]:
    """After the test (all its hypothesis examples), a valid signed call still succeeds."""
    yield
    still_serves(server)


@pytest.fixture(scope="module")
def http(server: InProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def still_serves(server: InProcess) -> None:
    """A valid signed call still succeeds."""
    with server.client() as client:
        response = send(
            client, acs3(HOST, "DescribeTasks", {"RegionId": REGION, "TaskIds": FINISHED})
        )
    assert response.status_code == 200, response.text
    assert [task["TaskId"] for task in response.json()["TaskSet"]["Task"]] == [FINISHED]


_param_names = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12
).filter(lambda name: name not in wire.v1.COMMON_PARAMETERS)
_param_values = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
_sensible_values = st.sampled_from(
    [
        "",
        "0",
        "-1",
        "1",
        "2",
        "100",
        "101",
        "1e3",
        "\u0661",
        "2026-11-22T00:00Z",
        "2026-11-22T00:00:00Z",
        "ImportImage",
        "Processing",
        "Finished",
        FINISHED,
        f"{FINISHED},{FRESH[-1]}",
        ",,,",
    ]
)
_value = st.one_of(_sensible_values, _sensible_values, _param_values)
_api_params = st.tuples(
    st.fixed_dictionaries(
        {"RegionId": st.sampled_from([REGION, REGION, REGION, "cn-shanghai", "", "xx-none"])},
        optional={
            name: _value
            for name in (
                "TaskId",
                "TaskIds",
                "TaskAction",
                "TaskStatus",
                "PageSize",
                "PageNumber",
                "StartTime",
                "EndTime",
            )
        },
    ),
    st.dictionaries(_param_names, _param_values, max_size=3),
).map(lambda parts: {**parts[1], **parts[0]})


@pytest.mark.usefixtures("serves_afterwards")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    action=st.sampled_from(["CancelTask", "DescribeTasks", "DescribeTaskAttribute"]),
    params=_api_params,
    scheme=st.sampled_from(["V1", "ACS3"]),
    xml=st.booleans(),
)
def test_signed_calls_with_any_parameters_never_break_the_server(
    server: InProcess,
    http: httpx.Client,
    action: str,
    params: dict[str, str],
    scheme: str,
    xml: bool,
) -> None:
    """Correctly signed calls reach the action handlers with arbitrary parameters:
    the answer is a success or a 4xx envelope, never a 5xx."""
    if scheme == "V1":
        out = v1(action, params, response_format="XML" if xml else "JSON")
    else:
        out = acs3(HOST, action, params)
    response = send(http, out)
    code = "" if response.status_code == 200 else response.headers["content-type"]
    if code == wire.JSON_CONTENT_TYPE:
        code = response.json()["Code"]
    event(f"{action} {response.status_code} {code}")
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.text
    if response.headers["content-type"] == wire.XML_CONTENT_TYPE:
        root = ElementTree.fromstring(response.content)
        assert root.tag == (f"{action}Response" if response.status_code == 200 else "Error")
    else:
        body = response.json()
        assert body["RequestId"] == response.headers["x-acs-request-id"]
        if response.status_code != 200:
            assert {"HostId", "Code", "Message"} <= body.keys()


# ------------------------------------------------------------------------- the gateway


@pytest.mark.parametrize("scheme", ["V1", "ACS3"])
def test_replayed_request_is_signature_nonce_used(
    server: InProcess, http: httpx.Client, scheme: str
) -> None:
    params = {"RegionId": REGION, "TaskId": fresh_task()}
    out = v1("CancelTask", params) if scheme == "V1" else acs3(HOST, "CancelTask", params)

    first = send(http, out)
    second = send(http, out)

    assert first.status_code == 200
    body = envelope(second)
    assert (second.status_code, body["Code"]) == (400, "SignatureNonceUsed")
    assert body["Message"] == "Specified signature nonce was used already."


def test_a_replay_of_another_accounts_nonce_is_not_a_replay(
    server: InProcess, http: httpx.Client
) -> None:
    nonce = uuid.uuid4().hex
    mine = send(http, v1("DescribeTasks", {"RegionId": REGION}, nonce=nonce))
    theirs = send(
        http,
        v1("DescribeTasks", {"RegionId": REGION}, nonce=nonce, key=("other", "othersecret")),
    )
    assert (mine.status_code, theirs.status_code) == (200, 200)


@pytest.mark.parametrize("skew", [timedelta(minutes=-20), timedelta(minutes=20)])
@pytest.mark.parametrize("scheme", ["V1", "ACS3"])
def test_timestamp_outside_15_minutes_is_expired(
    server: InProcess, http: httpx.Client, skew: timedelta, scheme: str
) -> None:
    params = {"RegionId": REGION, "TaskId": FINISHED}
    if scheme == "V1":
        out = v1("CancelTask", params, timestamp=now() + skew)
    else:
        out = acs3(HOST, "CancelTask", params, timestamp=now() + skew)

    body = envelope(send(http, out))
    assert body["Code"] == "InvalidTimeStamp.Expired"
    assert body["Message"] == "Specified time stamp or date value is expired."


def test_malformed_v1_timestamp(http: httpx.Client) -> None:
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED})
    stamp = wire.format_timestamp(now()).replace(":", "%3A")
    assert stamp in out.target
    target = out.target.replace(stamp, "yesterday")

    response = http.request(out.method, target, headers=list(out.headers))

    body = envelope(response)
    assert (response.status_code, body["Code"]) == (400, "InvalidTimeStamp.Format")
    assert body["Message"] == "Specified time stamp or date value is not well formatted."


def test_malformed_acs3_date(server: InProcess, http: httpx.Client) -> None:
    out = acs3(HOST, "CancelTask", {"RegionId": REGION, "TaskId": FINISHED})
    headers = [(k, "28 Nov 2026" if k == "x-acs-date" else v) for k, v in out.headers]

    body = envelope(http.request(out.method, out.target, headers=headers))

    assert body["Code"] == "InvalidTimeStamp.Format"


def test_unknown_action_is_404(server: InProcess, http: httpx.Client) -> None:
    for out in (
        v1("DescribeInstances", {"RegionId": REGION}),
        acs3(HOST, "RunInstances", {"RegionId": REGION}),
    ):
        response = send(http, out)
        body = envelope(response)
        assert (response.status_code, body["Code"]) == (404, "InvalidAction.NotFound")
        assert body["Message"] == "Specified api is not found, please check your url and method."


def test_other_paths_are_404(http: httpx.Client) -> None:
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED})
    response = http.request("POST", "/api" + out.target[1:], headers=list(out.headers))
    assert (response.status_code, envelope(response)["Code"]) == (404, "InvalidAction.NotFound")


def test_bad_version(server: InProcess, http: httpx.Client) -> None:
    for out in (
        v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED}, version="2016-03-14"),
        acs3(HOST, "CancelTask", {"RegionId": REGION, "TaskId": FINISHED}, version="1.0"),
    ):
        response = send(http, out)
        body = envelope(response)
        assert (response.status_code, body["Code"]) == (400, "InvalidVersion")
        assert body["Message"] == "Specified parameter Version is not valid."


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
def test_unsupported_methods(http: httpx.Client, method: str) -> None:
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED}, method=method)
    response = send(http, out)
    body = envelope(response)
    assert body["Code"] == "UnsupportedHTTPMethod"
    assert response.status_code == 403  # the ECS table's status (UnsupportedHTTPMethod)
    assert body["Message"] == "This HTTP method is not supported."


def test_get_works_as_well_as_post(server: InProcess, http: httpx.Client) -> None:
    response = send(http, v1("DescribeTasks", {"RegionId": REGION}, method="GET"))
    assert response.status_code == 200
    assert response.json()["RegionId"] == REGION


def test_parameters_in_a_form_body(http: httpx.Client) -> None:
    """V1 parameters may travel in an x-www-form-urlencoded body; they are signed too."""
    task_id = fresh_task()
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": task_id})
    form = out.target.removeprefix("/?")

    response = http.post(
        "/", content=form, headers={"content-type": "application/x-www-form-urlencoded"}
    )

    assert response.status_code == 200, response.text
    assert REQUEST_ID.fullmatch(response.json()["RequestId"])
    attribute = send(http, v1("DescribeTaskAttribute", {"RegionId": REGION, "TaskId": task_id}))
    assert attribute.json()["TaskStatus"] == "Deleted"


def test_tampered_parameter_is_signature_does_not_match(http: httpx.Client) -> None:
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED})
    target = out.target.replace(f"TaskId={FINISHED}", f"TaskId={fresh_task()}")
    assert target != out.target

    response = http.request(out.method, target, headers=list(out.headers))

    body = envelope(response)
    assert (response.status_code, body["Code"]) == (400, "SignatureDoesNotMatch")
    # The message echoes the server's string to sign after a ':' (the old SDK needs it).
    prefix = "Specified signature is not matched with our calculation. server string to sign is:"
    assert body["Message"].startswith(prefix)
    assert body["Message"][len(prefix) :].startswith("POST&%2F&AccessKeyId%3Dtestid")


def test_xml_success(http: httpx.Client) -> None:
    response = send(
        http,
        v1("CancelTask", {"RegionId": REGION, "TaskId": fresh_task()}, response_format="XML"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml;charset=utf-8"
    assert response.content.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "CancelTaskResponse"
    assert root.findtext("RequestId") == response.headers["x-acs-request-id"]


def test_xml_describe_tasks_repeats_task_elements(http: httpx.Client) -> None:
    response = send(
        http,
        v1(
            "DescribeTasks",
            {"RegionId": REGION, "TaskIds": f"{FINISHED},{FRESH[-1]}"},
            response_format="XML",
        ),
    )
    root = ElementTree.fromstring(response.content)
    assert root.tag == "DescribeTasksResponse"
    ids = {task.findtext("TaskId") for task in root.iterfind("TaskSet/Task")}
    assert ids == {FINISHED, FRESH[-1]}
    assert root.findtext("TotalCount") == "2"


@pytest.mark.parametrize("fmt", ["XML", "xml"])
def test_xml_error(http: httpx.Client, fmt: str) -> None:
    response = send(
        http, v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED}, response_format=fmt)
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/xml;charset=utf-8"
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "IncorrectTaskStatus"
    assert root.findtext("Message") == "The specified task status is not invalid."
    assert root.findtext("RequestId") == response.headers["x-acs-request-id"]
    assert root.findtext("HostId")
    assert "IncorrectTaskStatus" in (root.findtext("Recommend") or "")


def test_gateway_errors_also_come_in_xml(server: InProcess, http: httpx.Client) -> None:
    out = v1(
        "CancelTask",
        {"RegionId": REGION, "TaskId": FINISHED},
        response_format="XML",
        version="1999-01-01",
    )
    response = send(http, out)
    assert response.headers["content-type"] == "text/xml;charset=utf-8"
    assert ElementTree.fromstring(response.content).findtext("Code") == "InvalidVersion"


def test_oversized_body_is_a_4xx(http: httpx.Client) -> None:
    out = v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED})
    response = http.request(
        "POST",
        out.target,
        headers={"content-type": "application/x-www-form-urlencoded"},
        content=b"a=" + b"x" * (wire.DEFAULT_LIMITS.max_body_bytes + 10),
    )
    body = envelope(response)
    assert (response.status_code, body["Code"]) == (413, "RequestTooLarge")


def test_missing_protocol_parameter_is_named(http: httpx.Client) -> None:
    response = http.post("/?" + urlencode({"Action": "CancelTask", "Version": "2014-05-26"}))
    body = envelope(response)
    assert body["Code"] == "MissingAccessKeyId"
    assert body["Message"] == "AccessKeyId is mandatory for this action."


@pytest.fixture
def throttled(server: InProcess) -> Iterator[InProcess]:
    server.ops.set_faults(Faults(throttle_rate=1.0, retry_after_ms=1500))
    try:
        yield server
    finally:
        server.ops.set_faults(NO_FAULTS)


def test_throttling_over_http(throttled: InProcess, http: httpx.Client) -> None:
    response = send(http, v1("DescribeTasks", {"RegionId": REGION}))
    body = envelope(response)
    assert (response.status_code, body["Code"]) == (400, "Throttling.User")
    assert body["Message"] == "Request was denied due to user flow control."
    assert response.headers["x-acs-retry-after"] == "1500"


def test_throttling_stops_when_the_fault_is_cleared(server: InProcess) -> None:
    server.ops.set_faults(Faults(throttle_rate=1.0, retry_after_ms=1500))
    server.ops.set_faults(NO_FAULTS)
    still_serves(server)


def test_accounts_are_isolated(http: httpx.Client) -> None:
    def ids(key: tuple[str, str]) -> set[str]:
        response = send(http, v1("DescribeTasks", {"RegionId": REGION, "PageSize": "100"}, key=key))
        assert response.status_code == 200
        return {task["TaskId"] for task in response.json()["TaskSet"]["Task"]}

    mine, theirs = ids(("testid", "testsecret")), ids(("other", "othersecret"))
    assert theirs == {OTHER_TASK}
    assert OTHER_TASK not in mine
    assert FINISHED in mine

    other_reads_mine = send(
        http,
        v1(
            "DescribeTaskAttribute",
            {"RegionId": REGION, "TaskId": FINISHED},
            key=("other", "othersecret"),
        ),
    )
    assert envelope(other_reads_mine)["Code"] == "InvalidTaskId.NotFound"


def test_one_accounts_secret_does_not_sign_for_another(http: httpx.Client) -> None:
    response = send(http, v1("DescribeTasks", {"RegionId": REGION}, key=("other", "testsecret")))
    assert envelope(response)["Code"] == "SignatureDoesNotMatch"


def test_host_id_is_the_endpoint_host(server: InProcess, http: httpx.Client) -> None:
    body = envelope(send(http, v1("CancelTask", {"RegionId": REGION, "TaskId": FINISHED})))
    assert body["HostId"] == "127.0.0.1"


class _ExplodingStore(MemoryStore):
    """A store whose cancel fails unexpectedly (a bug or a broken disk)."""

    def cancel(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")


def test_an_unexpected_server_error_is_an_internal_error_envelope() -> None:
    store = _ExplodingStore(gateway_world().tasks, regions=gateway_world().regions)
    server = build_app(gateway_world(), store=store)
    with server.client() as client:
        response = send(client, v1("CancelTask", {"RegionId": REGION, "TaskId": FRESH[0]}))
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        body = response.json()
        assert body["Code"] == "InternalError"
        assert body["Message"] == (
            "The request processing has failed due to some unknown error, exception or failure."
        )
        assert body["RequestId"] == response.headers["x-acs-request-id"]
        assert "disk on fire" not in response.text
        assert "Traceback" not in response.text
        # Other actions still work.
        ok = send(client, v1("DescribeTasks", {"RegionId": REGION}))
        assert ok.status_code == 200
