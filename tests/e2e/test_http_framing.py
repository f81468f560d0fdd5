"""The connection layer over real sockets: HTTP framing, limits, timeouts, pipelining.

Runs :class:`taskcancel.testing.EmulatorServer` (the same app and connection layer as
``taskcancel serve``, in a thread) and talks to it with raw sockets and httpx.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support.gateway import FINISHED, REGION, gateway_world, v1
from support.serve import REQUEST_ID

from taskcancel import Task, wire
from taskcancel.testing import EmulatorServer


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(gateway_world()) as running:
        yield running


@pytest.fixture
def serves_afterwards(server: EmulatorServer) -> Iterator[None]:
    """After the test (all its hypothesis examples), a valid signed call still succeeds."""
    yield
    still_serves(server)


def still_serves(server: EmulatorServer) -> None:
    """A valid signed call still succeeds."""
    with server.client() as client:
        page = client.describe_tasks(REGION, task_ids=[FINISHED])
    assert [task.task_id for task in page.tasks] == [FINISHED]


# ------------------------------------------------------------------ raw socket robustness


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(port: int, data: bytes) -> RawResponse:
    """Write ``data`` on a fresh connection and read one complete HTTP response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The server may answer (and close) before reading everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        responses = _read_responses(sock, 1)
    assert responses, "connection closed without a response"
    return responses[0]


def _read_responses(sock: socket.socket, count: int) -> list[RawResponse]:
    """Up to ``count`` complete responses, in order, until the server closes."""
    buffer, responses = b"", list[RawResponse]()
    while len(responses) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return responses
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
        responses.append(RawResponse(int(lines[0].split(" ", 2)[1]), headers, body))
    return responses


def assert_aliyun_error_or_framing_rejection(response: RawResponse) -> None:
    """4xx, always with a full Aliyun envelope (JSON, or XML if Format=XML was asked):
    even a request whose HTTP framing the parser refuses, which never reaches the app,
    gets ``InvalidParameter.Format`` from taskcancel's connection layer."""
    assert 400 <= response.status < 500, response
    content_type = response.headers.get("content-type", "")
    if content_type == wire.XML_CONTENT_TYPE:
        root = ElementTree.fromstring(response.body)
        assert root.tag == "Error"
        assert {"RequestId", "HostId", "Code", "Message"} <= {child.tag for child in root}
        return
    assert content_type == wire.JSON_CONTENT_TYPE, response
    body = json.loads(response.body)
    assert {"RequestId", "HostId", "Code", "Message"} <= body.keys(), body
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert body["Code"] and body["Message"]


_QUERY_PIECES = st.sampled_from(
    [
        b"%",
        b"%zz",
        b"%ff",
        b"%C3",
        b"%00",
        b"+",
        b"=",
        b"&",
        b"&&",
        b"?",
        b"/",
        b"#",
        b";",
        b"%C3%A9",
        b"Action=CancelTask",
        b"Action=",
        b"Version=2014-05-26",
        b"Format=XML",
        b"Format=xml",
        b"Format=yaml",
        b"RegionId=cn-hangzhou",
        b"TaskId=t-http-000",
        b"AccessKeyId=testid",
        b"SignatureMethod=HMAC-SHA1",
        b"SignatureVersion=1.0",
        b"SignatureNonce=abc",
        b"Timestamp=2026-11-28T15%3A15%3A45Z",
        b"Signature=xyz%3D",
        b"PageSize=99999999999999999999",
    ]
)
# Mostly bytes that survive HTTP framing (so the app, not the HTTP parser, answers),
# plus a share of raw bytes that the HTTP parser refuses.
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "#")
_url_text = st.text(alphabet=_URL_SAFE, max_size=40).map(str.encode)
_query_text = st.lists(st.one_of(_QUERY_PIECES, _url_text), max_size=12).map(b"".join)
_queries = st.one_of(
    _query_text,
    _query_text,
    _query_text,
    _query_text,
    st.binary(max_size=64).map(lambda b: bytes(c for c in b if c not in b" \r\n")),
    st.integers(8200, 9000).map(lambda n: b"a=" + b"x" * n),  # beyond Limits.max_query_bytes
)
_paths = st.one_of(
    st.just(b"/"),
    st.just(b"/"),
    st.sampled_from([b"", b"//", b"/api", b"/%2F", b"/..", b"*", b"/\xff", b"/%zz"]),
)
# Methods the HTTP parser knows reach the app; "BREW" and lower-case ones do not.
_methods = st.sampled_from(
    [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"BREW", b"get"]
)
_HEADER_NAMES = [
    b"Host",
    b"Authorization",
    b"Content-Type",
    b"Accept",
    b"x-acs-action",
    b"x-acs-version",
    b"x-acs-date",
    b"x-acs-signature-nonce",
    b"x-acs-content-sha256",
    b"x-acs-security-token",
    b"X-Junk",
]
_header_values = st.one_of(
    st.sampled_from(
        [
            b"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-date,Signature=00",
            b"ACS3-HMAC-SHA256 junk",
            b"ACS3-HMAC-SM3 Credential=testid,SignedHeaders=,Signature=",
            b"ACS3-",
            b"application/x-www-form-urlencoded",
            b"application/x-www-form-urlencoded; charset=latin-1",
            b"CancelTask",
            b"2014-05-26",
            b"2026-11-28T15:15:45Z",
            b"not-a-date",
            "caf\u00e9 \u2603".encode(),
        ]
    ),
    st.text(alphabet=_URL_SAFE + " ", max_size=40).map(lambda t: t.strip().encode()),
)
_junk_header_value = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c not in b"\r\n\x00").strip(b" \t")
)
# Printable header values, and at most one header of raw bytes.
_headers = st.tuples(
    st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _header_values), max_size=8),
    st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _junk_header_value), max_size=1),
).map(lambda parts: parts[0] + parts[1])
_bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=256),
    st.lists(_QUERY_PIECES, max_size=10).map(b"".join),
    st.lists(_QUERY_PIECES, max_size=10).map(b"".join),
    st.integers(65537, 70000).map(lambda n: b"a=" + b"x" * n),  # beyond max_body_bytes
)


