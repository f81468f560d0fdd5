"""A connection's time (manual clock): deadlines, idle keep-alive, lingering close, stopping."""

from __future__ import annotations

from support.fakes import FakeApp, connect, get


def test_a_request_still_arriving_at_its_deadline_gets_408_and_the_connection_closes() -> None:
    client = connect(request_timeout=30.0)
    client.loop.advance(1.0)
    client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
    client.loop.advance(28.9)
    assert client.answers() == []
    client.loop.advance(0.2)  # 30 s after the connection opened
    (reply,) = client.answers()
    assert reply.status == 408
    assert reply.json()["Code"] == "RequestTimeout"
    assert client.transport.eof


def test_a_later_requests_deadline_runs_from_its_first_byte() -> None:
    client = connect(request_timeout=30.0, keep_alive=60.0)
    client.send(get("/a"))
    client.loop.advance(20.0)
    client.send(b"GET /b HTTP/1.1\r\n")
    client.loop.advance(29.0)
    assert [r.status for r in client.answers()] == [200]
    client.loop.advance(1.5)
    assert [r.status for r in client.answers()] == [408]


def test_a_client_that_stops_taking_answers_is_cut_off_at_the_deadline() -> None:
    client = connect(request_timeout=30.0)
    client.transport.stop_reading()
    client.send(get("/a"))
    assert client.answers() == []  # not answered while the client is not reading
    client.loop.advance(29.0)
    assert not client.transport.aborted
    client.loop.advance(1.5)
    assert client.transport.aborted


def test_the_first_idle_period_after_an_answer_lasts_keep_alive_not_the_request_timeout() -> None:
    client = connect(request_timeout=30.0, keep_alive=5.0)
    client.loop.advance(0.5)
    client.send(get("/a"))
    assert [r.status for r in client.answers()] == [200]
    client.loop.advance(4.9)
    assert not client.transport.closed
    client.loop.advance(0.2)  # 5 s after the answer
    assert client.transport.closed
    assert not client.transport.aborted


def test_each_idle_period_lasts_keep_alive_after_the_last_answer() -> None:
    client = connect(request_timeout=30.0, keep_alive=5.0)
    for _ in range(4):
        client.loop.advance(3.7)
        client.send(get("/a"))
        assert [r.status for r in client.answers()] == [200]
    client.loop.advance(4.95)
    assert not client.transport.closed
    client.loop.advance(0.1)
    assert client.transport.closed


def test_a_closing_answer_is_followed_by_eof_then_a_lingering_read_then_a_close() -> None:
    client = connect()
    client.send(get("/a", extra="Connection: close\r\n"))
    (reply,) = client.answers()
    assert reply.headers["connection"] == "close"
    assert client.transport.eof and client.transport.reading and not client.transport.closed
    client.send(b"whatever the client still sends")  # read and dropped
    client.loop.advance(0.9)
    assert not client.transport.closed
    client.loop.advance(0.2)
    assert client.transport.closed and not client.transport.aborted


def test_a_lingering_connection_closes_as_soon_as_the_client_does() -> None:
    client = connect()
    client.send(get("/a", extra="Connection: close\r\n"))
    client.connection.eof_received()
    assert client.transport.closed


def test_stopping_closes_an_idle_keep_alive_connection_at_once() -> None:
    client = connect()
    client.send(get("/a"))
    client.answers()
    client.connection.shutdown()
    assert client.transport.closed
    assert not client.transport.eof  # owed nothing: no lingering


def test_stopping_closes_a_connection_that_never_sent_a_byte_at_once() -> None:
    client = connect()
    client.connection.shutdown()
    assert client.transport.closed


def test_stopping_finishes_the_answer_owed_then_closes_it() -> None:
    client = connect(FakeApp(blocking=True))
    client.send(get("/a"))
    client.connection.shutdown()
    assert not client.transport.closed
    client.pool.run_next()
    client.loop.run_ready()
    (reply,) = client.answers()
    assert reply.headers["connection"] == "close"
    assert client.transport.eof


def test_stopping_mid_request_reads_no_more_and_closes_after_the_lingering_read() -> None:
    client = connect()
    client.send(b"GET /a HTTP/1.1\r\n")
    client.connection.shutdown()
    assert client.transport.eof  # the request cut short is not carried out
    client.send(b"Host: x\r\n\r\n" + get("/b"))  # read while lingering, and dropped
    assert client.answers() == []
    assert client.connection.app.seen == []  # type: ignore[attr-defined]
    client.loop.advance(1.1)
    assert client.transport.closed
