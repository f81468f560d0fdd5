"""Reading requests off one connection (fake transport): framing, budgets, pipelining,
refusals after the answers owed, bytes after a closing request, RFC 9112 edges, TLS."""

from __future__ import annotations

import logging

import pytest
from support.fakes import FakeApp, ManualExecutor, connect, get, post, replies

from taskcancel import wire
from taskcancel.server._connection import TLS_ON_PLAIN_PORT


def test_pipelined_requests_in_one_read_are_answered_in_order() -> None:
    client = connect()
    client.send(get("/a") + get("/b") + get("/c"))
    assert [r.body for r in client.answers()] == [b"/a", b"/b", b"/c"]
    assert not client.transport.closed


def test_a_request_split_byte_by_byte_is_answered_once() -> None:
    client = connect()
    for byte in post("/x", b"hello"):
        client.send(bytes([byte]))
    (reply,) = client.answers()
    assert reply.status == 200
    assert client.connection.app.seen[0].body == b"hello"  # type: ignore[attr-defined]


def test_a_large_body_is_not_charged_to_the_next_requests_framing_budget() -> None:
    """A 40,000-byte body, then a request whose body comes in a second read."""
    client = connect()
    client.send(post("/first", b"a" * 40_000))
    second = post("/second", b"b" * 20)
    client.send(second[:-10])
    client.send(second[-10:])
    assert [(r.status, r.body) for r in client.answers()] == [(200, b"/first"), (200, b"/second")]
    assert client.connection.app.seen[1].body == b"b" * 20  # type: ignore[attr-defined]


def test_large_bodies_back_to_back_in_pieces_are_all_answered() -> None:
    client = connect()
    data = b"".join(post(f"/{i}", bytes([65 + i]) * 50_000) for i in range(3))
    for start in range(0, len(data), 7_001):
        client.send(data[start : start + 7_001])
    assert [r.body for r in client.answers()] == [b"/0", b"/1", b"/2"]