@pytest.mark.usefixtures("serves_afterwards")
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=_methods, path=_paths, query=_queries, headers=_headers, body=_bodies)
def test_any_request_gets_a_4xx_aliyun_error(
    server: EmulatorServer,
    method: bytes,
    path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    """Whatever arrives, unsigned: a 4xx with the RequestId/HostId/Code/Message envelope,
    never a 5xx or a traceback. (Requests whose framing the parser refuses get the
    plain-text 400 instead; see :func:`assert_aliyun_error_or_framing_rejection`.)"""
    target = path + (b"?" + query if query else b"")
    lines = [method + b" " + (target or b"/") + b" HTTP/1.1"]
    if not any(name == b"Host" for name, _ in headers):
        lines.append(b"Host: 127.0.0.1")
    lines += [name + b": " + value for name, value in headers]
    if method != b"GET" or body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + (body if method != b"GET" or body else b"")

    response = exchange(server.port, data)
    content_type = response.headers.get("content-type", "")
    code = json.loads(response.body).get("Code") if "json" in content_type else ""
    event(f"{response.status} {content_type} {code}")
    assert_aliyun_error_or_framing_rejection(response)


def test_server_still_serves_after_the_garbage(server: EmulatorServer) -> None:
    for data in (
        b"garbage\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
        + b"\r\n",
    ):
        assert 400 <= exchange(server.port, data).status < 500
    still_serves(server)


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        (b"X-A: " + b"a" * 20_000 + b"\r\n", "header bytes"),
        (b"".join(b"X-%d: 1\r\n" % i for i in range(150)), "header count"),
    ],
)
def test_oversized_headers_are_request_too_large(
    server: EmulatorServer, extra: bytes, what: str
) -> None:
    response = exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
    assert response.status == 413
    body = json.loads(response.body)
    assert body["Code"] == "RequestTooLarge"
    assert what in body["Message"]


@pytest.fixture
def throttled(server: EmulatorServer) -> Iterator[EmulatorServer]:
    server.set_faults(throttle_rate=1.0, retry_after_ms=1500)
    try:
        yield server
    finally:
        server.set_faults(throttle_rate=0.0)


def test_throttling_is_a_throttling_exception_in_the_new_sdk(
    throttled: EmulatorServer, no_proxy_env: None
) -> None:
    from alibabacloud_ecs20140526 import models as ecs
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.exceptions import ThrottlingException

    client = EcsClient(throttled.sdk_config())
    with pytest.raises(ThrottlingException) as caught:
        client.cancel_task(ecs.CancelTaskRequest(region_id=REGION, task_id=FINISHED))
    assert caught.value.retry_after == 1500
    assert caught.value.code == "Throttling.User"
    assert caught.value.status_code == 400


def test_garbage_that_is_not_http_gets_an_aliyun_envelope(server: EmulatorServer) -> None:
    response = exchange(server.port, b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
    assert response.status == 400
    assert json.loads(response.body)["Code"] == "InvalidParameter.Format"
    assert response.headers["connection"] == "close"


def test_an_endless_request_head_is_cut_off_with_request_too_large(
    server: EmulatorServer,
) -> None:
    """The parser would buffer headers without limit; the emulator stops reading them."""
    header = b"x-filler: " + b"a" * 8000 + b"\r\n"
    head = b"GET /?Action=CancelTask HTTP/1.1\r\nhost: 127.0.0.1\r\n" + header * 200
    response = exchange(server.port, head)  # 1.6 MB of headers, never finished
    assert response.status == 413
    assert json.loads(response.body)["Code"] == "RequestTooLarge"
    still_serves(server)


# ----------------------------------- connection guards (taskcancel.server._connection)


def _running(task_id: str) -> Task:
    return Task(task_id=task_id, region_id=REGION, action="ImportImage", status="Processing")


def _raw_request(out: wire.OutgoingRequest, *, extra: bytes = b"", length: int = 0) -> bytes:
    head = f"{out.method} {out.target} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode()
    head += b"".join(f"{k}: {v}\r\n".encode() for k, v in out.headers if k != "host")
    return head + b"content-length: %d\r\n" % length + extra + b"\r\n"


def _status_of(server: EmulatorServer, task_id: str) -> str:
    with server.client() as client:
        return client.describe_task_attribute(REGION, task_id).status.value


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\n", b"POST /?Action=CancelTask HTTP/1.1"])
def test_a_request_that_never_arrives_in_full_times_out(sent: bytes) -> None:
    with (
        EmulatorServer(request_timeout=0.2) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(sent)
        (response,) = _read_responses(sock, 1)
        assert sock.recv(1) == b""  # and the connection is closed
    assert response.status == 408
    assert json.loads(response.body)["Code"] == "RequestTimeout"
    assert response.headers["connection"] == "close"


def test_a_keep_alive_connection_may_idle_between_requests_longer_than_the_timeout() -> None:
    with (
        EmulatorServer(request_timeout=0.2) as server,
        httpx.Client(base_url=server.endpoint, trust_env=False) as http,
    ):
        ports = []
        for _ in range(2):
            out = v1("DescribeTasks", {"RegionId": REGION})
            response = http.request(out.method, out.target, headers=list(out.headers))
            assert response.status_code == 200, response.text
            ports.append(response.extensions["network_stream"].get_extra_info("client_addr"))
            time.sleep(0.4)  # idle for twice the request timeout (below keep-alive's 5 s)
        assert ports[0] is not None and ports[0] == ports[1]  # one connection served both


def test_a_body_shorter_than_its_content_length_times_out_and_is_not_carried_out() -> None:
    with EmulatorServer([_running("t-slow-body")], request_timeout=0.2) as server:
        out = v1("CancelTask", {"RegionId": REGION, "TaskId": "t-slow-body"})
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_raw_request(out, length=100) + b"0123456789")
            (response,) = _read_responses(sock, 1)
        assert json.loads(response.body)["Code"] == "RequestTimeout"
        assert _status_of(server, "t-slow-body") == "Processing"


def test_a_request_abandoned_mid_body_is_not_carried_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="taskcancel.server")
    with EmulatorServer([_running("t-abandoned")]) as server:
        out = v1("CancelTask", {"RegionId": REGION, "TaskId": "t-abandoned"})
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_raw_request(out, length=1000) + b"0123456789")
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not any("client disconnected" in r.getMessage() for r in caplog.records):
            assert datetime.now(UTC) < deadline, [r.getMessage() for r in caplog.records]
            with server.client() as client:  # a round trip lets the server run meanwhile
                client.describe_tasks(REGION)
        assert _status_of(server, "t-abandoned") == "Processing"


def test_past_max_connections_a_new_connection_is_told_service_unavailable() -> None:
    with EmulatorServer(max_connections=2) as server:
        address = ("127.0.0.1", server.port)
        with (
            socket.create_connection(address, timeout=10) as first,
            socket.create_connection(address, timeout=10) as second,
        ):
            first.sendall(b"GET / HTTP/1.1\r\n")  # both held open, neither finished
            second.sendall(b"GET / HTTP/1.1\r\n")
            with socket.create_connection(address, timeout=10) as third:
                (response,) = _read_responses(third, 1)
        assert response.status == 503
        assert json.loads(response.body)["Code"] == "ServiceUnavailable"
        # Once those two leave, a signed call is served again (this world has no tasks).
        with server.client() as client:
            page = client.describe_tasks(REGION)
        assert (page.total_count, list(page.tasks)) == (0, [])


def test_a_websocket_upgrade_is_answered_like_any_plain_request(server: EmulatorServer) -> None:
    response = exchange(
        server.port,
        b"GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n",
    )
    assert response.status == 400
    assert json.loads(response.body)["Code"] == "MissingAction"