def test_chunk_framing_past_the_head_budget_is_refused() -> None:
    client = connect()
    budget = client.shared.max_head
    chunks = b"1;" + b"e" * 1000 + b"\r\nx\r\n"
    body = chunks * (budget // len(chunks) + 2)  # and more to come: it is not over
    client.send(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    (reply,) = client.answers()
    assert reply.status == 413
    assert "chunk framing and trailers" in reply.json()["Message"]
    assert client.transport.eof


def test_a_chunked_body_within_budget_is_read() -> None:
    client = connect()
    client.send(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    client.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + get("/next"))
    assert [r.body for r in client.answers()] == [b"/x", b"/next"]
    assert client.connection.app.seen[0].body == b"hello world"  # type: ignore[attr-defined]


def test_an_endless_head_is_refused_at_the_head_budget() -> None:
    client = connect()
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")
    client.send(b"X-Long: " + b"a" * (client.shared.max_head + 10))
    (reply,) = client.answers()
    assert reply.status == 413
    assert "request head" in reply.json()["Message"]


def test_a_body_over_the_limit_is_refused_before_it_is_read() -> None:
    client = connect()
    limit = wire.DEFAULT_LIMITS.max_body_bytes
    client.send(f"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {limit + 1}\r\n\r\n".encode())
    (reply,) = client.answers()
    assert reply.status == 413
    assert client.connection.app.seen == []  # type: ignore[attr-defined]


def test_a_refusal_comes_after_the_answers_to_earlier_pipelined_requests() -> None:
    app = FakeApp(blocking=True)
    client = connect(app)
    client.send(get("/a") + get("/b") + b"NOT HTTP AT ALL\r\n\r\n")
    assert client.answers() == []  # /a is in a worker thread: nothing may overtake it
    pool: ManualExecutor = client.pool
    pool.run_next()
    client.loop.run_ready()
    pool.run_next()
    client.loop.run_ready()
    answers = client.answers()
    assert [r.status for r in answers] == [200, 200, 400]
    assert [r.body for r in answers[:2]] == [b"/a", b"/b"]
    assert answers[2].json()["Code"] == "InvalidParameter.Format"
    assert client.transport.eof


@pytest.mark.parametrize(
    "after",
    [get("/second"), b"x", b"\r\n" + get("/second")],
    ids=["a request", "one stray byte", "a CRLF and a request"],
)
@pytest.mark.parametrize(
    "closing",
    [get("/first", extra="Connection: close\r\n"), get("/first", version="1.0")],
    ids=["connection-close", "http/1.0"],
)
def test_bytes_after_a_request_that_closes_are_dropped_quietly(
    closing: bytes, after: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskcancel")
    client = connect()
    client.send(closing + after)
    client.send(get("/third"))  # a later read, while lingering
    assert [r.body for r in client.answers()] == [b"/first"]
    assert [r.target for r in client.connection.app.seen] == [b"/first"]  # type: ignore[attr-defined]
    assert client.transport.eof
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_transfer_encoding_in_http10_closes_after_that_message() -> None:
    client = connect()
    chunked = (
        b"POST /one HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    client.send(chunked + get("/smuggled", version="1.0"))
    (reply,) = client.answers()
    assert reply.body == b"/one"
    assert [r.target for r in client.connection.app.seen] == [b"/one"]  # type: ignore[attr-defined]
    assert client.transport.eof


def test_expect_100_continue_is_answered_in_http11_and_ignored_in_http10() -> None:
    for version, continues in (("1.1", True), ("1.0", False)):
        client = connect()
        client.send(
            f"POST /x HTTP/{version}\r\nHost: x\r\nContent-Length: 3\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert client.transport.written.startswith(b"HTTP/1.1 100 Continue") is continues
        client.send(b"abc")
        assert [r.body for r in replies(client.transport.take())] == [b"/x"]


def test_http11_without_host_is_a_400_and_http10_without_host_is_served() -> None:
    client = connect()
    client.send(b"GET /state HTTP/1.1\r\n\r\n")
    (reply,) = client.answers()
    assert reply.status == 400
    assert reply.json()["Code"] == "InvalidParameter.Format"
    assert "Host" in reply.json()["Message"]
    assert client.connection.app.seen == []  # type: ignore[attr-defined]

    client = connect()
    client.send(b"GET /state HTTP/1.0\r\n\r\n")
    assert [r.status for r in client.answers()] == [200]


def test_a_tls_client_hello_logs_one_warning_and_closes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="taskcancel")
    client = connect()
    client.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64))
    client.send(bytes(100))  # the rest of the handshake: dropped
    (reply,) = client.answers()  # as the HTTP it is not: the client sees a bad TLS record
    assert reply.status == 400 and "set protocol HTTP" in reply.json()["Message"]
    assert client.transport.eof
    client.loop.advance(1.1)
    assert client.transport.closed
    assert [r.getMessage() for r in caplog.records] == [TLS_ON_PLAIN_PORT]
    assert caplog.records[0].levelno == logging.WARNING
    assert client.connection.app.seen == []  # type: ignore[attr-defined]


def test_bytes_that_are_not_http_are_refused_with_an_aliyun_error() -> None:
    client = connect()
    client.send(b"HELLO\x00\x01\r\n\r\n")
    (reply,) = client.answers()
    assert reply.status == 400
    assert set(reply.json()) >= {"RequestId", "HostId", "Code", "Message"}


@pytest.mark.parametrize(
    "framing",
    [
        b"content-length: 5\r\n\r\nhello",
        b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_an_upgrade_request_with_a_body_gets_one_refusal_and_is_not_carried_out(
    framing: bytes,
) -> None:
    client = connect()
    client.send(
        b"POST /x HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n" + framing
    )
    (reply,) = client.answers()  # one answer, not the action's and then a refusal
    assert reply.status == 400
    assert b"may not carry a body" in reply.body
    assert client.connection.app.seen == []  # type: ignore[attr-defined]