def test_garbage_after_a_pipelined_request_comes_after_that_requests_answer() -> None:
    with EmulatorServer([_running("t-pipelined")]) as server:
        out = v1("CancelTask", {"RegionId": REGION, "TaskId": "t-pipelined"})
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_raw_request(out) + b"JUNK\r\n\r\n")
            responses = _read_responses(sock, 3)
        assert [r.status for r in responses] == [200, 400]
        assert REQUEST_ID.fullmatch(json.loads(responses[0].body)["RequestId"])
        assert json.loads(responses[1].body)["Code"] == "InvalidParameter.Format"
        assert _status_of(server, "t-pipelined") == "Deleted"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"request_timeout": 0}, "request_timeout"),
        ({"request_timeout": -1.5}, "request_timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
    ],
)
def test_unusable_connection_guards_are_refused_up_front(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        EmulatorServer(**options)


# Edge cases of the guards above: each of these must not hang, time out wrongly,
# answer twice, drop a request or log a traceback.


def test_a_stray_crlf_after_a_response_does_not_hold_the_connection_open() -> None:
    with EmulatorServer(request_timeout=0.2) as server:
        out = v1("DescribeTasks", {"RegionId": REGION})
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_raw_request(out))
            (answer,) = _read_responses(sock, 1)
            sock.sendall(b"\r\n")  # llhttp skips it: no request begins, yet bytes came
            rest = _read_responses(sock, 2)
        assert answer.status == 200
        assert [json.loads(r.body)["Code"] for r in rest] == ["RequestTimeout"]


def test_a_request_queued_behind_a_slow_one_is_not_timed_out_while_unread() -> None:
    with EmulatorServer(request_timeout=0.2) as server:
        server.set_faults(latency_ms=500)  # the first outlasts the third's time limit
        first, second, third = (
            _raw_request(v1("DescribeTasks", {"RegionId": REGION})) for _ in range(3)
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(first)
            time.sleep(0.05)  # separate segments: the server stops reading after `second`
            sock.sendall(second + third[:10])
            time.sleep(0.05)
            sock.sendall(third[10:])
            responses = _read_responses(sock, 3)
        assert [r.status for r in responses] == [200, 200, 200]


def test_a_body_refused_early_as_too_large_gets_one_answer_not_two() -> None:
    with EmulatorServer(request_timeout=0.3) as server:
        out = v1("DescribeTasks", {"RegionId": REGION})
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_raw_request(out, length=200_000) + b"x" * 70_000)
            responses = _read_responses(sock, 2)  # until the server closes
        assert [(r.status, json.loads(r.body)["Code"]) for r in responses] == [
            (413, "RequestTooLarge")
        ]


@pytest.mark.parametrize("upgrade", [b"h2c", b"websocket"])
def test_a_request_pipelined_after_an_upgrade_request_is_answered(
    server: EmulatorServer, upgrade: bytes
) -> None:
    asking = _raw_request(
        v1("DescribeTasks", {"RegionId": REGION}),
        extra=b"connection: Upgrade\r\nupgrade: " + upgrade + b"\r\n",
    )
    plain = _raw_request(v1("DescribeTasks", {"RegionId": REGION}))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(asking + plain)
        responses = _read_responses(sock, 2)
    assert [r.status for r in responses] == [200, 200]


def test_closing_while_pipelined_requests_are_answered_logs_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server_log = logging.getLogger("taskcancel")
    try:
        with EmulatorServer() as server:
            server_log.addHandler(caplog.handler)
            server.set_faults(latency_ms=300)
            two = b"".join(
                _raw_request(v1("DescribeTasks", {"RegionId": REGION})) for _ in range(2)
            )
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(two)
                time.sleep(0.05)  # the first is in the app, the second queued, then we leave
            with server.client() as client:  # started later, so answered after the first
                client.describe_tasks(REGION)
    finally:
        server_log.removeHandler(caplog.handler)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_malformed_body_of_a_request_already_in_the_app_is_refused_at_once(
    server: EmulatorServer,
) -> None:
    # The app starts once the head is in, then waits for the body the parser rejects.
    response = exchange(
        server.port, b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nZZZ\r\n"
    )
    assert (response.status, json.loads(response.body)["Code"]) == (
        400,
        "InvalidParameter.Format",
    )


def test_a_malformed_body_behind_a_slow_request_is_refused_after_its_answer() -> None:
    with EmulatorServer() as server:
        server.set_faults(latency_ms=300)
        slow = _raw_request(v1("DescribeTasks", {"RegionId": REGION}))
        broken = b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nZZZ\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(slow + broken)
            responses = _read_responses(sock, 3)
        assert [r.status for r in responses] == [200, 400]
